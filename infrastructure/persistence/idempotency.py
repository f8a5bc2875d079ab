"""Idempotency records: (workspace, key) → the first request's hash and its stored answer.

Stored answers are sealed when a secret key is configured: a first answer may carry a secret
shown once (a webhook endpoint's signing secret), and no secret is kept in plain text.

On PostgreSQL a post's creation records its key in the transaction that saves the post
(`joined`, `services/joined_writes.py`): the key is taken if and only if the post is saved.
A key another request took first (`KeyTaken`) rolls that save back; the caller then looks the
key up as `begin` does, and replays the first answer.

A joined key is recorded with its answer, by reference: the post it created, at the version
that save left it (`PostAnswer`). Nothing is written after the commit, so a process killed
between the commit and its reply leaves a key whose retry replays the post, where an answer
stored apart would have left it in flight (409 for a minute, then a second post).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from domain.errors import HeraldError
from infrastructure.persistence.connections import ReadStore
from services.joined_writes import JoinedWrite
from services.ports import Clock

IN_FLIGHT_FOR = timedelta(seconds=60)  # an in-flight record older than this is treated as abandoned
KEEP_FOR = timedelta(hours=48)  # answers are replayed for at least 24 hours


class KeyReused(HeraldError):
    code = "idempotency_key_reused"
    field = "Idempotency-Key"


class KeyInUse(HeraldError):
    code = "idempotency_key_in_use"
    field = "Idempotency-Key"


class KeyTaken(Exception):
    """A joined save's key was recorded by another request first: the save is rolled back."""


class PostAnswer(NamedTuple):
    """A stored answer by reference: the post a request created, as its save left it."""

    post_id: UUID
    version: int

    def stored(self) -> str:
        return f"post:{self.post_id}:{self.version}"  # no JSON body starts so

    @classmethod
    def parsed(cls, body: str) -> PostAnswer | None:
        if not body.startswith("post:"):
            return None
        post_id, version = body.removeprefix("post:").split(":")
        return cls(UUID(post_id), int(version))


class IdempotencyStore:
    def __init__(self, store: ReadStore, clock: Clock, sealer: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.clock = clock
        self._sealer = sealer
        with store.creating() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS api_idempotency (workspace TEXT NOT NULL, key TEXT NOT NULL,"
                " request_hash TEXT NOT NULL, status INTEGER, body TEXT, created_at TEXT NOT NULL,"
                " PRIMARY KEY (workspace, key))"
            )

    def begin(self, workspace: str, key: str, request_hash: str) -> tuple[int, str | PostAnswer] | None:
        """None: go ahead (the key is now in flight). Else the stored (status, body) to replay;
        the body of a creation's joined record is the post it refers to."""
        now = self.clock()
        insert = (
            "INSERT INTO api_idempotency (workspace, key, request_hash, created_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (workspace, key) DO NOTHING"
        )
        with self.store.reading() as cursor:  # a new key, the usual case: one statement
            cursor.execute(insert, [workspace, key, request_hash, now.isoformat()])
            if cursor.rowcount == 1:
                return None
        with self.store.transaction() as cursor:
            cursor.execute(
                "SELECT request_hash, status, body, created_at FROM api_idempotency WHERE workspace = %s AND key = %s",
                [workspace, key],
            )
            found = cursor.fetchone()
            if found is not None:
                stored_hash, status, body, created = found
                age = now - datetime.fromisoformat(created)
                if age > KEEP_FOR or (status is None and age > IN_FLIGHT_FOR):
                    cursor.execute("DELETE FROM api_idempotency WHERE workspace = %s AND key = %s", [workspace, key])
                elif stored_hash != request_hash:
                    raise KeyReused("this Idempotency-Key was used with a different request")
                elif status is None:
                    raise KeyInUse("the first request with this Idempotency-Key is still in flight")
                else:
                    return int(status), PostAnswer.parsed(body) or self._open(str(body), workspace, key)
            cursor.execute(insert, [workspace, key, request_hash, now.isoformat()])
            if cursor.rowcount == 0:  # a request with the same key got there between our read and write
                raise KeyInUse("the first request with this Idempotency-Key is still in flight")
        return None

    def joined(
        self, workspace: str, key: str, request_hash: str, post_id: UUID, status: int, answered: Callable[[], None]
    ) -> JoinedWrite:
        """The key, recorded by the transaction that saves the post the request creates, with
        `status` and that post as the save leaves it for answer (`answered` is then called).
        A save that does not hold the post records the key in flight, for `finish`."""
        created = self.clock().isoformat()

        def row_of(events: Sequence[Any]) -> tuple[str, str, str, str, int | None, str | None]:
            versions = [event.originator_version for event in events if event.originator_id == post_id]
            if not versions:
                return (workspace, key, request_hash, created, None, None)
            answered()
            return (workspace, key, request_hash, created, status, PostAnswer(post_id, max(versions)).stored())

        return JoinedWrite(self._record_keys, row_of=row_of)

    def _record_keys(self, cursor: Any, rows: list[tuple[str, str, str, str, int | None, str | None]]) -> None:
        """Every joined key in one statement; a spent record (kept past its time, or in flight
        past `IN_FLIGHT_FOR`) is taken over as `begin` would. Raises `KeyTaken` unless all are new."""
        if len({(workspace, key) for workspace, key, *_ in rows}) < len(rows):
            raise KeyTaken("two requests in one save carry the same key")
        now = datetime.fromisoformat(rows[0][3])
        cursor.execute(
            "INSERT INTO api_idempotency (workspace, key, request_hash, created_at, status, body)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[])"
            " ON CONFLICT (workspace, key) DO UPDATE SET request_hash = excluded.request_hash,"
            "  status = excluded.status, body = excluded.body, created_at = excluded.created_at"
            " WHERE api_idempotency.created_at::timestamptz < %s"
            "  OR (api_idempotency.status IS NULL AND api_idempotency.created_at::timestamptz < %s)"
            " RETURNING key",
            [*(list(column) for column in zip(*rows, strict=True)), now - KEEP_FOR, now - IN_FLIGHT_FOR],
        )
        if len(cursor.fetchall()) < len(rows):
            raise KeyTaken("a request with the same key was recorded first")

    def finish(self, workspace: str, key: str, status: int, body: str) -> None:
        body = self._seal(body, workspace, key)
        with self.store.reading() as cursor:  # one statement: its own transaction
            cursor.execute(
                "UPDATE api_idempotency SET status = %s, body = %s WHERE workspace = %s AND key = %s",
                [status, body, workspace, key],
            )

    def abandon(self, workspace: str, key: str) -> None:
        """An answer not to keep (a server error): the client may retry with the same key."""
        with self.store.transaction() as cursor:
            cursor.execute("DELETE FROM api_idempotency WHERE workspace = %s AND key = %s", [workspace, key])

    def _seal(self, body: str, workspace: str, key: str) -> str:
        try:
            sealer = self._sealer() if self._sealer else None
        except HeraldError:
            sealer = None  # no key configured: then no answer can carry a secret either
        return "sealed:" + sealer.seal({"body": body}, f"{workspace}/{key}") if sealer else body

    def _open(self, body: str, workspace: str, key: str) -> str:
        if not body.startswith("sealed:") or self._sealer is None:
            return body
        return str(self._sealer().open(body.removeprefix("sealed:"), f"{workspace}/{key}")["body"])
