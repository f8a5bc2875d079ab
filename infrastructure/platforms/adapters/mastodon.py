"""Mastodon: POST /api/v1/statuses with `Idempotency-Key` set to the publish key, so a retry
returns the first status instead of a second one. Limits come from /api/v2/instance."""

from __future__ import annotations

import re
from datetime import datetime

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, by_status, fingerprint, json_body, observed
from services.ports import AccountAccess, Refreshed, RefreshFailed

TAGS = re.compile(r"<[^>]+>")


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
        body: dict[str, object] = {"status": text, "visibility": "public"}
        media = intent.content.media if part == 0 else intent.content.thread[part - 1].media
        if media:
            body["media_ids"] = [m.ref for m in media]
        if reply_to:
            body["in_reply_to_id"] = reply_to
        key = intent.publish_key if part == 0 else f"{intent.publish_key}-{part + 1}"
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}", "Idempotency-Key": key}
        return f"{account.base_url}/api/v1/statuses", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess) -> Observed:
        texts = [intent.content.text, *(part.text for part in intent.content.thread)]
        first: Observed | None = None
        reply_to = None
        for part, text in enumerate(texts):
            url, headers, body = self.request(intent, part, text, reply_to, account)
            outcome = self._outcome(await self.http.request("POST", url, headers=headers, body=body))
            first = first or outcome
            if outcome.kind is not Observation.ACCEPTED:
                if part:
                    return first.model_copy(update={"message": f"thread part {part + 1}: {outcome.kind.value}"})
                return outcome
            reply_to = outcome.remote_id
        assert first is not None
        return first

    @staticmethod
    def _outcome(answer: Answer | Observed) -> Observed:
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200 and body.get("id"):
            return observed(answer, Observation.ACCEPTED, remote_id=str(body["id"]), permalink=body.get("url"))
        reset = answer.headers.get("x-ratelimit-reset")
        retry_at = None
        if reset:
            try:
                retry_at = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            except ValueError:
                retry_at = None
        return by_status(answer, str(answer.status), str(body.get("error", "")), retry_at)

    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/api/v1/accounts/{account.remote_user_id}/statuses",
            headers={"Authorization": f"Bearer {account.credentials['access_token']}"},
            params={"limit": "40"},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"Mastodon did not answer the look-up: {answer}")
        wanted = fingerprint(intent.content.text)
        for status in answer.body:
            if fingerprint(TAGS.sub("", str(status.get("content", "")))) == wanted:
                return RemotePost(remote_id=str(status["id"]), permalink=status.get("url"))
        return None

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("Mastodon has no refresh flow; reconnect the account")
