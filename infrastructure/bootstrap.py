"""The one place where Herald is wired: which store, which clock, which settings, which parts.

`bootstrap(url)` builds a `Herald`: one event store with one pool of connections, the read
models over that pool, and every service, each given its ports through its constructor.
Every kind of process (the API, a dispatcher, the projection runner, `serve`, each CLI
command) starts here, and takes from it the parts it runs.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import PersistenceError

from domain.decisions import RetryPolicy
from domain.errors import InvalidSetting
from infrastructure.persistence.connections import PostgresReadStore, ReadStore, SQLiteReadStore
from infrastructure.persistence.due_index import SqlDueIndex
from infrastructure.persistence.events import HeraldEvents
from infrastructure.persistence.projection_store import SqlProjectionStore
from infrastructure.persistence.stats import SqlStats
from infrastructure.persistence.timeline import SqlTimeline
from infrastructure.persistence.webhook_outbox import SqlOutbox
from infrastructure.secrets import Sealer
from infrastructure.store import StoreUnavailable, database_url, postgres_connection, redact, store_env
from projections.due_index import DueIndex
from projections.runner import Projection, ProjectionRunner
from projections.webhook_outbox import WebhookOutbox
from services.account_service import AccountService
from services.booking import Booking, IndexBookings
from services.content_rules import ContentRules
from services.dispatching import DispatchCommands
from services.ports import Clock, system_clock
from services.post_repository import PostRepository
from services.posts import PostCommands
from services.reconciler import Reconciler
from services.results import PostSettings
from services.webhook_sender import WebhookSender
from services.webhooks import WebhookService
from services.workspace_service import WorkspaceService

if TYPE_CHECKING:
    import aiohttp

    from infrastructure.api.context import Context
    from infrastructure.persistence.listener import Listener
    from services.dispatcher import Dispatcher, DispatchSettings
    from services.pacing import Pacer
    from services.routing import AccountRouter, FixedRouter, Router

T = TypeVar("T")


@dataclass
class Herald:
    """Every part of one Herald process, on one store. Close it when done."""

    events: HeraldEvents
    clock: Clock
    settings: PostSettings
    read_store: ReadStore
    projections: SqlProjectionStore
    due_index: SqlDueIndex
    timeline: SqlTimeline
    stats: SqlStats
    outbox: SqlOutbox
    rules: ContentRules
    booking: Booking
    posts: PostCommands
    dispatch: DispatchCommands
    accounts: AccountService
    workspaces: WorkspaceService
    webhooks: WebhookService
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.events.env)

    def runner(self, projection: Projection, batch_size: int = 1000, suffix: str = "") -> ProjectionRunner:
        """A runner that folds `projection` from the log into its tables."""
        return ProjectionRunner(self.projections, projection, batch_size=batch_size, suffix=suffix)

    def reconciler(self, router: Router) -> Reconciler:
        return Reconciler(self.dispatch, self.due_index, router, self.clock)

    def dispatcher(
        self, router: Router, settings: DispatchSettings, *, wake: Any = None, pacer: Pacer | None = None
    ) -> Dispatcher:
        """A dispatcher with its reconciler and its due-index runner."""
        from services.dispatcher import Dispatcher

        runner = self.runner(DueIndex())
        reconciler = self.reconciler(router)
        return Dispatcher(
            self.dispatch,
            self.due_index,
            runner,
            reconciler,
            router,
            settings,
            clock=self.clock,
            pacer=pacer,
            wake=wake,
        )

    def account_router(
        self, session: aiohttp.ClientSession, *, timeout: float = 10.0, fallback_url: str | None = None
    ) -> AccountRouter:
        """Each post to its account's platform adapter; unknown accounts to `fallback_url` if given."""
        from infrastructure.platforms.catalog import adapters
        from infrastructure.platforms.http import Http
        from infrastructure.platforms.simulated import SimulatedPlatform
        from services.routing import AccountRouter

        http = Http(session, timeout=timeout)
        fallback = SimulatedPlatform(fallback_url, session, self.clock, timeout=timeout) if fallback_url else None
        return AccountRouter(
            self.accounts, self.dispatch, adapters(http, self.clock), clock=self.clock, fallback=fallback
        )

    def simulator_router(self, base_url: str, session: aiohttp.ClientSession, timeout: float) -> FixedRouter:
        """Every post to the generic platform simulator at `base_url`, whatever its account."""
        from infrastructure.platforms.simulated import SimulatedPlatform
        from services.routing import FixedRouter

        return FixedRouter(SimulatedPlatform(base_url, session, self.clock, timeout=timeout))

    def webhook_sender(self) -> WebhookSender:
        endpoints_of = lambda workspace: [  # noqa: E731
            (e.endpoint_id, e.url, e.events) for e in self.workspaces.endpoints(workspace)
        ]
        runner = self.runner(WebhookOutbox(endpoints_of))
        return WebhookSender(self.webhooks, self.workspaces, lambda: self.accounts.sealer, self.outbox, runner)

    def api_context(self, creations_per_minute: int | None = None) -> Context:
        """Everything the HTTP API needs."""
        from infrastructure.api.context import Context
        from infrastructure.persistence.idempotency import IdempotencyStore
        from infrastructure.persistence.rate_limit import RateLimiter

        limit = creations_per_minute or _whole_number("HERALD_API_CREATIONS_PER_MINUTE", 120)
        return Context(
            herald=self,
            idempotency=IdempotencyStore(self.read_store, self.clock, sealer=lambda: self.accounts.sealer),
            limiter=RateLimiter(limit=limit, clock=self.clock, store=self.read_store),
        )

    def listener(self) -> Listener | None:
        """A LISTEN on new events (PostgreSQL), holding one connection of the pool; None on SQLite."""
        from infrastructure.persistence.listener import Listener

        if self.events.pool is None:
            return None
        listener = Listener(self.events.pool, self.events.recorder.channel_name)  # type: ignore[attr-defined]
        self._closers.append(listener.close)
        return listener

    def close(self) -> None:
        """Close what was opened: listeners, the read store, the pool."""
        while self._closers:
            self._closers.pop()()
        self.read_store.close()
        self.events.close()


