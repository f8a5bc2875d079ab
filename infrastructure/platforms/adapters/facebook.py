"""Facebook Pages (the Graph API, with the page's token, sealed like any credential): a text
post is POST /{page}/feed; one photo is POST /{page}/photos (the file fetched from its signed
URL, with its alt text); several photos are uploaded unpublished first (not visible: they may
be repeated, and each is recorded), then one /feed post attaches them. Facebook takes no
idempotency key: the reconciler reads the page's feed since the attempt and matches the text.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial

from domain.content import Content, MediaRef, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, Search, Upload
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.adapters.graph_api import VERSION, comment, graph_error, recent
from infrastructure.platforms.http import Answer, Http, at_part, observed
from infrastructure.platforms.media_steps import uploaded
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed, RefreshFailed

UNPUBLISHED_KEPT = timedelta(hours=24)  # an unpublished photo is reused for a day at most


class FacebookAdapter:
    platform = Platform.FACEBOOK
    limits = QUOTAS[Platform.FACEBOOK]
    has_refresh = False  # page tokens do not expire; a revoked one needs a reconnect

    def __init__(self, http: Http, clock: Clock, files: MediaSource | None = None) -> None:
        self.http = http
        self.clock = clock
        self.files = files

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.FACEBOOK))

    @staticmethod
    def _auth(account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    def _page(self, account: AccountAccess) -> str:
        return f"{account.base_url}/{VERSION}/{account.remote_user_id}"

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        media = intent.content.media
        text = intent.content.text
        if len(media) == 1:
            params = {**await self._photo(intent, media[0], account), "caption": text, "published": "true"}
            url = f"{self._page(account)}/photos"
            answer = await self.http.request("POST", url, headers=self._auth(account), params=params)
            outcome = self._outcome(answer, "post_id")
        else:
            attached = []
            for index, item in enumerate(media):
                upload = partial(self._unpublished, intent, item, account)
                made = await uploaded(intent, 1, index, progress, self.clock, upload)
                if isinstance(made, Observed):
                    return made.model_copy(update={"part": 1})
                attached.append({"media_fbid": made})
            params = {"message": text, **({"attached_media": json.dumps(attached)} if attached else {})}
            url = f"{self._page(account)}/feed"
            answer = await self.http.request("POST", url, headers=self._auth(account), params=params)
            outcome = self._outcome(answer, "id")
        comment = intent.content.first_comment
        if outcome.kind is Observation.ACCEPTED and outcome.remote_id and comment and not intent.comment_done:
            await self._first_comment(comment, outcome.remote_id, account, progress)
        return outcome

    async def _photo(self, intent: PublishIntent, item: MediaRef, account: AccountAccess) -> dict[str, str]:
        assert self.files is not None, "this Facebook adapter was made without the media library"
        url = self.files.public_url(intent.workspace, item.ref)
        return {"url": url, **({"alt_text_custom": item.alt_text} if item.alt_text else {})}

    async def _unpublished(self, intent: PublishIntent, item: MediaRef, account: AccountAccess) -> Upload | Observed:
        params = {**await self._photo(intent, item, account), "published": "false"}
        url = f"{self._page(account)}/photos"
        answer = await self.http.request("POST", url, headers=self._auth(account), params=params)
        if isinstance(answer, Observed):
            return answer
        if answer.status != 200 or not answer.body.get("id"):
            return graph_error(answer, 1)
        return Upload(remote_id=str(answer.body["id"]), expires_at=self.clock() + UNPUBLISHED_KEPT)

    def _outcome(self, answer: Answer | Observed, field: str) -> Observed:
        if (seen := at_part(answer, 1)) is not None:
            return seen
        assert isinstance(answer, Answer)
        if answer.status == 200 and answer.body.get(field):
            remote_id = str(answer.body[field])
            link = f"https://www.facebook.com/{remote_id}"
            return observed(answer, Observation.ACCEPTED, remote_id=remote_id, permalink=link, part=1)
        return graph_error(answer, 1)

    async def _first_comment(self, text: str, object_id: str, account: AccountAccess, progress: Progress) -> None:
        await comment(
            self.http, f"{f'{account.base_url}/{VERSION}'}/{object_id}/comments", self._auth(account), text, progress
        )

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        url = f"{self._page(account)}/feed"
        return await recent(
            self.http,
            intent,
            url,
            self._auth(account),
            fields=("message", "permalink_url"),
            platform="Facebook",
            whose="page",
        )

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("Facebook page tokens are reconnected, not refreshed here")
