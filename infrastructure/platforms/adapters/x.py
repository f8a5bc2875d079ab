"""X (API v2): POST /2/tweets, threads by reply chain; find by text in the user's recent posts.

X takes no idempotency key. A 403 "duplicate content" answer to a retry is evidence the first
attempt landed: it is reported as accepted without an id, and the reconciler finds the post.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, by_status, fingerprint, json_body, observed
from services.ports import AccountAccess, Clock, Refreshed, RefreshFailed

DUPLICATE = re.compile(r"duplicate content", re.IGNORECASE)


class XAdapter:
    platform = Platform.X
    limits = QUOTAS[Platform.X]
    has_refresh = True

    def __init__(self, http: Http, clock: Clock) -> None:
        self.http = http
        self.clock = clock

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.X))

    def request(self, text: str, reply_to: str | None, account: AccountAccess) -> tuple[str, dict[str, str], bytes]:
        body: dict[str, object] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        return f"{account.base_url}/2/tweets", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess) -> Observed:
        texts = [intent.content.text, *(part.text for part in intent.content.thread)]
        first: Observed | None = None
        reply_to = None
        for index, text in enumerate(texts):
            url, headers, body = self.request(text, reply_to, account)
            answer = await self.http.request("POST", url, headers=headers, body=body)
            outcome = self._outcome(answer, intent, account)
            if first is None:
                first = outcome
            if outcome.kind is not Observation.ACCEPTED or outcome.remote_id is None:
                if index and first.kind is Observation.ACCEPTED:
                    # the thread's head is out: report it, never repeat it; say what broke
                    return first.model_copy(update={"message": f"thread part {index + 1}: {outcome.kind.value}"})
                return outcome
            reply_to = outcome.remote_id
        assert first is not None
        return first

    def _outcome(self, answer: Answer | Observed, intent: PublishIntent, account: AccountAccess) -> Observed:
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (200, 201):
            remote_id = str((body.get("data") or {}).get("id", "")) or None
            permalink = f"https://x.com/{account.handle}/status/{remote_id}" if remote_id else None
            return observed(answer, Observation.ACCEPTED, remote_id=remote_id, permalink=permalink)
        detail = str(body.get("detail") or body.get("title") or "")
        if answer.status == 403 and DUPLICATE.search(detail):
            if intent.attempt > 1:  # our own earlier attempt landed: let the reconciler find it
                return observed(answer, Observation.ACCEPTED, "duplicate_content", detail)
            return observed(answer, Observation.REJECTED, "duplicate_content", detail)
        reset = answer.headers.get("x-rate-limit-reset", "")
        retry_at = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None
        return by_status(answer, body.get("title") and str(body["title"]).lower().replace(" ", "_"), detail, retry_at)

    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None:
        start = (intent.due_at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/2/users/{account.remote_user_id}/tweets",
            headers={"Authorization": f"Bearer {account.credentials['access_token']}"},
            params={"max_results": "100", "start_time": start, "tweet.fields": "created_at"},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"X did not answer the look-up: {answer}")
        wanted = fingerprint(intent.content.text)
        for tweet in answer.body.get("data", []):
            if fingerprint(str(tweet.get("text", ""))) == wanted:
                return RemotePost(
                    remote_id=str(tweet["id"]), permalink=f"https://x.com/{account.handle}/status/{tweet['id']}"
                )
        return None

    async def refresh(self, account: AccountAccess) -> Refreshed:
        """OAuth 2.0 refresh: a new access token, and a new refresh token (X rotates them)."""
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": account.credentials.get("refresh_token", ""),
                "client_id": account.credentials.get("client_id", ""),
            }
        )
        answer = await self.http.request(
            "POST",
            f"{account.base_url}/2/oauth2/token",
            body=form.encode(),
            content_type="application/x-www-form-urlencoded",
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise RefreshFailed(f"X refused the refresh: {getattr(answer, 'body', answer)}")
        fresh = {**account.credentials, "access_token": answer.body["access_token"]}
        fresh["refresh_token"] = answer.body.get("refresh_token", fresh.get("refresh_token"))
        expires = answer.body.get("expires_in")
        return Refreshed(fresh, self.clock() + timedelta(seconds=int(expires)) if expires else None)
