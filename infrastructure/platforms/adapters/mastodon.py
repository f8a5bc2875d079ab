"""Mastodon: POST /api/v1/statuses with `Idempotency-Key` set to the publish key (per part), so a
retry within the instance's hour returns the first status instead of a second one. Limits come
from /api/v2/instance. The reconciler reads the account's statuses since the attempt, 40 a
page, following the `Link` header's next page (max_id), as the API documents."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from functools import partial

from domain.content import Content, MediaRef, Platform
from domain.engagement import Counts
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search, Upload
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import (
    Answer,
    Form,
    Http,
    at_part,
    by_status,
    fingerprint,
    instant,
    json_body,
    observed,
    reset_at,
)
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts, observed_live
from infrastructure.platforms.media_steps import PartFiles, Polling, sent_with_files, until_ready
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed, RefreshFailed, system_clock

TAGS = re.compile(r"<[^>]+>")
BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
PAGE = 40  # Mastodon serves at most 40 statuses a page
SKEW = timedelta(minutes=1)


def plain(content: str) -> str:
    """A status's HTML as its author wrote it: line breaks kept, tags dropped, entities read."""
    return html.unescape(TAGS.sub("", BREAKS.sub("\n", content)))


def stale_files(seen: Observed) -> bool:
    """Mastodon's 422 for attachments it no longer has (unattached media are removed after a
    day), as opposed to a refusal of the text."""
    return seen.http_status == 422 and "media" in (seen.message or "").lower()


