"""X (API v2): POST /2/tweets, threads by reply chain; the reconciler reads the user's posts.

X takes no idempotency key. Its 403 "duplicate content" answer to a retry is evidence the
first attempt landed (reported as already published, never retried); the reconciler then
finds the post by its text (and, for a thread's part, the post it replies to) in the user's
timeline since the attempt, page by page. X shows only a user's 3,200 latest posts: a window
deeper than that cannot be searched, and the look says so.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, at_part, by_status, fingerprint, json_body, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts, observed_live
from services.ports import AccountAccess, Clock, Progress, Refreshed, RefreshFailed

DUPLICATE = re.compile(r"duplicate content", re.IGNORECASE)
PAGE = 100  # max_results: X allows 5 to 100
TIMELINE_DEPTH = 3200  # X returns at most a user's 3,200 latest posts
SKEW = timedelta(minutes=1)  # the platform's clock may run behind ours


class XAdapter:
    platform = Platform.X
    limits = QUOTAS[Platform.X]
    has_refresh = True

    def __init__(self, http: Http, clock: Clock) -> None:
        self.http = http
        self.clock = clock

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.X))

    @staticmethod
    def auth(account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    def request(self, text: str, reply_to: str | None, account: AccountAccess) -> tuple[str, dict[str, str], bytes]:
        body: dict[str, object] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        return f"{account.base_url}/2/tweets", self.auth(account), json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        reply_to = None
        for number, text in intent.parts:
            if live := intent.live_part(number):
                reply_to = live.remote_id  # already live: never twice; the next part replies to it
                first = first or observed_live(live)
                continue
            url, headers, body = self.request(text, reply_to, account)
            outcome = self._outcome(await self.http.request("POST", url, headers=headers, body=body), account, number)
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

    def _outcome(self, answer: Answer | Observed, account: AccountAccess, part: int) -> Observed:
        if (seen := at_part(answer, part)) is not None:
            return seen
        assert isinstance(answer, Answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (200, 201):
            remote_id = str((body.get("data") or {}).get("id", "")) or None
            link = self.permalink(account, remote_id) if remote_id else None
            return observed(answer, Observation.ACCEPTED, remote_id=remote_id, permalink=link, part=part)
        detail = str(body.get("detail") or body.get("title") or "")
        if answer.status == 403 and DUPLICATE.search(detail):
            return observed(answer, Observation.ALREADY_PUBLISHED, "duplicate_content", detail, part=part)
        reset = answer.headers.get("x-rate-limit-reset", "")
        retry_at = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None
        code = body.get("title") and str(body["title"]).lower().replace(" ", "_")
        return by_status(answer, code, detail, retry_at, part)

    @staticmethod
    def permalink(account: AccountAccess, remote_id: str) -> str:
        return f"https://x.com/{account.handle}/status/{remote_id}"

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        since = intent.since() - SKEW
        listing = Listing()
        params = {
            "max_results": str(PAGE),
            "start_time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": "created_at,referenced_tweets",
        }
        url = f"{account.base_url}/2/users/{account.remote_user_id}/tweets"
        token: str | None = None
        more = True
        while more and listing.next_page():
            page = {**params, **({"pagination_token": token} if token else {})}
            answer = await self.http.request("GET", url, headers=self.auth(account), params=page)
            if isinstance(answer, Observed) or answer.status != 200:
                raise lookup_failed("X", answer)
            for tweet in answer.body.get("data", []):
                replied = [r["id"] for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"]
                link = self.permalink(account, str(tweet["id"]))
                listing.add(str(tweet["id"]), str(tweet.get("text", "")), replied[0] if replied else None, link)
            token = (answer.body.get("meta") or {}).get("next_token")
            more = bool(token)
        found = match_parts(intent, listing, fingerprint)
        # X hides what lies deeper than a user's 3,200 latest posts
        complete = not more and listing.count < TIMELINE_DEPTH
        how = (
            f"read the account's {listing.count} posts since {since.isoformat()} in {listing.pages} pages"
            if complete
            else f"the account has more posts since {since.isoformat()} than X lets anyone read "
            f"(its {TIMELINE_DEPTH} latest)"
        )
        return Search(found=found, complete=complete, how=how)

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
