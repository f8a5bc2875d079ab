"""Instagram (the Graph API, for professional accounts): a container first (an image or Reel
fetched from the file's signed URL, or a carousel of up to 10 child containers), its
status_code awaited until FINISHED, then /media_publish: the only side effect. The parent
container's id is kept as an event before it is published, so a retry publishes that same
container, and a container already PUBLISHED is evidence that the earlier attempt landed.

Instagram takes no threads. Before claiming, the dispatcher reads the account's
content_publishing_limit (100 posts in a moving 24 hours). The reconciler reads the
account's media since the attempt, page by page, and matches the caption.
"""

from __future__ import annotations

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, Search
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.adapters.graph_api import VERSION, comment, graph_error, recent
from infrastructure.platforms.adapters.meta_containers import ContainerMaker
from infrastructure.platforms.http import Answer, Http, at_part, observed
from infrastructure.platforms.media_steps import Polling
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed, RefreshFailed


class InstagramAdapter:
    platform = Platform.INSTAGRAM
    limits = QUOTAS[Platform.INSTAGRAM]
    has_refresh = False  # a token that stops working needs a reconnect

    def __init__(
        self, http: Http, clock: Clock, files: MediaSource | None = None, polling: Polling | None = None
    ) -> None:
        self.http = http
        self.clock = clock
        self.containers = ContainerMaker(
            http, files, polling or Polling(), status_field="status_code", video_type="REELS", alt_for_video=False
        )

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.INSTAGRAM))

    @staticmethod
    def _auth(account: AccountAccess) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials['access_token']}"}

    def _root(self, account: AccountAccess) -> str:
        return f"{account.base_url}/{VERSION}"

    async def room(self, account: AccountAccess) -> int | None:
        """Posts the account may still publish in its moving 24 hours; None if unknown."""
        answer = await self.http.request(
            "GET",
            f"{self._root(account)}/{account.remote_user_id}/content_publishing_limit",
            headers=self._auth(account),
            params={"fields": "quota_usage,config"},
        )
        if isinstance(answer, Observed) or answer.status != 200 or not answer.body.get("data"):
            return None
        usage = answer.body["data"][0]
        total = int((usage.get("config") or {}).get("quota_total", self.limits[0]))
        return max(0, total - int(usage.get("quota_usage", 0)))

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        base = f"{self._root(account)}/{account.remote_user_id}"
        container = intent.containers.get(1)
        if container is not None:
            status = await self.containers.status(container, self._root(account), self._auth(account))
            if status == "PUBLISHED":  # an earlier attempt published it: evidence, never twice
                return Observed(
                    kind=Observation.ALREADY_PUBLISHED,
                    platform_code="container_published",
                    part=1,
                    message=f"container {container} is already published",
                )
            if isinstance(status, Observed) or not status:
                return Observed(kind=Observation.CONNECT_ERROR, message=f"container {container}: status unknown")
            if status in ("EXPIRED", "ERROR"):
                container = None  # a new one is safe: nothing of the old one is visible
        if container is None:
            made = await self.containers.make(
                intent,
                1,
                intent.content.media,
                self._root(account),
                f"{base}/media",
                {"caption": intent.content.text},
                self._auth(account),
                graph_error,
            )
            if isinstance(made, Observed):
                return made.model_copy(update={"part": 1})
            container = made
            await progress.container(1, container)
        answer = await self.http.request(
            "POST", f"{base}/media_publish", headers=self._auth(account), params={"creation_id": container}
        )
        outcome = self._outcome(answer)
        comment = intent.content.first_comment
        if outcome.kind is Observation.ACCEPTED and outcome.remote_id and comment and not intent.comment_done:
            await self._first_comment(comment, outcome.remote_id, account, progress)
        return outcome

    def _outcome(self, answer: Answer | Observed) -> Observed:
        if (seen := at_part(answer, 1)) is not None:
            return seen
        assert isinstance(answer, Answer)
        if answer.status == 200 and answer.body.get("id"):
            remote_id = str(answer.body["id"])
            return observed(answer, Observation.ACCEPTED, remote_id=remote_id, permalink=permalink(remote_id), part=1)
        return graph_error(answer, 1)

    async def _first_comment(self, text: str, object_id: str, account: AccountAccess, progress: Progress) -> None:
        await comment(self.http, f"{self._root(account)}/{object_id}/comments", self._auth(account), text, progress)

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        url = f"{self._root(account)}/{account.remote_user_id}/media"
        return await recent(
            self.http,
            intent,
            url,
            self._auth(account),
            fields=("caption", "permalink"),
            platform="Instagram",
            whose="account",
        )

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("Instagram tokens are reconnected, not refreshed here")


def permalink(media_id: str) -> str:
    return f"https://www.instagram.com/p/{media_id}/"
