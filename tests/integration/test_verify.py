"""`herald verify` over a real store, as support or an operator runs it: a clean log passes,
a tampered decision is named with what the rules make of it, and a row that no longer
decodes is reported without stopping the check of every other post."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import orjson
import psycopg

from infrastructure.bootstrap import Herald, bootstrap
from tests.generate import generate
from tests.integration.test_cli import herald


def _rows(service: Herald, topic_end: str) -> tuple[Any, str, Any]:
    """(connection, table with its key column, the first row of that kind: key, state)."""
    env = service.env
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        conn: Any = sqlite3.connect(env["SQLITE_DBNAME"])
        table, key = "stored_events", "rowid"
    else:
        conn = psycopg.connect(host=env["POSTGRES_HOST"], dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"])
        table, key = f'"{env["POSTGRES_SCHEMA"]}".herald_events', "notification_id"
    row = conn.execute(
        f"SELECT {key}, originator_id, state FROM {table} WHERE topic LIKE '%{topic_end}' ORDER BY {key} LIMIT 1"
    ).fetchone()
    return conn, f"{table}:{key}", (row[0], uuid.UUID(str(row[1])), row[2])


def _rewrite(conn: Any, where: str, row_key: int, state: bytes) -> None:
    table, key = where.split(":")
    mark = "?" if isinstance(conn, sqlite3.Connection) else "%s"
    conn.execute(f"UPDATE {table} SET state = {mark} WHERE {key} = {mark}", (state, row_key))
    conn.commit()
    conn.close()


def test_verify_passes_a_clean_log_and_names_a_tampered_decision(store_url: str) -> None:
    service = bootstrap(store_url)
    generate(service, 800, accounts=5)
    clean = herald("verify", "--json", url=store_url)
    assert clean.returncode == 0, clean.stderr
    report = orjson.loads(clean.stdout)
    assert report["mismatches"] == [] and report["decisions_checked"] > 50 and report["events"] >= 800

    conn, where, (row_key, post_id, state) = _rows(service, "Post.AttemptFailed")
    service.close()
    stored = orjson.loads(bytes(state))
    honest = stored["next_attempt_at"]
    stored["next_attempt_at"] = "2030-01-01T00:00:00Z"  # a retry moved by hand
    _rewrite(conn, where, row_key, orjson.dumps(stored))

    caught = herald("verify", url=store_url)
    assert caught.returncode == 1
    assert f"post {post_id}" in caught.stdout and "AttemptFailed" in caught.stdout
    assert "next_attempt_at" in caught.stdout and "1 mismatches" in caught.stdout
    (mismatch,) = orjson.loads(herald("verify", "--json", url=store_url).stdout)["mismatches"]
    assert mismatch["expected"]["next_attempt_at"].replace("+00:00", "Z")[:19] == honest.replace("+00:00", "Z")[:19]
    assert mismatch["recorded"]["next_attempt_at"].startswith("2030-01-01")


def test_a_row_that_no_longer_decodes_is_reported_and_the_rest_checked(store_url: str) -> None:
    service = bootstrap(store_url)
    generate(service, 400, accounts=3)
    conn, where, (row_key, post_id, _) = _rows(service, "Post.Delivered")
    service.close()
    _rewrite(conn, where, row_key, b"\x00not json")
    found = herald("verify", "--json", url=store_url)
    assert found.returncode == 1, found.stderr
    report = orjson.loads(found.stdout)
    (mismatch,) = report["mismatches"]
    assert mismatch["post_id"] == str(post_id) and mismatch["rule"] == "decode"
    assert report["decisions_checked"] > 20  # the other posts were still checked


def test_verify_help_and_a_bad_instant() -> None:
    helped = herald("verify", "--help", url="sqlite:////tmp/unused.db")
    assert helped.returncode == 0 and "--since" in helped.stdout and "--workspace" in helped.stdout
    bad = herald("verify", "--since", "yesterday-ish", url="sqlite:////tmp/unused.db")
    assert bad.returncode == 2 and "since" in bad.stderr and "Traceback" not in bad.stderr
