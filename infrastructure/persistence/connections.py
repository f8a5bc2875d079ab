"""The read models' tables, in the same database as the events (SQLite file or PostgreSQL).

SQL is written once with `%s` placeholders; the SQLite side translates them to `?`. On
PostgreSQL every transaction borrows a connection from the event store's own pool, so a
process holds no more connections than that pool's size, whatever it runs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

DDL_LOCK = 0x48524C44  # advisory lock class of table creation ("HRLD"), keyed by schema


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...


class ReadStore(Protocol):
    dialect: str  # "sqlite" or "postgres"

    @contextmanager
    def transaction(self) -> Iterator[Cursor]: ...
    @contextmanager
    def creating(self) -> Iterator[Cursor]:
        """A transaction for CREATE … IF NOT EXISTS: processes starting at once take turns (on
        PostgreSQL two such creations can otherwise both proceed and one fail on the catalog)."""
        ...

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A cursor whose statements each run on their own: no BEGIN and COMMIT round trips,
        for reads that need no snapshot shared between statements."""
        ...

    def close(self) -> None: ...


def on_postgres(cursor: Cursor) -> bool:
    return hasattr(cursor, "copy")  # a psycopg cursor; SQLite's has no COPY


def _arrays(names: Sequence[str], types: dict[str, str]) -> str:
    """One binary array parameter per column, for `unnest` (`types` names the non-text columns)."""
    return ", ".join(f"%b::{types.get(name, 'text')}[]" for name in names)


def insert_rows(cursor: Cursor, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
    """Append rows to a table: COPY on PostgreSQL (several times faster), executemany on SQLite."""
    if not rows:
        return
    if on_postgres(cursor):
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def bytewise(cursor: Cursor) -> str:
    """A column's collation for ids compared byte by byte: PostgreSQL's "C" (a locale's, even
    C.UTF-8, sorts through `strcoll` without abbreviated keys: a replay's key builds take ~40%
    longer), SQLite's default already."""
    return ' COLLATE "C"' if on_postgres(cursor) else ""


def upsert_rows(
    cursor: Cursor, table: str, key: str, columns: Sequence[str], rows: list[list[Any]], types: dict[str, str]
) -> None:
    """Insert rows, or set every one of `columns` on the row whose `key` is there already (each
    row: the key, then the values; each key once).

    On PostgreSQL one statement over unnested arrays, sent in binary (`types` names the
    non-text columns): a statement per row cost the client ~4 µs more per row, even pipelined,
    and psycopg escapes a text array's every element in Python; executemany on SQLite."""
    if not rows:
        return
    names = [key, *columns]
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
    conflict = f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    if on_postgres(cursor):
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({_arrays(names, types)}) {conflict}",
            [list(values) for values in zip(*rows, strict=True)],
        )
    else:
        marks = ", ".join(["%s"] * len(names))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) {conflict}", rows)


def update_rows(
    cursor: Cursor, table: str, key: str, columns: Sequence[str], rows: list[list[Any]], types: dict[str, str]
) -> None:
    """Set `columns` on the rows whose `key` matches (each row: the values, then the key).

    On PostgreSQL one statement over unnested arrays, sent in binary (`types` names the
    non-text columns), so a batch costs one execution, not one per row; executemany on SQLite."""
    if not rows:
        return
    if on_postgres(cursor):
        names = [*columns, key]
        sets = ", ".join(f"{name} = v.{name}" for name in columns)
        cursor.execute(
            f"UPDATE {table} AS t SET {sets} FROM unnest({_arrays(names, types)}) AS v ({', '.join(names)})"
            f" WHERE t.{key} = v.{key}",
            [list(values) for values in zip(*rows, strict=True)],
        )
    else:
        assignments = ", ".join(f"{name} = %s" for name in columns)
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {key} = %s", rows)


def index_names(store: ReadStore, cursor: Cursor, table: str) -> list[str]:
    """Names of the indexes on `table`, the primary key's included where it has a name."""
    if store.dialect == "postgres":
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", [table]
        )
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
    return [found[0] for found in cursor.fetchall()]


def drop_indexes(cursor: Cursor, table: str) -> list[str]:
    """PostgreSQL: drop the table's indexes and keys; return the statements that recreate them.

    A bulk insert into an unindexed table, then one index build, beats updating the indexes row by row."""
    cursor.execute(
        "SELECT 'ALTER TABLE ' || c.conrelid::regclass || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' '"
        " || pg_get_constraintdef(c.oid), 'ALTER TABLE ' || c.conrelid::regclass || ' DROP CONSTRAINT '"
        " || quote_ident(c.conname) FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u')"
        " UNION ALL SELECT pg_get_indexdef(i.indexrelid), 'DROP INDEX ' || i.indexrelid::regclass FROM pg_index i"
        " WHERE i.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table, table],
    )
    found = cursor.fetchall()
    for _, drop in found:
        cursor.execute(drop)
    return [create for create, _ in found]


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("%s", "?"), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql.replace("%s", "?"), params)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class SQLiteReadStore:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL sync cannot corrupt and survives a crash; a power cut may undo the last
        # batches, which the tracking position (in the same transactions) then re-applies.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()  # one connection, used from worker threads one at a time

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(cursor)
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    @contextmanager
    def creating(self) -> Iterator[Cursor]:
        with self.transaction() as cursor:  # BEGIN IMMEDIATE already takes turns
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        with self._lock:
            yield _SQLiteCursor(self._conn.cursor())

    def close(self) -> None:
        self._conn.close()


class PostgresReadStore:
    """Transactions on connections borrowed from a psycopg pool (the event store's): each
    caller has its own connection, for as long as its transaction lasts."""

    dialect = "postgres"

    def __init__(self, pool: Any, env: dict[str, str]) -> None:
        self.pool = pool
        self.env = env

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        from psycopg.rows import tuple_row

        with self.pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=tuple_row) as cursor:
            yield cursor

    @contextmanager
    def creating(self) -> Iterator[Cursor]:
        with self.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [DDL_LOCK])
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        from psycopg.rows import tuple_row

        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:  # autocommit
            yield cursor

    def close(self) -> None:
        """The pool is the event store's, closed with it."""
