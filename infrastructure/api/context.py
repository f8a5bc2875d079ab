"""What the API's handlers share: the services, the read models, and the guards' state."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from infrastructure.api.guards import IdempotencyStore, RateLimiter
from projections.due_index import DueIndex
from projections.read_store import ReadStore
from projections.runner import ProjectionRunner
from projections.timeline import Timeline
from services.account_service import AccountService
from services.post_service import PostService
from services.webhooks import WebhookService
from services.workspace_service import WorkspaceService


@dataclass
class Context:
    posts: PostService
    accounts: AccountService
    workspaces: WorkspaceService
    store: ReadStore
    webhooks: WebhookService
    idempotency: IdempotencyStore
    limiter: RateLimiter
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
    _catching_up: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.runners = {
            "due_index": ProjectionRunner(self.posts, self.store, DueIndex()),
            "timeline": ProjectionRunner(self.posts, self.store, Timeline()),
        }

    def caught_up(self, name: str) -> None:
        """Read models lag the log a little; a read through the API first folds what is new."""
        with self._catching_up:
            self.runners[name].catch_up()

    def page(self, workspace: str, after: int, limit: int, filters: dict[str, Any]) -> list[tuple[str, int]]:
        self.caught_up("due_index")
        with self.store.transaction() as cursor:
            return DueIndex().page(cursor, workspace, after, limit, filters)

    def timeline_rows(self, post_id: str) -> list[dict[str, Any]]:
        self.caught_up("timeline")
        with self.store.transaction() as cursor:
            return Timeline().rows(cursor, post_id)

    def close(self) -> None:
        for service in (self.posts, self.accounts, self.workspaces, self.webhooks):
            service.close()
