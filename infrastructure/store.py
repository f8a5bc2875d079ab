"""One setting picks the event store: HERALD_DATABASE_URL, mapped onto the library's settings."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.utils import get_topic

from domain.errors import HeraldError
from infrastructure.encoding import OrjsonTranscoder, PydanticMapper

SETTING = "HERALD_DATABASE_URL"
DEFAULT_URL = "sqlite:///./herald.db"
POOL_SIZE = 4  # PostgreSQL connections per process, every part included (`?pool_size=` in the URL)


class StoreUnavailable(HeraldError):
    """The store named by HERALD_DATABASE_URL is malformed, unreachable or refuses us."""

    code = "store_unavailable"
    field = SETTING


def database_url(environ: dict[str, str] | None = None) -> str:
    environ = dict(os.environ) if environ is None else environ
    return environ.get(SETTING) or DEFAULT_URL


def redact(url: str) -> str:
    """The URL with any password replaced, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def store_env(url: str) -> dict[str, str]:
    """The eventsourcing library settings for `url` (`sqlite:///path` or `postgresql://...`)."""
    common = {
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or len(path) < 2:
            raise StoreUnavailable(
                f"{SETTING}={url!r} is not a SQLite URL; write sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            )
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path[1:],
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if parts.scheme in ("postgresql", "postgres"):
        try:
            port = str(parts.port or 5432)
        except ValueError:
            raise StoreUnavailable(f"{SETTING}={redact(url)!r} has an invalid port") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname:
            raise StoreUnavailable(
                f"{SETTING}={redact(url)!r} needs a host and a database: "
                "postgresql://user[:password]@host[:port]/database"
            )
        query = parse_qs(parts.query)
        pool_size = query.get("pool_size", [str(POOL_SIZE)])[0]
        if not pool_size.isdigit() or not 2 <= int(pool_size) <= 64:
            raise StoreUnavailable(f"{SETTING}={redact(url)!r}: pool_size must be a whole number from 2 to 64")
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.persistence.recorder:BinaryInsertRecorder",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": port,
            "POSTGRES_USER": unquote(parts.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", [""])[0],
            # the library waits this long for a free connection of its pool before giving up
            "POSTGRES_CONNECT_TIMEOUT": "30",
            # one pool per process, shared by every part: never more than this many connections
            "POSTGRES_POOL_SIZE": pool_size,
            "POSTGRES_MAX_OVERFLOW": "0",
        }
    raise StoreUnavailable(
        f"{SETTING}={redact(url)!r} has scheme {parts.scheme!r}; "
        "use sqlite:///path.db or postgresql://user@host:port/db"
    )


def postgres_connection(env: dict[str, str]) -> dict[str, object]:
    """psycopg connection arguments for the store settings `store_env` produced (one-off
    connections: the schema check at start-up)."""
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"] or None,
        "connect_timeout": 5,
        "autocommit": True,
    }
