"""Mastodon: POST /api/v1/statuses with `Idempotency-Key` set to the publish key (per part), so a
retry within the instance's hour returns the first status instead of a second one. Limits come
from /api/v2/instance. The reconciler reads the account's statuses since the attempt, 40 a
page, following the `Link` header's next page (max_id), as the API documents."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, at_part, by_status, fingerprint, json_body, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts, observed_live
from services.ports import AccountAccess, Progress, Refreshed, RefreshFailed

TAGS = re.compile(r"<[^>]+>")
BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
PAGE = 40  # Mastodon serves at most 40 statuses a page
SKEW = timedelta(minutes=1)


def plain(content: str) -> str:
    """A status's HTML as its author wrote it: line breaks kept, tags dropped, entities read."""
    return html.unescape(TAGS.sub("", BREAKS.sub("\n", content)))


class MastodonAdapter:
    platform = Platform.MASTODON
    limits = QUOTAS[Platform.MASTODON]
    has_refresh = False  # Mastodon tokens do not expire; a revoked one needs a reconnect

    def __init__(self, http: Http) -> None:
        self.http = http

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
        self, intent: PublishIntent, part: int, text: str, reply_to: str | None, account: AccountAccess
    ) -> tuple[str, dict[str, str], bytes]:
        """`part` counts from 0 (the post itself)."""
        body: dict[str, object] = {"status": text, "visibility": "public"}
        media = intent.content.media if part == 0 else intent.content.thread[part - 1].media
        if media:
            body["media_ids"] = [m.ref for m in media]
        if reply_to:
            body["in_reply_to_id"] = reply_to
        key = intent.publish_key if part == 0 else f"{intent.publish_key}-{part + 1}"
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}", "Idempotency-Key": key}
        return f"{account.base_url}/api/v1/statuses", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        reply_to = None
        for number, text in intent.parts:
            if live := intent.live_part(number):
                reply_to = live.remote_id
                first = first or observed_live(live)
                continue
            url, headers, body = self.request(intent, number - 1, text, reply_to, account)
            outcome = self._outcome(await self.http.request("POST", url, headers=headers, body=body), number)
            if outcome.kind is not Observation.ACCEPTED or outcome.remote_id is None:
                return outcome
            if threaded:
                await progress.part_live(
                    RemotePart(part=number, remote_id=outcome.remote_id, permalink=outcome.permalink)
                )
            first = first or outcome
            reply_to = outcome.remote_id
        assert first is not None
        return first

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
        reset = answer.headers.get("x-ratelimit-reset")
        retry_at = None
        if reset:
            try:
                retry_at = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            except ValueError:
                retry_at = None
        return by_status(answer, str(answer.status), str(body.get("error", "")), retry_at, part)

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
                created = datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))
                if created < since:
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
