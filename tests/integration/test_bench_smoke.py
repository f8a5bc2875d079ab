"""Every benchmark scenario at a tiny size, so the benchmark code cannot rot. Counts only:
timings are the benchmark's business, never a test's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_skipped

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if postgres_skipped():
        pytest.skip("PostgreSQL unreachable (scripts/test said so loudly)")


def test_every_scenario_runs_and_counts_add_up() -> None:
    from scripts.benchmarks import run

    results = run.burst(n=60, accounts=10, workers=1, repeats=1)
    results += run.lag(rate=20, seconds=1.0, workers=1, repeats=1, lead=0.5)  # scheduled ahead
    results += run.replay(events=500, repeats=1)
    results += run.api(requests=20, repeats=1)
    by = {(r.scenario, r.system): r.values for r in results}
    for system in ("herald", "raw", "peer"):
        assert by[("burst", system)]["posts"] == 60
    assert by[("burst", "herald")]["duplicates"] == 0 and by[("burst", "herald")]["published"] == 60
    assert by[("burst", "peer")]["published"] == 60
    assert 15 <= by[("lag", "herald")]["posts"] <= 20 and 15 <= by[("lag", "peer")]["posts"] <= 20
    assert by[("replay", "herald")]["events"] >= 500
    assert by[("api", "herald")]["requests"] == 20 and by[("api", "herald")]["raw_req_per_s"] > 0
    table = run.table(results)
    assert table.count("\n") >= 6 and "burst posts/s" in table
