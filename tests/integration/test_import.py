"""`herald import` in real processes: a 10,000-row CSV dry-runs and commits on PostgreSQL with
progress, and an import SIGKILLed halfway and run again makes no post twice; bad rows are
named with their line and field, and nothing is written unless asked for the good ones."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.processes import HERALD, herald_env, reaped


def plan(path: Path, rows: int) -> Path:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["account", "platform", "text", "scheduled_at", "external_id"])
        for n in range(rows):
            at = start + timedelta(minutes=37 * n)
            out.writerow([f"acct-{n % 50}", "mastodon", f"Imported post {n}", at.isoformat(), f"row-{n}"])
    return path


def drafted(conn: psycopg.Connection, schema: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM \"{schema}\".herald_events WHERE topic LIKE '%Post.Drafted'").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
def test_ten_thousand_rows_dry_run_commit_and_survive_a_sigkill(postgres_url: str, tmp_path: Path) -> None:
    env = herald_env(postgres_url, HERALD_PLATFORM_URL="http://127.0.0.1:9")
    csv_file = plan(tmp_path / "plan.csv", 10_000)
    dry = subprocess.run(
        [*HERALD, "import", str(csv_file), "--dry-run"], env=env, capture_output=True, text=True, timeout=600
    )
    assert dry.returncode == 0, dry.stderr
    assert "10000 rows: 10000 good, 0 bad" in dry.stdout and "dry run: nothing was written" in dry.stdout
    schema = postgres_url.rpartition("schema=")[2]
    worker = subprocess.Popen(
        [*HERALD, "import", str(csv_file)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with reaped(worker), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        deadline = time.monotonic() + 600
        while True:  # killed once some chunks are in and before the end
            try:
                made = drafted(conn, schema)
            except psycopg.errors.UndefinedTable:
                made = 0
            if made >= 2000:
                break
            assert time.monotonic() < deadline and worker.poll() is None, worker.communicate()
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert drafted(conn, schema) < 10_000
        again = subprocess.run([*HERALD, "import", str(csv_file)], env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr
        assert "imported 10,000 of 10,000 rows" in again.stderr  # progress, chunk by chunk
        assert drafted(conn, schema) == 10_000  # no row made twice
        skipped = int(again.stdout.split("posts scheduled; ")[1].split(" made")[0])
        assert skipped >= 2000


def test_bad_rows_are_named_and_nothing_is_written_unless_asked(sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "HERALD_DATABASE_URL": sqlite_url, "HERALD_PLATFORM_URL": "http://127.0.0.1:9"}
    rows = tmp_path / "plan.json"
    rows.write_text(
        '[{"account": "a", "platform": "mastodon", "text": "Good", "scheduled_at": "2030-01-01T09:00Z"},'
        ' {"account": "a", "platform": "x", "text": "' + "a" * 300 + '", "scheduled_at": "2030-01-01T09:00Z"},'
        ' {"account": "a", "platform": "mastodon", "text": "Bad time", "scheduled_at": "tomorrow"}]'
    )
    refused = subprocess.run([*HERALD, "import", str(rows)], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "import_invalid" in refused.stderr
    assert "line 2: content:" in refused.stdout and "line 3: scheduled_at:" in refused.stdout
    partial = subprocess.run(
        [*HERALD, "import", str(rows), "--partial"], env=env, capture_output=True, text=True, timeout=60
    )
    assert partial.returncode == 0 and "1 posts scheduled" in partial.stdout, partial.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("account,platform,text,scheduled_at\na,mastodon,x,2030-01-01T09:00Z,extra\n")
    bad = subprocess.run([*HERALD, "import", str(broken)], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "file_unreadable" in bad.stderr and "line 2" in bad.stderr
