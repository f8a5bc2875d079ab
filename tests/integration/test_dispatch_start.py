"""A dispatcher starts fast and stops cleanly even while it is starting."""

from __future__ import annotations

import signal
import subprocess
import time

import psycopg
import pytest

from infrastructure.bootstrap import bootstrap
from projections.due_index import DueIndex
from tests.conftest import POSTGRES_URL
from tests.processes import HERALD, herald_env, reaped

pytestmark = pytest.mark.postgres


def test_a_sigterm_while_the_dispatcher_is_starting_is_a_clean_stop(postgres_url: str) -> None:
    """Its start-up is made to wait (another session holds the due index's table), and SIGTERM
    arrives then: exit 0, nothing claimed, no traceback."""
    herald = bootstrap(postgres_url)
    herald.runner(DueIndex())  # the table exists
    herald.close()
    schema = postgres_url.rpartition("schema=")[2]
    with psycopg.connect(POSTGRES_URL) as blocker:
        blocker.execute(f'LOCK TABLE "{schema}".due_index IN ACCESS EXCLUSIVE MODE')
        worker = subprocess.Popen(
            [*HERALD, "dispatch", "--worker", "starting"],
            env=herald_env(postgres_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with reaped(worker):
            with psycopg.connect(POSTGRES_URL, autocommit=True) as watcher:
                deadline = time.monotonic() + 30
                while not watcher.execute(  # it is waiting for the lock: well into its start-up
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                    [f"herald-{worker.pid}"],
                ).fetchone():
                    assert time.monotonic() < deadline and worker.poll() is None, worker.stderr
                    time.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            out, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    assert "stopped while starting" in out and "Traceback" not in errors


def test_a_dispatcher_that_cannot_finish_after_sigterm_exits_within_a_lease(postgres_url: str) -> None:
    """Its store stops answering (another session locks the due index) and SIGTERM arrives:
    rather than hang, it exits non-zero a lease later, leaving what a SIGKILL would (claims
    whose leases expire), and says so."""
    herald = bootstrap(postgres_url)
    herald.runner(DueIndex())
    herald.close()
    schema = postgres_url.rpartition("schema=")[2]
    env = herald_env(postgres_url, HERALD_LEASE_SECONDS="3")
    worker = subprocess.Popen(
        [*HERALD, "dispatch", "--worker", "stuck", "--timeout", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(worker), psycopg.connect(POSTGRES_URL) as blocker:
        assert worker.stdout is not None and "running" in worker.stdout.readline()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            blocker.execute(f'LOCK TABLE "{schema}".due_index IN ACCESS EXCLUSIVE MODE')
            while not watcher.execute(  # and now it waits for the lock
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                [f"herald-{worker.pid}"],
            ).fetchone():
                assert time.monotonic() < deadline and worker.poll() is None, worker.stderr
                time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        out, errors = worker.communicate(timeout=30)
    assert worker.returncode == 3, (out, errors)
    assert "not stopped 8s after the signal" in errors and "Traceback" not in errors
