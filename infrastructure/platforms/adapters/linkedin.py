"""LinkedIn: POST /rest/posts with its version headers. A retry of a post that landed gets
422 "Content is a duplicate of urn:li:share:…", naming the live post: evidence, with its id.
The reconciler reads the member's posts (newest first, 100 a page, `start` to page) back to
the attempt. There is no refresh flow: an expired token means reconnect."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from urllib.parse import quote

from domain.content import Content, MediaRef, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search, Upload
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, at_part, by_status, epoch_ms, fingerprint, json_body, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts
from infrastructure.platforms.media_steps import PartFiles, sent_with_files
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed, RefreshFailed, system_clock

VERSION = "202411"
DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost|activity):[\w-]+)", re.IGNORECASE)
PAGE = 100
SKEW = timedelta(minutes=1)


def permalink(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInAdapter:
    platform = Platform.LINKEDIN
    limits = QUOTAS[Platform.LINKEDIN]
    has_refresh = False

    def __init__(self, http: Http, clock: Clock | None = None, files: MediaSource | None = None) -> None:
        self.http = http
        self.clock = clock or system_clock
        self.files = files

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.LINKEDIN))

    def headers(self, account: AccountAccess) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {account.credentials['access_token']}",
            "LinkedIn-Version": VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def request(
        self, intent: PublishIntent, account: AccountAccess, images: list[dict[str, str]] | None = None
    ) -> tuple[str, dict[str, str], bytes]:
        body: dict[str, object] = {
            "author": f"urn:li:person:{account.remote_user_id}",
            "commentary": intent.content.text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images or []) == 1:
            body["content"] = {"media": (images or [])[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        return f"{account.base_url}/rest/posts", self.headers(account), json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        media = intent.content.media
        files = PartFiles(intent, 1, media, progress, self.clock, partial(self._upload, intent, account=account))
        outcome = await sent_with_files(
            files,
            partial(self._send, intent, account),
            lambda seen: seen.http_status == 422 and "media" in (seen.message or "").lower(),  # an image urn lapsed
        )
        comment = intent.content.first_comment
        if outcome.kind is Observation.ACCEPTED and outcome.remote_id and comment and not intent.comment_done:
            await self._first_comment(comment, outcome.remote_id, account, progress)
        return outcome

    async def _send(self, intent: PublishIntent, account: AccountAccess, ids: list[str]) -> Observed:
        images = [
            {"id": made, "altText": item.alt_text or ""} for made, item in zip(ids, intent.content.media, strict=True)
        ]
        url, headers, body = self.request(intent, account, images)
        return self._outcome(await self.http.request("POST", url, headers=headers, body=body))

    async def _upload(self, intent: PublishIntent, item: MediaRef, *, account: AccountAccess) -> Upload | Observed:
        """The Images API: initializeUpload gives an upload URL and the image's urn; a PUT of the
        bytes there makes the image usable by a post."""
        assert self.files is not None, "this LinkedIn adapter was made without the media library"
        info = await self.files.info(intent.workspace, item.ref)
        data = await self.files.read(intent.workspace, item.ref)
        start = {"initializeUploadRequest": {"owner": f"urn:li:person:{account.remote_user_id}"}}
        answer = await self.http.request(
            "POST",
            f"{account.base_url}/rest/images",
            headers=self.headers(account),
            params={"action": "initializeUpload"},
            body=json_body(start),
        )
        if isinstance(answer, Observed) or answer.status != 200:
            return answer if isinstance(answer, Observed) else self._outcome(answer)
        value = answer.body.get("value") or {}
        put = await self.http.request(
            "PUT",
            str(value.get("uploadUrl", "")),
            headers={"Authorization": self.headers(account)["Authorization"]},
            body=data,
            content_type=info.mime,
        )
        if isinstance(put, Observed) or put.status not in (200, 201):
            return put if isinstance(put, Observed) else self._outcome(put)
        return Upload(remote_id=str(value.get("image", "")), expires_at=epoch_ms(value.get("uploadUrlExpiresAt")))

    async def _first_comment(self, text: str, urn: str, account: AccountAccess, progress: Progress) -> None:
        body = {"actor": f"urn:li:person:{account.remote_user_id}", "object": urn, "message": {"text": text}}
        answer = await self.http.request(
            "POST",
            f"{account.base_url}/rest/socialActions/{quote(urn, safe='')}/comments",
            headers=self.headers(account),
            body=json_body(body),
        )
        if isinstance(answer, Answer) and answer.status == 201:
            made = answer.headers.get("x-restli-id") or str(answer.body.get("id", ""))
            await progress.first_comment(RemotePart(part=0, remote_id=made), None)
        else:
            await progress.first_comment(None, answer if isinstance(answer, Observed) else self._outcome(answer))

    @staticmethod
    def _outcome(answer: Answer | Observed) -> Observed:
        if (seen := at_part(answer, 1)) is not None:
            return seen
        assert isinstance(answer, Answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 201:
            urn = answer.headers.get("x-restli-id")
            return observed(answer, Observation.ACCEPTED, remote_id=urn, permalink=urn and permalink(urn), part=1)
        code, message = str(body.get("code", "")) or None, str(body.get("message", ""))
        if answer.status == 422 and (duplicate := DUPLICATE.search(message)):
            urn = duplicate.group(1)
            return observed(
                answer,
                Observation.ALREADY_PUBLISHED,
                code or "DUPLICATE_POST",
                message,
                remote_id=urn,
                permalink=permalink(urn),
                part=1,
            )
        return by_status(answer, code, message, None, 1)  # LinkedIn's 429 carries no reset header

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        since = intent.since() - SKEW
        listing = Listing()
        start, more = 0, True
        while more and listing.next_page():
            answer = await self.http.request(
                "GET",
                f"{account.base_url}/rest/posts",
                headers=self.headers(account),
                params={
                    "q": "author",
                    "author": f"urn:li:person:{account.remote_user_id}",
                    "count": str(PAGE),
                    "start": str(start),
                    "sortBy": "CREATED",
                },
            )
            if isinstance(answer, Observed) or answer.status != 200:
                raise lookup_failed("LinkedIn", answer)
            elements = answer.body.get("elements", [])
            for element in elements:
                created = epoch_ms(element.get("createdAt"))  # unreadable: kept, as if in the window
                if created is not None and created < since:
                    more = False
                    break
                urn = str(element["id"])
                listing.add(urn, str(element.get("commentary", "")), None, permalink(urn))
            start += len(elements)
            more = more and len(elements) == PAGE
        found = match_parts(intent, listing, fingerprint)
        how = (
            f"read the member's {listing.count} posts since {since.isoformat()} in {listing.pages} pages"
            if not more
            else f"the member has more posts since {since.isoformat()} than a look reads ({listing.count})"
        )
        return Search(found=found, complete=not more, how=how)

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("LinkedIn offers this app no refresh flow; reconnect the account")