class MastodonAdapter:
    platform = Platform.MASTODON
    limits = QUOTAS[Platform.MASTODON]
    has_refresh = False  # Mastodon tokens do not expire; a revoked one needs a reconnect

    def __init__(
        self, http: Http, clock: Clock | None = None, files: MediaSource | None = None, polling: Polling | None = None
    ) -> None:
        self.http = http
        self.clock = clock or system_clock
        self.files = files
        self.polling = polling or Polling()

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        limit = account.settings.get("max_characters")
        return validate(content, rules_for(Platform.MASTODON, max_characters=int(limit) if limit else None))

    async def instance_limits(self, account: AccountAccess) -> dict[str, int]:
        """The instance's own limits (max_characters, characters_reserved_per_url…)."""
        answer = await self.http.request("GET", f"{account.base_url}/api/v2/instance")
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"the instance did not describe itself: {answer}")
        statuses = answer.body.get("configuration", {}).get("statuses", {})
        return {k: int(v) for k, v in statuses.items() if isinstance(v, int)}

    def request(
        self,
        intent: PublishIntent,
        part: int,
        text: str,
        reply_to: str | None,
        account: AccountAccess,
        media_ids: list[str] | None = None,
        key_suffix: str = "",
    ) -> tuple[str, dict[str, str], bytes]:
        """`part` counts from 0 (the post itself)."""
        body: dict[str, object] = {"status": text, "visibility": "public"}
        if media_ids:
            body["media_ids"] = media_ids
        if reply_to:
            body["in_reply_to_id"] = reply_to
        key = (intent.publish_key if part == 0 else f"{intent.publish_key}-{part + 1}") + key_suffix
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}", "Idempotency-Key": key}
        return f"{account.base_url}/api/v1/statuses", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        reply_to = None
        for number, text, media in intent.media_parts:
            if live := intent.live_part(number):
                reply_to = live.remote_id
                first = first or observed_live(live)
                continue
            files = PartFiles(
                intent, number, media, progress, self.clock, partial(self._upload, intent, account=account)
            )
            outcome = await sent_with_files(
                files, partial(self._send, intent, number, text, reply_to, account), stale_files
            )
            if outcome.kind is not Observation.ACCEPTED or outcome.remote_id is None:
                return outcome
            if threaded:
                await progress.part_live(
                    RemotePart(part=number, remote_id=outcome.remote_id, permalink=outcome.permalink)
                )
            first = first or outcome
            reply_to = outcome.remote_id
        assert first is not None
        if intent.content.first_comment and not intent.comment_done and reply_to:
            url, headers, body = self.request(
                intent, 0, intent.content.first_comment, reply_to, account, key_suffix="-comment"
            )
            seen = self._outcome(await self.http.request("POST", url, headers=headers, body=body), 0)
            remote = RemotePart(part=0, remote_id=seen.remote_id, permalink=seen.permalink) if seen.remote_id else None
            await progress.first_comment(remote, None if remote else seen)
        return first

    async def _send(
        self,
        intent: PublishIntent,
        number: int,
        text: str,
        reply_to: str | None,
        account: AccountAccess,
        ids: list[str],
    ) -> Observed:
        url, headers, body = self.request(intent, number - 1, text, reply_to, account, ids)
        return self._outcome(await self.http.request("POST", url, headers=headers, body=body), number)

    async def _upload(self, intent: PublishIntent, item: MediaRef, account: AccountAccess) -> Upload | Observed:
        """POST /api/v2/media with the alt text as `description`; while it answers 202 (video,
        GIF), look at /api/v1/media/:id until it is processed."""
        assert self.files is not None, "this Mastodon adapter was made without the media library"
        info = await self.files.info(intent.workspace, item.ref)
        data = await self.files.read(intent.workspace, item.ref)
        form: Form = {"file": (f"file.{info.mime.split('/')[1]}", data, info.mime)}
        if item.alt_text:
            form["description"] = item.alt_text
        auth = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        answer = await self.http.request("POST", f"{account.base_url}/api/v2/media", headers=auth, form=form)
        if isinstance(answer, Observed) or answer.status not in (200, 202):
            return answer if isinstance(answer, Observed) else by_status(answer, "media", str(answer.body), None)
        media_id = str(answer.body["id"])
        if answer.status == 202:
            waited = await until_ready(
                lambda: self._state(media_id, auth, account), {"ready"}, {"gone"}, self.polling, "the file"
            )
            if waited is not None:
                return waited
        return Upload(remote_id=media_id)

    async def _state(self, media_id: str, auth: dict[str, str], account: AccountAccess) -> str | Observed:
        answer = await self.http.request("GET", f"{account.base_url}/api/v1/media/{media_id}", headers=auth)
        if isinstance(answer, Observed):
            return answer
        return {200: "ready", 206: "processing", 404: "gone"}.get(answer.status, f"http_{answer.status}")

    @staticmethod
    def _outcome(answer: Answer | Observed, part: int) -> Observed:
        if (seen := at_part(answer, part)) is not None:
            return seen
        assert isinstance(answer, Answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200 and body.get("id"):
            # a repeat of an Idempotency-Key gets the first status back: accepted, not twice
            return observed(
                answer, Observation.ACCEPTED, remote_id=str(body["id"]), permalink=body.get("url"), part=part
            )
        retry_at = reset_at(answer.headers.get("x-ratelimit-reset"))
        return by_status(answer, str(answer.status), str(body.get("error", "")), retry_at, part)

    async def counts(self, remote_id: str, account: AccountAccess) -> Counts | None:
        """GET /api/v1/statuses/:id: favourites, reblogs and replies (None: the status is gone)."""
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/api/v1/statuses/{remote_id}",
            headers={"Authorization": f"Bearer {account.credentials['access_token']}"},
        )
        if isinstance(answer, Answer) and answer.status == 404:
            return None
        if isinstance(answer, Observed) or answer.status != 200 or not isinstance(answer.body, dict):
            raise lookup_failed("Mastodon", answer)
        body = answer.body
        return Counts(likes=body["favourites_count"], reposts=body["reblogs_count"], replies=body["replies_count"])

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        since = intent.since() - SKEW
        listing = Listing()
        url: str | None = f"{account.base_url}/api/v1/accounts/{account.remote_user_id}/statuses"
        params: dict[str, str] | None = {"limit": str(PAGE)}
        older = False  # reached a status older than the window: everything after is older still
        while url and listing.next_page():
            answer = await self.http.request(
                "GET", url, headers={"Authorization": f"Bearer {account.credentials['access_token']}"}, params=params
            )
            if isinstance(answer, Observed) or answer.status != 200 or not isinstance(answer.body, list):
                raise lookup_failed("Mastodon", answer)
            for status in answer.body:
                created = instant(str(status.get("created_at", "")))  # unreadable: kept, as if in the window
                if created is not None and created < since:
                    older = True
                    break
                reply_to = status.get("in_reply_to_id")
                listing.add(
                    str(status["id"]),
                    plain(str(status.get("content", ""))),
                    reply_to and str(reply_to),
                    status.get("url"),
                )
            link = NEXT.search(answer.headers.get("link", ""))
            url, params = (link.group(1), None) if link and not older and answer.body else (None, None)
        found = match_parts(intent, listing, fingerprint)
        complete = url is None
        how = (
            f"read the account's {listing.count} statuses since {since.isoformat()} in {listing.pages} pages"
            if complete
            else f"the account has more statuses since {since.isoformat()} than a look reads ({listing.count})"
        )
        return Search(found=found, complete=complete, how=how)

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("Mastodon has no refresh flow; reconnect the account")
