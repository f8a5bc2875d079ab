"""`herald serve` supervises its parts: a part that raises is logged, restarted and shown on
/readyz; a part that keeps crashing stops serve with a non-zero exit, never "stopped cleanly"."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.processes import create_workspace, herald_env, reaped, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def probe(base: str, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(base + path, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def sql(postgres_url: str, statement: str) -> None:
    schema = postgres_url.rpartition("schema=")[2]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(statement)  # type: ignore[arg-type]


def wait_for(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.1)
    return found


def test_a_crashed_part_is_logged_restarted_and_shown_on_readyz(postgres_url: str) -> None:
    env = herald_env(postgres_url)
    create_workspace(env, "Watched")
    server, base = start_serve(env)
    with reaped(server):
        assert probe(base, "/healthz") == (200, {"alive": True})
        _status, ready = wait_for(lambda: (r := probe(base, "/readyz"))[0] == 200 and r)
        assert ready["ready"] and set(ready["parts"]) == {
            "api",
            "dispatcher",
            "projections",
            "webhooks",
            "planner",
            "engagement",
        }
        # every connection of the process is cut: the parts that were using one raise
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [f"herald-{server.pid}"],
            )
        restarted = wait_for(
            lambda: [name for name, part in probe(base, "/readyz")[1]["parts"].items() if part["restarts"]]
        )
        part = probe(base, "/readyz")[1]["parts"][restarted[0]]
        assert part["last_error"]
        wait_for(lambda: probe(base, "/readyz")[0] == 200)  # back, with the pool reconnected
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
        assert server.returncode == 0
        assert f"part {restarted[0]} crashed" in errors and "Traceback" in errors


def test_a_part_that_keeps_crashing_stops_serve_with_a_non_zero_exit(postgres_url: str) -> None:
    env = herald_env(postgres_url)
    create_workspace(env, "Doomed")
    server, base = start_serve(env)
    with reaped(server):
        wait_for(lambda: probe(base, "/readyz")[0] == 200)
        sql(postgres_url, "ALTER TABLE due_index DROP COLUMN not_before")  # the dispatcher's query breaks for good
        _status, body = wait_for(lambda: (r := probe(base, "/readyz"))[0] == 503 and r)
        assert body["parts"]["dispatcher"]["running"] is False or body["parts"]["dispatcher"]["restarts"] > 0
        out, errors = server.communicate(timeout=90)
        assert server.returncode == 1
        assert "part dispatcher kept crashing" in errors and "stopped cleanly" not in out
