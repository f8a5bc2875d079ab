"""The one place where Herald is wired: which store, which clock, which settings."""

from __future__ import annotations

from eventsourcing.persistence import PersistenceError

from infrastructure.store import StoreUnavailable, database_url, redact, store_env
from services.post_service import Clock, PostService, system_clock
from services.results import PostSettings


def open_service(
    url: str | None = None,
    *,
    clock: Clock = system_clock,
    settings: PostSettings | None = None,
) -> PostService:
    """The command service on the store named by `url` (default: HERALD_DATABASE_URL).

    Raises `StoreUnavailable` with one readable line if the store cannot be used.
    """
    url = url or database_url()
    env = store_env(url)
    try:
        if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
            prepare_postgres(env)
        return PostService(env, clock=clock, settings=settings)
    except (PersistenceError, OSError) as problem:
        raise StoreUnavailable(
            f"cannot open the store at HERALD_DATABASE_URL={redact(url)}: {first_line(problem)}"
        ) from problem


def prepare_postgres(env: dict[str, str]) -> None:
    """Connect once to surface the server's own reason for refusing (the library's pool only
    says it timed out), and create the schema named in the URL if it is missing."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            autocommit=True,
        ) as conn:
            if env["POSTGRES_SCHEMA"]:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
                )
    except psycopg.errors.UniqueViolation:
        pass  # another process created it a moment ago
    except psycopg.Error as problem:
        raise OSError(first_line(problem)) from problem


def first_line(problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]
