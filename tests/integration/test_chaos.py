"""Dispatchers on one PostgreSQL: racing for the same posts, and under chaos (SIGKILLs + faults)."""

from __future__ import annotations

import pytest

from tests.chaos import PLATFORMS, can_restart_postgres, run_chaos
from tests.conftest import POSTGRES_URL, postgres_skipped

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if postgres_skipped():
        pytest.skip("PostgreSQL unreachable (scripts/test said so loudly)")


def test_two_dispatchers_racing_publish_every_post_exactly_once() -> None:
    result = run_chaos(POSTGRES_URL, 400, dispatchers=2, faults="latency_ms=5", kill_every=None, limit_seconds=120)
    print("\n".join(result.lines()))
    assert result.states == {"delivered": 400}
    assert result.published == 400 and result.duplicates == 0 and not result.problems


def test_chaos_every_post_terminal_and_published_at_most_once() -> None:
    result = run_chaos(POSTGRES_URL, 2000, dispatchers=3, kill_every=2.0, limit_seconds=170)
    print("\n".join(result.lines()))
    assert sum(result.states.values()) == 2000
    assert set(result.states) <= {"delivered", "failed"}, result.states  # nothing left unsettled
    assert result.duplicates == 0 and result.failed_but_published == 0 and not result.problems
    assert result.published == result.states["delivered"]
    assert result.kills >= 1
    assert result.decisions_verified >= 2000 and result.verify_mismatches == 0  # herald verify after the run


def test_chaos_through_every_adapter_matches_the_platforms_truth() -> None:
    """The real adapters against stand-ins with deep histories, threads, revoked tokens,
    reconnects, SIGKILLs and (where this machine runs its own cluster) a PostgreSQL restart."""
    restart = can_restart_postgres()
    if not restart:
        print("no local PostgreSQL cluster to restart: this run keeps the store up")
    result = run_chaos(
        POSTGRES_URL,
        600,
        dispatchers=3,
        kill_every=2.0,
        limit_seconds=240,
        platforms=PLATFORMS,
        thread_share=0.2,
        revoke_every=3.0,
        restart_postgres=restart,
    )
    print("\n".join(result.lines()))
    assert not result.problems, result.problems
    assert sum(result.states.values()) == 600
    assert result.duplicates == 0 and result.lost == 0 and result.failed_but_published == 0
    assert result.stuck == 0 and result.agreement == 1.0 and result.media_missing == 0
    assert result.kills >= 1 and result.revocations >= 1
    assert result.postgres_restarts == (1 if restart else 0)
    assert result.decisions_verified >= 600 and result.verify_mismatches == 0
