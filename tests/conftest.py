"""Shared fixtures: one `store_url` with two parameters, a real SQLite file and a real PostgreSQL.

The PostgreSQL half uses a fresh schema per test, dropped afterwards. It is skipped only when
scripts/test found no server outside CI (HERALD_SKIP_POSTGRES=1); with CI=true it never is.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.clock import ManualClock

# Every platform and webhook receiver in the tests is on 127.0.0.1 (the simulator, local
# receivers): the operator's switch for private targets is on for the whole suite, and for every
# process it starts. tests/e2e/test_targets.py turns it off to test the guard itself.
os.environ["HERALD_ALLOW_PRIVATE_TARGETS"] = "1"
# media files of PostgreSQL-backed tests go to a scratch folder, never into the checkout
os.environ.setdefault("HERALD_MEDIA_DIR", tempfile.mkdtemp(prefix="herald-media-"))
# processes the tests start log warnings only: many read their stderr only when they stop, and
# a line per attempt would fill the pipe (tests/e2e/test_logs.py turns info on to test it)
os.environ.setdefault("HERALD_LOG_LEVEL", "warning")

POSTGRES_URL = os.environ.get("HERALD_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


def postgres_skipped() -> bool:
    return os.environ.get("HERALD_SKIP_POSTGRES") == "1" and os.environ.get("CI") != "true"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/herald.db"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards; skips where PostgreSQL is
    unreachable outside CI."""
    if postgres_skipped():
        pytest.skip("PostgreSQL unreachable (scripts/test said so loudly)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]  # every scenario on both


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest) -> str:
    """The same scenario on both stores."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh HERALD_SECRET_KEY for tests that seal credentials."""
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("HERALD_SECRET_KEY", key)
    return key
