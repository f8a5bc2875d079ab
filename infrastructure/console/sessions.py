"""Console sessions: kept in the store, so any API process answers any signed-in browser.

The browser holds only a random token, in an HttpOnly, SameSite=Strict cookie; the store
holds its SHA-256, never the token, with the workspace, the key that signed in, the CSRF
token every form must send back, and when the session ends. A session ends at logout, after
its lifetime, or as soon as its key is revoked or loses the `support` scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from projections.facts import utc_text

if TYPE_CHECKING:
    from infrastructure.persistence.connections import ReadStore

LIFETIME = timedelta(hours=8)
TABLE = "console_sessions"


@dataclass(frozen=True)
class Session:
    workspace: str
    key_id: str
    csrf: str
    approver: bool  # the key may also approve posts waiting for approval

    def forged(self, sent: str | None) -> bool:
        """Whether a form's CSRF token is missing or not this session's (constant time)."""
        return forged(sent, self.csrf)


def forged(sent: str | None, expected: str) -> bool:
    """Whether a form's token is missing or not the one expected, compared in constant time."""
    return not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode())


class Sessions:
    def __init__(self, store: ReadStore) -> None:
        self.store = store
        with store.creating() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (token_hash TEXT PRIMARY KEY, workspace TEXT NOT NULL,"
                " key_id TEXT NOT NULL, csrf TEXT NOT NULL, approver INTEGER NOT NULL, ends_at TEXT NOT NULL)"
            )

    def open(self, workspace: str, key_id: str, approver: bool, now: datetime) -> str:
        """A new session; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE ends_at < %s", [utc_text(now)])  # the stale ones
            cursor.execute(
                f"INSERT INTO {TABLE} (token_hash, workspace, key_id, csrf, approver, ends_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [_hash(token), workspace, key_id, secrets.token_urlsafe(32), int(approver), utc_text(now + LIFETIME)],
            )
        return token

    def find(self, token: str | None, now: datetime) -> Session | None:
        if not token or len(token) > 100:
            return None
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT workspace, key_id, csrf, approver FROM {TABLE} WHERE token_hash = %s AND ends_at >= %s",
                [_hash(token), utc_text(now)],
            )
            row = cursor.fetchone()
        return Session(row[0], row[1], row[2], bool(row[3])) if row else None

    def close(self, token: str | None) -> None:
        if token:
            with self.store.transaction() as cursor:
                cursor.execute(f"DELETE FROM {TABLE} WHERE token_hash = %s", [_hash(token)])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