def bootstrap(
    url: str | None = None,
    *,
    clock: Clock = system_clock,
    settings: PostSettings | None = None,
    pool_size: int | None = None,
) -> Herald:
    """Herald on the store named by `url` (default: HERALD_DATABASE_URL).

    Raises `StoreUnavailable` with one readable line if the store cannot be used."""
    url = url or database_url()
    env = store_env(url)
    if pool_size is not None and env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["POSTGRES_POOL_SIZE"] = str(max(int(env["POSTGRES_POOL_SIZE"]), pool_size))
    settings = settings or settings_from_env()
    events = _opened(url, env, lambda: HeraldEvents(env))
    read_store: ReadStore = (
        PostgresReadStore(events.pool, env) if events.pool is not None else SQLiteReadStore(env["SQLITE_DBNAME"])
    )
    due_index = SqlDueIndex(read_store)
    projections = SqlProjectionStore(read_store, events.mapper)
    accounts = AccountService(events, sealer=Sealer.from_env, clock=clock)
    rules = ContentRules(accounts.settings_of)
    booking = Booking(IndexBookings(lambda: ProjectionRunner(projections, DueIndex()), due_index), rules)
    repository = PostRepository(events)
    return Herald(
        events=events,
        clock=clock,
        settings=settings,
        read_store=read_store,
        projections=projections,
        due_index=due_index,
        timeline=SqlTimeline(read_store),
        stats=SqlStats(read_store),
        outbox=SqlOutbox(read_store),
        rules=rules,
        booking=booking,
        posts=PostCommands(repository, booking=booking, rules=rules, clock=clock, settings=settings),
        dispatch=DispatchCommands(
            repository, rules=rules, account_settings=accounts.settings_of, clock=clock, settings=settings
        ),
        accounts=accounts,
        workspaces=WorkspaceService(events, clock=clock),
        webhooks=WebhookService(events, clock=clock),
    )


