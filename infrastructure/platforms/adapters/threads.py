"""Threads: for each part, a container first (safe: nothing is visible), then threads_publish
(the only side effect); part 2 onwards is a reply (`reply_to_id`) to the part before. Each
container's id is recorded as an event before it is published, so a retry publishes that same
container; a container whose status already reads PUBLISHED is evidence the earlier attempt
landed. The reconciler reads the account's threads (for the first part) and replies (for the
rest) since the attempt, 100 a page, following the `after` cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.content import Content, MediaRef, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.adapters.meta_containers import ContainerMaker
from infrastructure.platforms.http import Answer, Http, at_part, by_status, fingerprint, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts, observed_live, refresh_refused
from infrastructure.platforms.media_steps import Polling
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed

PAGE = 100
SKEW = timedelta(minutes=1)


class ThreadsAdapter:
    platform = Platform.THREADS
    limits = QUOTAS[Platform.THREADS]
    has_refresh = True

    def __init__(
        self, http: Http, clock: Clock, files: MediaSource | None = None, polling: Polling | None = None
    ) -> None:
        self.http = http
        self.clock = clock
        self.containers = ContainerMaker(
            http, files, polling or Polling(), status_field="status", video_type="VIDEO", alt_for_video=True
        )

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.THREADS))

    @staticmethod
    def _auth(account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    @staticmethod
    def permalink(account: AccountAccess, remote_id: str) -> str:
        return f"https://www.threads.net/@{account.handle}/post/{remote_id}"

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        reply_to: str | None = None
        for number, text, media in intent.media_parts:
            if live := intent.live_part(number):
                reply_to = live.remote_id
                first = first or observed_live(live)
                continue
            outcome = await self._part(intent, number, text, media, reply_to, account, progress)
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
            comment = await self._part(intent, 0, intent.content.first_comment, (), reply_to, account, progress)
            remote = RemotePart(part=0, remote_id=comment.remote_id) if comment.remote_id else None
            await progress.first_comment(remote if comment.kind is Observation.ACCEPTED else None, comment)
        return first

    async def _part(
        self,
        intent: PublishIntent,
        number: int,
        text: str,
        media: tuple[MediaRef, ...],
        reply_to: str | None,
        account: AccountAccess,
        progress: Progress,
    ) -> Observed:
        base = f"{account.base_url}/v1.0/{account.remote_user_id}"
        container = intent.containers.get(number)
        if container is not None:
            status = await self._status(container, account)
            if status == "PUBLISHED":  # an earlier attempt published it: evidence, never twice
                return Observed(
                    kind=Observation.ALREADY_PUBLISHED,
                    platform_code="container_published",
                    part=number,
                    message=f"container {container} is already published",
                )
            if status is None:  # cannot tell whether it was published: make nothing new, try later
                return Observed(
                    kind=Observation.CONNECT_ERROR, message=f"container {container}: status unknown", part=number
                )
            if status in ("EXPIRED", "ERROR"):
                container = None  # a new container is safe: nothing of the old one is visible
        if container is None:
            params = {"text": text, **({"reply_to_id": reply_to} if reply_to else {})}
            made = await self.containers.make(
                intent,
                number,
                media,
                f"{account.base_url}/v1.0",
                f"{base}/threads",
                params,
                self._auth(account),
                self._error,
            )
            if isinstance(made, Observed):
                return made.model_copy(update={"part": number})
            container = made
            await progress.container(number, container)
        answer = await self.http.request(
            "POST", f"{base}/threads_publish", headers=self._auth(account), params={"creation_id": container}
        )
        if (seen := at_part(answer, number)) is not None:
            return seen
        assert isinstance(answer, Answer)
        if answer.status == 200 and answer.body.get("id"):
            remote_id = str(answer.body["id"])
            link = self.permalink(account, remote_id)
            return observed(answer, Observation.ACCEPTED, remote_id=remote_id, permalink=link, part=number)
        return self._error(answer, number)

    async def _status(self, container: str, account: AccountAccess) -> str | None:
        """The container's status (IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED); None if unknown."""
        seen = await self.containers.status(container, f"{account.base_url}/v1.0", self._auth(account))
        return None if isinstance(seen, Observed) else seen or None

    @staticmethod
    def _error(answer: Answer, part: int) -> Observed:
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        code, message = error.get("code"), str(error.get("message", ""))
        if code == 190:
            return observed(answer, Observation.AUTH_REVOKED, "190", message, part=part)
        if code in (4, 17, 32, 613):
            return observed(answer, Observation.RATE_LIMITED, str(code), message, part=part)
        return by_status(answer, str(code) if code is not None else None, message, None, part)

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        since = intent.since() - SKEW
        listing = Listing()
        complete = True
        kinds = ["threads"] + (["replies"] if intent.content.parts > 1 else [])
        for kind in kinds:
            complete &= await self._read(kind, since, account, listing)
        found = match_parts(intent, listing, fingerprint)
        how = (
            f"read the account's {listing.count} threads and replies since {since.isoformat()} in {listing.pages} pages"
            if complete
            else f"the account has more threads since {since.isoformat()} than a look reads ({listing.count})"
        )
        return Search(found=found, complete=complete, how=how)

    async def _read(self, kind: str, since: Any, account: AccountAccess, listing: Listing) -> bool:
        """Read one of the account's lists (threads or replies) since `since`; True if whole."""
        params: dict[str, str] = {
            "fields": "id,text,timestamp,permalink,replied_to",
            "since": str(int(since.timestamp())),
            "limit": str(PAGE),
        }
        url = f"{account.base_url}/v1.0/{account.remote_user_id}/{kind}"
        more = True
        while more and listing.next_page():
            answer = await self.http.request("GET", url, headers=self._auth(account), params=params)
            if isinstance(answer, Observed) or answer.status != 200:
                raise lookup_failed("Threads", answer)
            for item in answer.body.get("data", []):
                replied = (item.get("replied_to") or {}).get("id")
                listing.add(str(item["id"]), str(item.get("text", "")), replied and str(replied), item.get("permalink"))
            after = ((answer.body.get("paging") or {}).get("cursors") or {}).get("after")
            more = bool(after and (answer.body.get("paging") or {}).get("next"))
            params = {**params, "after": str(after)}
        return not more

    async def refresh(self, account: AccountAccess) -> Refreshed:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/refresh_access_token",
            params={"grant_type": "th_refresh_token", "access_token": account.credentials["access_token"]},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise refresh_refused("Threads", answer)
        fresh = {**account.credentials, "access_token": answer.body["access_token"]}
        expires = answer.body.get("expires_in")
        return Refreshed(fresh, self.clock() + timedelta(seconds=int(expires)) if expires else None)
