"""A bounded schemathesis run with every check and the stateful phase (tests/fuzz.py) against
`herald serve --only api`, on each store: zero failures, zero errors, no server error and no
traceback in the server's log. `scripts/fuzz --cases 10000` is the long run."""

from __future__ import annotations

import pytest

from tests.fuzz import run_fuzz

pytestmark = pytest.mark.slow


def test_schemathesis_with_every_check_finds_nothing(store_url: str) -> None:
    result = run_fuzz(store_url, examples=25, seed=7)
    print("\n".join(result.lines()))
    assert not result.problems, result.summary + "\n".join(result.problems)
    assert result.failures == 0 and result.errors == 0 and result.cases >= 800
