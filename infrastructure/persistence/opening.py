"""Opening the event store: one readable line for every way it can refuse, a wait for a full
server, and retries of the library's table creation when processes start at once."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import PersistenceError

from infrastructure.store import StoreUnavailable, postgres_connection, redact

T = TypeVar("T")


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


def opened(url: str, env: dict[str, str], make: Callable[[], T]) -> T:
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
