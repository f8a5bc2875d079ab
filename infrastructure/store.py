"""One setting picks the event store: HERALD_DATABASE_URL, mapped onto the library's settings."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.utils import get_topic

from domain.errors import HeraldError
from infrastructure.encoding import OrjsonTranscoder, PydanticMapper

SETTING = "HERALD_DATABASE_URL"
DEFAULT_URL = "sqlite:///./herald.db"


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
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.recorder:BinaryInsertRecorder",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": port,
            "POSTGRES_USER": unquote(parts.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", [""])[0],
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["2"])[0],
        }
    raise StoreUnavailable(
        f"{SETTING}={redact(url)!r} has scheme {parts.scheme!r}; "
        "use sqlite:///path.db or postgresql://user@host:port/db"
    )
