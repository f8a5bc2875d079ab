"""A plan's stagger as a property: over any targets, the same plan id gives the same
instants; with a spread, no two posts share a second; one account's posts keep their gap;
nothing goes before the time asked."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.plan import Stagger, staggered

AT = datetime(2026, 12, 1, 8, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**128 - 1),
    accounts=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=30),
    offsets=st.lists(st.integers(0, 120), min_size=30, max_size=30),
    gap=st.sampled_from([0, 1, 10]),
    spread=st.sampled_from([0, 1, 5, 30]),
)
def test_a_stagger_spreads_every_post_the_same_way_each_time(
    seed: int, accounts: list[str], offsets: list[int], gap: int, spread: int
) -> None:
    plan_id = uuid.UUID(int=seed)
    targets = [(account, AT + timedelta(seconds=offsets[n])) for n, account in enumerate(accounts)]
    rule = Stagger(same_account_minutes=gap, spread_seconds=spread)
    instants = staggered(plan_id, targets, rule)
    assert instants == staggered(plan_id, targets, rule)  # a retry makes the same plan
    assert all(at >= asked for at, (_, asked) in zip(instants, targets, strict=True))
    if spread:
        assert len(set(instants)) == len(instants), "two posts in one second"
    for account in set(accounts):
        mine = sorted(at for at, (who, _) in zip(instants, targets, strict=True) if who == account)
        assert all(b - a >= timedelta(minutes=gap) for a, b in itertools.pairwise(mine))
