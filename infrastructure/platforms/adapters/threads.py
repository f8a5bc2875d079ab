"""Threads: a container first (safe: nothing is visible), then threads_publish (the only side
effect). The container id is recorded as an event before publishing, so a retry publishes
that same container and never creates a second post."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, by_status, fingerprint, observed
from services.ports import AccountAccess, Refreshed, RefreshFailed

Remember = Callable[[str], Awaitable[None]]


class ThreadsAdapter:
    platform = Platform.THREADS
    limits = QUOTAS[Platform.THREADS]
    has_refresh = True

    def __init__(self, http: Http, clock: Callable[[], object]) -> None:
        self.http = http
        self.clock = clock

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.THREADS))

    def _auth(self, account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    async def publish(
        self, intent: PublishIntent, account: AccountAccess, remember: Remember | None = None
    ) -> Observed:
        base = f"{account.base_url}/v1.0/{account.remote_user_id}"
        container = intent.container_id
        if container is None:
            made = await self.http.request(
                "POST",
                f"{base}/threads",
                headers=self._auth(account),
                params={"media_type": "TEXT", "text": intent.content.text},
            )
            if isinstance(made, Observed):
                # creating a container is invisible: whatever happened, nothing was published
                return (
                    made
                    if made.kind is Observation.CONNECT_ERROR
                    else Observed(kind=Observation.CONNECT_ERROR, message=f"container: {made.kind.value}")
                )
            if made.status != 200 or not made.body.get("id"):
                return self._error(made)
            container = str(made.body["id"])
            if remember is not None:
                await remember(container)
        answer = await self.http.request(
            "POST", f"{base}/threads_publish", headers=self._auth(account), params={"creation_id": container}
        )
        if isinstance(answer, Observed):
            return answer
        if answer.status == 200 and answer.body.get("id"):
            remote_id = str(answer.body["id"])
            return observed(
                answer,
                Observation.ACCEPTED,
                remote_id=remote_id,
                permalink=f"https://www.threads.net/@{account.handle}/post/{remote_id}",
            )
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        if error.get("code") == 10:  # "already published": our earlier attempt landed
            return observed(answer, Observation.ACCEPTED, "container_already_published", str(error.get("message")))
        return self._error(answer)

    @staticmethod
    def _error(answer: Answer) -> Observed:
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        code, message = error.get("code"), str(error.get("message", ""))
        if code == 190:
            return observed(answer, Observation.AUTH_REVOKED, "190", message)
        if code in (4, 17, 32, 613):
            return observed(answer, Observation.RATE_LIMITED, str(code), message)
        return by_status(answer, str(code) if code is not None else None, message, None)

    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/v1.0/{account.remote_user_id}/threads",
            headers=self._auth(account),
            params={"fields": "id,text,permalink,timestamp", "limit": "50"},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"Threads did not answer the look-up: {answer}")
        wanted = fingerprint(intent.content.text)
        for item in answer.body.get("data", []):
            if fingerprint(str(item.get("text", ""))) == wanted:
                return RemotePost(remote_id=str(item["id"]), permalink=item.get("permalink"))
        return None

    async def refresh(self, account: AccountAccess) -> Refreshed:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/refresh_access_token",
            params={"grant_type": "th_refresh_token", "access_token": account.credentials["access_token"]},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise RefreshFailed(f"Threads refused to refresh the token: {getattr(answer, 'body', answer)}")
        fresh = {**account.credentials, "access_token": answer.body["access_token"]}
        expires = answer.body.get("expires_in")
        now = self.clock()
        return Refreshed(fresh, now + timedelta(seconds=int(expires)) if expires else None)  # type: ignore[operator]
