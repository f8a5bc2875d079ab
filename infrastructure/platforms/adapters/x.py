"""X (API v2): POST /2/tweets, threads by reply chain; the reconciler reads the user's posts.

X takes no idempotency key. Its 403 "duplicate content" answer to a retry is evidence the
first attempt landed (reported as already published, never retried); the reconciler then
finds the post by its text (and, for a thread's part, the post it replies to) in the user's
timeline since the attempt, page by page. X shows only a user's 3,200 latest posts: a window
deeper than that cannot be searched, and the look says so.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from urllib.parse import urlencode

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
    json_body,
    observed,
    reset_at,
)
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts, observed_live, refresh_refused
from infrastructure.platforms.media_steps import PartFiles, Polling, sent_with_files, until_ready
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed

DUPLICATE = re.compile(r"duplicate content", re.IGNORECASE)
INVALID_MEDIA = re.compile(r"media IDs are invalid", re.IGNORECASE)
PAGE = 100  # max_results: X allows 5 to 100
TIMELINE_DEPTH = 3200  # X returns at most a user's 3,200 latest posts
SKEW = timedelta(minutes=1)  # the platform's clock may run behind ours
CHUNK = 4 * 1024 * 1024  # bytes a chunked upload sends per APPEND


class XAdapter:
    platform = Platform.X
    limits = QUOTAS[Platform.X]
    has_refresh = True

    def __init__(
        self, http: Http, clock: Clock, files: MediaSource | None = None, polling: Polling | None = None
    ) -> None:
        self.http = http
        self.clock = clock
        self.files = files
        self.polling = polling or Polling()

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.X))

    @staticmethod
    def auth(account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    def request(
        self, text: str, reply_to: str | None, account: AccountAccess, media_ids: list[str] | None = None
    ) -> tuple[str, dict[str, str], bytes]:
        body: dict[str, object] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        return f"{account.base_url}/2/tweets", self.auth(account), json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        reply_to = None
        for number, text, media in intent.media_parts:
            if live := intent.live_part(number):
                reply_to = live.remote_id  # already live: never twice; the next part replies to it
                first = first or observed_live(live)
                continue
            files = PartFiles(
                intent, number, media, progress, self.clock, partial(self._upload, intent, account=account)
            )
            outcome = await sent_with_files(
                files,
                partial(self._send, text, reply_to, account, number),
                lambda seen: seen.platform_code == "invalid_media",  # expired or dropped uploads
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
            await self._first_comment(intent.content.first_comment, reply_to, account, progress)
        return first

    async def _send(
        self, text: str, reply_to: str | None, account: AccountAccess, part: int, ids: list[str]
    ) -> Observed:
        url, headers, body = self.request(text, reply_to, account, ids)
        return self._outcome(await self.http.request("POST", url, headers=headers, body=body), account, part)

    async def _first_comment(self, text: str, reply_to: str, account: AccountAccess, progress: Progress) -> None:
        """A self-reply under the post's last part; its own outcome, never the post's."""
        url, headers, body = self.request(text, reply_to, account)
        seen = self._outcome(await self.http.request("POST", url, headers=headers, body=body), account, 0)
        if seen.kind is Observation.ACCEPTED and seen.remote_id:
            await progress.first_comment(RemotePart(part=0, remote_id=seen.remote_id, permalink=seen.permalink), None)
        else:
            await progress.first_comment(None, seen)

    async def _upload(self, intent: PublishIntent, item: MediaRef, *, account: AccountAccess) -> Upload | Observed:
        """Media upload v2: one request for an image; initialize, append, finalize and wait for
        processing for a GIF or video. Then the alt text, as the file's metadata."""
        assert self.files is not None, "this X adapter was made without the media library"
        info = await self.files.info(intent.workspace, item.ref)
        data = await self.files.read(intent.workspace, item.ref)
        base = f"{account.base_url}/2/media"
        if info.kind == "image":
            form: Form = {
                "media": (f"file.{info.mime.split('/')[1]}", data, info.mime),
                "media_category": "tweet_image",
            }
            answer = await self.http.request("POST", f"{base}/upload", headers=self.auth(account), form=form)
            if isinstance(answer, Observed) or answer.status != 200:
                return self._upload_error(answer)
            made = answer.body["data"]
        else:
            category = "tweet_gif" if info.kind == "gif" else "tweet_video"
            start = {"media_type": info.mime, "total_bytes": len(data), "media_category": category}
            answer = await self.http.request(
                "POST", f"{base}/upload/initialize", headers=self.auth(account), body=json_body(start)
            )
            if isinstance(answer, Observed) or answer.status != 200:
                return self._upload_error(answer)
            media_id = str(answer.body["data"]["id"])
            for segment, offset in enumerate(range(0, len(data), CHUNK)):
                chunk: Form = {
                    "segment_index": str(segment),
                    "media": ("chunk", data[offset : offset + CHUNK], info.mime),
                }
                sent = await self.http.request(
                    "POST", f"{base}/upload/{media_id}/append", headers=self.auth(account), form=chunk
                )
                if isinstance(sent, Observed) or sent.status not in (200, 204):
                    return self._upload_error(sent)
            answer = await self.http.request("POST", f"{base}/upload/{media_id}/finalize", headers=self.auth(account))
            if isinstance(answer, Observed) or answer.status != 200:
                return self._upload_error(answer)
            made = answer.body["data"]
            if made.get("processing_info"):
                waited = await until_ready(
                    lambda: self._state(media_id, account), {"succeeded"}, {"failed"}, self.polling, "the video"
                )
                if waited is not None:
                    return waited
        media_id = str(made["id"])
        if item.alt_text and info.kind != "video":
            meta = {"id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}}
            answer = await self.http.request(
                "POST", f"{base}/metadata", headers=self.auth(account), body=json_body(meta)
            )
            if isinstance(answer, Observed) or answer.status != 200:
                return self._upload_error(answer)
        lasts = made.get("expires_after_secs")
        return Upload(remote_id=media_id, expires_at=self.clock() + timedelta(seconds=int(lasts)) if lasts else None)

    async def _state(self, media_id: str, account: AccountAccess) -> str | Observed:
        params = {"command": "STATUS", "media_id": media_id}
        answer = await self.http.request(
            "GET", f"{account.base_url}/2/media/upload", headers=self.auth(account), params=params
        )
        if isinstance(answer, Observed) or answer.status != 200:
            return self._upload_error(answer)
        return str(((answer.body.get("data") or {}).get("processing_info") or {}).get("state", "succeeded"))

    def _upload_error(self, answer: Answer | Observed) -> Observed:
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        return by_status(answer, "media_upload", str(body.get("detail") or body.get("title") or ""), None)

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
        errors = " ".join(str(e.get("message", "")) for e in body.get("errors") or [] if isinstance(e, dict))
        if answer.status == 400 and INVALID_MEDIA.search(errors):
            return observed(answer, Observation.REJECTED, "invalid_media", errors[:300], part=part)
        if answer.status == 403 and DUPLICATE.search(detail):
            return observed(answer, Observation.ALREADY_PUBLISHED, "duplicate_content", detail, part=part)
        retry_at = reset_at(answer.headers.get("x-rate-limit-reset"))
        code = body.get("title") and str(body["title"]).lower().replace(" ", "_")
        return by_status(answer, code, detail, retry_at, part)

    @staticmethod
    def permalink(account: AccountAccess, remote_id: str) -> str:
        return f"https://x.com/{account.handle}/status/{remote_id}"

    async def counts(self, remote_id: str, account: AccountAccess) -> Counts | None:
        """GET /2/tweets/:id?tweet.fields=public_metrics (None: X lists it as not found)."""
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/2/tweets/{remote_id}",
            headers=self.auth(account),
            params={"tweet.fields": "public_metrics"},
        )
        if isinstance(answer, Observed) or answer.status != 200 or not isinstance(answer.body, dict):
            raise lookup_failed("X", answer)
        data = answer.body.get("data")
        if data is None:  # X answers 200 with the error listed when the post is gone
            return None
        metrics = data["public_metrics"]
        reposts = metrics["retweet_count"] + metrics.get("quote_count", 0)
        return Counts(likes=metrics["like_count"], reposts=reposts, replies=metrics["reply_count"])

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
            raise refresh_refused("X", answer)
        fresh = {**account.credentials, "access_token": answer.body["access_token"]}
        fresh["refresh_token"] = answer.body.get("refresh_token", fresh.get("refresh_token"))
        expires = answer.body.get("expires_in")
        return Refreshed(fresh, self.clock() + timedelta(seconds=int(expires)) if expires else None)
