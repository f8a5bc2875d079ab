"""The projection runner killed with SIGKILL mid-run, restarted, resumes with no event applied
twice or skipped (the stats counters would show either); SIGTERM finishes the batch and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from infrastructure.bootstrap import bootstrap
from infrastructure.persistence.connections import ReadStore
from infrastructure.persistence.projection_store import TRACKING
from infrastructure.persistence.replay import replay
from projections.catalog import PROJECTIONS
from tests.generate import generate
from tests.integration.history import table_rows
from tests.processes import HERALD, reaped

pytestmark = pytest.mark.slow


def run_projections(store_url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HERALD, "projections", "run", "--batch-size", "20", *extra],
        env={**os.environ, "HERALD_DATABASE_URL": store_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def positions(store: ReadStore) -> dict[str, int]:
    with store.transaction() as cursor:
        cursor.execute(f"SELECT name, position FROM {TRACKING}")
        return {name: int(position) for name, position in cursor.fetchall()}


def test_killed_mid_run_and_restarted_applies_each_event_once(store_url: str) -> None:
    service = bootstrap(store_url)
    total = generate(service, 16000, accounts=50)
    store = service.read_store
    for cls in PROJECTIONS.values():
        service.runner(cls())  # tables and tracking rows, at position 0
    for round_no in range(1, 4):
        worker = run_projections(store_url)
        with reaped(worker):
            goal = round_no * total // 6  # kill early, so each kill lands mid-run
            deadline = time.monotonic() + 60
            while min(positions(store).get(name, 0) for name in PROJECTIONS) < goal:
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert min(positions(store).values()) < total  # it really died mid-run
    final = run_projections(store_url, "--until-caught-up")
    with reaped(final):
        assert final.wait(timeout=120) == 0, final.stderr.read() if final.stderr else ""

    live = {t: table_rows(store, t) for cls in PROJECTIONS.values() for t in cls.tables}
    for cls in PROJECTIONS.values():
        replay(service.projections, cls())
    assert {t: table_rows(store, t) for cls in PROJECTIONS.values() for t in cls.tables} == live
    store.close()
    service.close()


def test_sigterm_finishes_the_batch_and_exits_cleanly(sqlite_url: str) -> None:
    service = bootstrap(sqlite_url)
    generate(service, 2000, accounts=10)
    store = service.read_store
    service.runner(PROJECTIONS["stats"]())
    worker = run_projections(sqlite_url)
    with reaped(worker):
        deadline = time.monotonic() + 60
        while positions(store).get("stats", 0) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        worker.send_signal(signal.SIGTERM)
        stdout, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0 and "stopped cleanly" in stdout
    store.close()
    service.close()