def settings_from_env(environ: dict[str, str] | None = None) -> PostSettings:
    """Post settings from HERALD_* variables (seconds), each checked with a clear message."""
    environ = dict(os.environ) if environ is None else environ

    def seconds(name: str, default: float) -> float:
        text = environ.get(name)
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if value < 0:
            raise InvalidSetting(f"{name}={text!r} must be a number of seconds, 0 or more", field=name)
        return value

    defaults = PostSettings()
    policy = defaults.retry_policy
    return PostSettings(
        grace=timedelta(seconds=seconds("HERALD_GRACE_SECONDS", defaults.grace.total_seconds())),
        freeze=timedelta(seconds=seconds("HERALD_FREEZE_SECONDS", defaults.freeze.total_seconds())),
        lease=timedelta(seconds=seconds("HERALD_LEASE_SECONDS", defaults.lease.total_seconds())),
        retry_policy=RetryPolicy(
            base_seconds=seconds("HERALD_RETRY_BASE_SECONDS", policy.base_seconds) or policy.base_seconds,
            cap_seconds=seconds("HERALD_RETRY_CAP_SECONDS", policy.cap_seconds) or policy.cap_seconds,
            max_attempts=int(seconds("HERALD_RETRY_MAX_ATTEMPTS", policy.max_attempts)) or 1,
            jitter=min(1.0, seconds("HERALD_RETRY_JITTER", policy.jitter)),
        ),
    )


def _whole_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InvalidSetting(f"{name}={text!r} must be a whole number, 1 or more", field=name)
    return int(text)


FULL_FOR = 60.0  # seconds a full server is waited for at start-up before giving up


def prepare_postgres(env: dict[str, str]) -> None:
    """Connect once to surface the server's own reason for refusing (the library's pool only
    says it timed out), and create the schema named in the URL if it is missing. A server with
    no free connection is waited for, with backoff, saying so once."""
    import psycopg
    from psycopg import sql

    waited, tries = 0.0, 0
    while True:
        try:
            with psycopg.connect(**postgres_connection(env)) as conn:  # type: ignore[arg-type]
                if env["POSTGRES_SCHEMA"]:
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
                    )
            return
        except psycopg.errors.UniqueViolation:
            return  # another process created it a moment ago
        except psycopg.OperationalError as problem:
            if not _server_full(problem) or waited >= FULL_FOR:
                raise OSError(first_line(problem)) from problem
            if not tries:
                print(
                    f"herald: the PostgreSQL server has no free connection; waiting up to {FULL_FOR:.0f}s for one "
                    "(each Herald process holds at most its pool_size, default 4)",
                    file=sys.stderr,
                )
            pause = min(5.0, 0.2 * 2**tries) * (0.5 + random.random())
            time.sleep(pause)
            waited, tries = waited + pause, tries + 1
        except psycopg.Error as problem:
            raise OSError(first_line(problem)) from problem


def _server_full(problem: BaseException) -> bool:
    sqlstate = getattr(problem, "sqlstate", None)
    return sqlstate == "53300" or "too many clients" in str(problem) or "remaining connection slots" in str(problem)


def first_line(problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]


def _opened(url: str, env: dict[str, str], make: Callable[[], T]) -> T:
    """Build the event store, turning any refusal into one readable line.

    Several processes starting at once all run the library's CREATE … IF NOT EXISTS and
    CREATE OR REPLACE FUNCTION; PostgreSQL can refuse such concurrent DDL ("tuple concurrently
    updated"), so a refusal of that kind is retried a few times before it is reported.
    """
    for attempt in range(6):
        try:
            if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
                prepare_postgres(env)
            return make()
        except (PersistenceError, OSError) as problem:
            if attempt < 5 and _concurrent_ddl(problem):
                time.sleep(0.05 * 2**attempt * (1 + random.random()))
                continue
            raise StoreUnavailable(
                f"cannot open the store at HERALD_DATABASE_URL={redact(url)}: {first_line(problem)}"
            ) from problem
    raise AssertionError("unreachable")  # pragma: no cover


def _concurrent_ddl(problem: BaseException) -> bool:
    text = " ".join(str(p) for p in (problem, problem.__cause__, problem.__context__) if p)
    return "concurrently updated" in text or 'duplicate key value violates unique constraint "pg_' in text
