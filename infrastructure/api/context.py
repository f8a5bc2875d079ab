"""What the API's handlers share: the Herald parts, the read models, and the guards' state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.errors import PostNotFound
from infrastructure.api.strangers import Strangers
from infrastructure.persistence.idempotency import IdempotencyStore
from infrastructure.persistence.rate_limit import RateLimiter
from projections.due_index import DueIndex, Waiting
from projections.post_list import PostList
from projections.runner import ProjectionRunner
from projections.timeline import Timeline

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald
    from infrastructure.media.signed import MediaLinks
    from services.account_service import AccountService
    from services.posts import PostCommands
    from services.webhooks import WebhookService
    from services.workspace_service import WorkspaceService


@dataclass
class Context:
    herald: Herald
    idempotency: IdempotencyStore
    limiter: RateLimiter
    strangers: Strangers
    generic_platform: bool = False  # posts of unconnected accounts go to a generic platform
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
    _catching_up: threading.Lock = field(default_factory=threading.Lock)
    _links: MediaLinks | None = None
    # look-ups get threads of their own: under a write load the default executor's threads are
    # all busy saving, and a timeline read would queue behind them
    reads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="reads"))

    def __post_init__(self) -> None:
        self.runners = {
            "due_index": self.herald.runner(DueIndex()),
            "post_list": self.herald.runner(PostList()),
            "timeline": self.herald.runner(Timeline()),
        }

    def media_links(self) -> MediaLinks:
        """Signed URLs for media files (HERALD_PUBLIC_URL; the key from HERALD_SECRET_KEY)."""
        if self._links is None:
            from infrastructure.media.signed import MediaLinks, public_base
            from infrastructure.secrets import secret_key

            self._links = MediaLinks(
                secret_key(purpose="media links cannot be signed"), public_base(), self.herald.clock
            )
        return self._links

    @property
    def joins_writes(self) -> bool:
        """Whether a request's own writes can join its events' transaction: on PostgreSQL, where
        the read models and the events share one database (`services/joined_writes.py`)."""
        return self.herald.read_store.dialect == "postgres"

    @property
    def posts(self) -> PostCommands:
        return self.herald.posts

    @property
    def accounts(self) -> AccountService:
        return self.herald.accounts

    @property
    def workspaces(self) -> WorkspaceService:
        return self.herald.workspaces

    @property
    def webhooks(self) -> WebhookService:
        return self.herald.webhooks

    def caught_up(self, name: str) -> None:
        """Read models lag the log a little; a read through the API first folds what is new."""
        with self._catching_up:
            self.runners[name].catch_up()

    def page(self, workspace: str, after: int, limit: int, filters: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
        """A page of the workspace's posts, as the list read model holds them."""
        self.caught_up("post_list")
        return self.herald.post_list.page(workspace, after, limit, filters)

    def needing_attention(self, workspace: str) -> list[Waiting]:
        self.caught_up("due_index")
        return self.herald.due_index.needing_attention(workspace, 500)

    def own_timeline(self, workspace: str, post_id: str) -> list[dict[str, Any]]:
        """The post's timeline rows, if the post is the workspace's: one autocommit statement
        when the projection holds the post's newest event (as it does once the projection part
        has run); a catch-up first only when it lags this post. No aggregate is folded."""
        latest, rows = self.herald.timeline.rows_and_latest(post_id)
        if latest is not None and (not rows or rows[-1]["version"] < latest):
            self.caught_up("timeline")
            latest, rows = self.herald.timeline.rows_and_latest(post_id)
        if latest is None or not rows or rows[-1]["workspace"] != workspace:
            raise PostNotFound(f"no post with id {post_id}")
        return rows

    def close(self) -> None:
        self.reads.shutdown(wait=False)
        self.herald.close()
