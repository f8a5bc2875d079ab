"""The one place where Herald is wired: which store, which clock, which settings."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import aiohttp
from eventsourcing.persistence import PersistenceError

from domain.content import Platform
from domain.decisions import RetryPolicy
from domain.errors import InvalidSetting
from infrastructure.batch_reads import events_of
from infrastructure.platforms.adapters.bluesky import BlueskyAdapter
from infrastructure.platforms.adapters.linkedin import LinkedInAdapter
from infrastructure.platforms.adapters.mastodon import MastodonAdapter
from infrastructure.platforms.adapters.threads import ThreadsAdapter
from infrastructure.platforms.adapters.x import XAdapter
from infrastructure.platforms.http import Http
from infrastructure.platforms.simulated import SimulatedPlatform
from infrastructure.secrets import Sealer
from infrastructure.store import StoreUnavailable, database_url, redact, store_env
from projections.read_store import ReadStore, open_read_store, postgres_connection
from services.account_service import AccountService
from services.post_service import Clock, PostService, system_clock
from services.results import PostSettings
from services.routing import AccountRouter, FixedRouter
from services.webhooks import WebhookService
from services.workspace_service import WorkspaceService

T = TypeVar("T")


def open_service(
    url: str | None = None,
    *,
    clock: Clock = system_clock,
    settings: PostSettings | None = None,
) -> PostService:
    """The command service on the store named by `url` (default: HERALD_DATABASE_URL).

    Raises `StoreUnavailable` with one readable line if the store cannot be used.
    """
    env, url = _store(url)

    def make() -> PostService:
        service = PostService(env, clock=clock, settings=settings or settings_from_env())
        service.store_env = env
        service.read_many = lambda ids: events_of(service.recorder, ids)
        wire_quotas(service)
        wire_account_settings(service, env, clock)
        return service

    return _opened(url, make)


def wire_account_settings(service: PostService, env: dict[str, str], clock: Clock) -> None:
    """Scheduling reads each account's own limits (quota_limit, Mastodon's max_characters)."""
    accounts = _accounts(env, clock)
    service.closers.append(accounts.close)
    service.account_settings = accounts.settings_of


CATCH_UP_EVERY = 0.2  # seconds between the quota check's folds of the due index, per process


def wire_quotas(service: PostService) -> None:
    """Scheduling checks each account's posting windows against the due index."""
    from projections.due_index import DueIndex, instant
    from projections.runner import ProjectionRunner

    state: dict[str, Any] = {}

    def booked(workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        if "runner" not in state:
            store = open_read_store_for(service)
            state["store"], state["runner"], state["caught_up"] = (
                store,
                ProjectionRunner(service, store, DueIndex()),
                0.0,
            )
        if time.monotonic() - state["caught_up"] > CATCH_UP_EVERY:
            state["runner"].catch_up()  # this process's own bookings are added by the service meanwhile
            state["caught_up"] = time.monotonic()
        with state["store"].transaction() as cursor:
            cursor.execute(
                "SELECT post_id, due_at FROM due_index WHERE workspace = %s AND account = %s AND due_at >= %s"
                " AND state IN ('queued', 'dispatched', 'ambiguous', 'delivered') ORDER BY due_at LIMIT 10000",
                [workspace, account, instant(since)],
            )
            return {UUID(row[0]): datetime.fromisoformat(row[1]) for row in cursor.fetchall()}

    service.booked = booked


def prepare_postgres(env: dict[str, str]) -> None:
    """Connect once to surface the server's own reason for refusing (the library's pool only
    says it timed out), and create the schema named in the URL if it is missing."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(**postgres_connection(env)) as conn:  # type: ignore[arg-type]
            if env["POSTGRES_SCHEMA"]:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"])))
    except psycopg.errors.UniqueViolation:
        pass  # another process created it a moment ago
    except psycopg.Error as problem:
        raise OSError(first_line(problem)) from problem


def first_line(problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]


def open_accounts(url: str | None = None, *, clock: Clock = system_clock) -> AccountService:
    """The account service on the same store; HERALD_SECRET_KEY is read when first needed."""
    env, url = _store(url)
    return _opened(url, lambda: _accounts(env, clock))


def _accounts(env: dict[str, str], clock: Clock) -> AccountService:
    accounts = AccountService(env, sealer=Sealer.from_env, clock=clock)
    accounts.read_many = lambda ids: events_of(accounts.recorder, ids)
    return accounts


def open_workspaces(url: str | None = None, *, clock: Clock = system_clock) -> WorkspaceService:
    env, url = _store(url)
    return _opened(url, lambda: WorkspaceService(env, clock=clock))


def open_webhooks(url: str | None = None, *, clock: Clock = system_clock) -> WebhookService:
    env, url = _store(url)
    return _opened(url, lambda: WebhookService(env, clock=clock))


def _store(url: str | None) -> tuple[dict[str, str], str]:
    url = url or database_url()
    return store_env(url), url


def _opened(url: str, make: Callable[[], T]) -> T:
    """Build an application on the store, turning any refusal into one readable line.

    Several processes starting at once all run the library's CREATE … IF NOT EXISTS and
    CREATE OR REPLACE FUNCTION; PostgreSQL can refuse such concurrent DDL ("tuple concurrently
    updated"), so a refusal of that kind is retried a few times before it is reported.
    """
    env = store_env(url)
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


def open_read_store_for(service: PostService) -> ReadStore:
    """The projections' tables, in the same database as the service's events."""
    try:
        store = open_read_store(service.store_env)
        service.closers.append(store.close)
        return store
    except Exception as problem:  # psycopg or sqlite3 refusing: one line, naming the setting
        raise StoreUnavailable(f"cannot open the read tables: {first_line(problem)}") from problem


def simulator_platforms(base_url: str, session: aiohttp.ClientSession, clock: Clock, timeout: float) -> FixedRouter:
    """Every post to the generic platform simulator at `base_url`, whatever its account."""
    return FixedRouter(SimulatedPlatform(base_url, session, clock, timeout=timeout))


def account_router(
    posts: PostService,
    accounts: AccountService,
    session: aiohttp.ClientSession,
    *,
    timeout: float = 10.0,
    fallback_url: str | None = None,
) -> AccountRouter:
    """Each post to its account's platform adapter; unknown accounts to `fallback_url` if given."""
    http = Http(session, timeout=timeout)
    adapters = {
        Platform.X: XAdapter(http, posts.clock),
        Platform.MASTODON: MastodonAdapter(http),
        Platform.BLUESKY: BlueskyAdapter(http),
        Platform.LINKEDIN: LinkedInAdapter(http),
        Platform.THREADS: ThreadsAdapter(http, posts.clock),
    }
    fallback = SimulatedPlatform(fallback_url, session, posts.clock, timeout=timeout) if fallback_url else None
    return AccountRouter(accounts, posts, adapters, fallback=fallback)  # type: ignore[arg-type]


def api_context(url: str | None = None, *, clock: Clock = system_clock, creations_per_minute: int | None = None) -> Any:
    """Everything the HTTP API needs, on one store."""
    from infrastructure.api.context import Context
    from infrastructure.api.guards import IdempotencyStore, RateLimiter

    posts = open_service(url, clock=clock)
    store = open_read_store_for(posts)
    limit = creations_per_minute or int(os.environ.get("HERALD_API_CREATIONS_PER_MINUTE", "120"))
    accounts = open_accounts(url, clock=clock)
    return Context(
        posts=posts,
        accounts=accounts,
        workspaces=open_workspaces(url, clock=clock),
        store=store,
        webhooks=open_webhooks(url, clock=clock),
        idempotency=IdempotencyStore(store, clock, sealer=lambda: accounts.sealer),
        limiter=RateLimiter(limit=limit, clock=clock, store=store),
    )


async def postgres_wake(service: PostService) -> Any:
    """A dispatcher's wake-up on PostgreSQL: LISTEN on the events table's channel, so a post
    that is scheduled, retried or released wakes an idle dispatcher at once (no fixed poll).
    None on SQLite, where the dispatcher sleeps until the next due instant (at most idle_poll)."""
    env = service.store_env
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return None
    import psycopg

    conn = await psycopg.AsyncConnection.connect(**postgres_connection(env))  # type: ignore[arg-type]
    await conn.execute(f"LISTEN {service.recorder.channel_name}")  # type: ignore[attr-defined]

    async def wake(timeout: float) -> None:
        async for _ in conn.notifies(timeout=timeout, stop_after=1):
            return

    return wake
