"""Queue slots as a property: a month of slots filled from a queue, over random grids in
zones with daylight saving, never breaks the gap, the daily cap or the grid, never moves a
timed post, and never puts two posts of one category back to back when another choice exists.
`fill` is the one function the queue service places posts with."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from domain.queue import NoFreeSlot, SlotGrid, crowded, fill, next_free

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"]
START = datetime(2027, 3, 20, tzinfo=UTC)  # the month spans Europe's and America's spring change

grids = st.builds(
    SlotGrid,
    weekly=st.lists(
        st.tuples(st.integers(0, 6), st.times().map(lambda t: t.replace(second=0, microsecond=0))),
        min_size=1,
        max_size=12,
    ).map(tuple),
    min_gap=st.sampled_from([timedelta(0), timedelta(minutes=30), timedelta(hours=3)]),
    daily_cap=st.one_of(st.none(), st.integers(1, 5)),
)


@settings(max_examples=150, deadline=None)
@given(
    grid=grids,
    zone=st.sampled_from(ZONES),
    categories=st.lists(st.sampled_from(["news", "promo", "tips", None]), min_size=1, max_size=25),
    timed=st.lists(st.integers(0, 30 * 24 * 60), max_size=5),
)
def test_a_month_of_slots_keeps_every_rule(
    grid: SlotGrid, zone: str, categories: list[str | None], timed: list[int]
) -> None:
    tz = ZoneInfo(zone)
    fixed = [START + timedelta(minutes=m) for m in timed]  # timed posts keep their time
    items = [(f"item-{n}", category) for n, category in enumerate(categories)]
    try:
        placed = fill(grid, tz, items, [(at, None) for at in fixed], after=START, horizon=timedelta(days=31))
    except NoFreeSlot:
        event("refused: the grid is too small for the queue within the horizon")
        return
    event("filled")
    assert sorted(item for item, _ in placed) == sorted(item for item, _ in items)
    instants = [at for _, at in placed]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    every = sorted(instants + fixed)
    allowed = set(grid.slots(tz, START, START + timedelta(days=31)))
    for at in instants:
        assert at in allowed  # on the grid, in its zone
        assert all(abs(at - other) >= grid.min_gap for other in every if other is not at and other != at)
    if grid.daily_cap is not None:  # a day with queued posts holds at most the cap, timed ones counted
        for at in instants:
            day = at.astimezone(tz).date()
            queued = sum(1 for q in instants if q.astimezone(tz).date() == day)
            timed_that_day = sum(1 for f in fixed if f.astimezone(tz).date() == day)
            assert queued + timed_that_day <= grid.daily_cap
    kinds = [c for c in categories if c is not None]
    most = max((kinds.count(c) for c in kinds), default=0)
    if not fixed and most <= len(categories) - most + 1:  # an order with none together exists
        order = [dict(items)[item] for item, _ in placed]
        together = [n for n in range(1, len(order)) if order[n] is not None and order[n] == order[n - 1]]
        assert not together, f"two {order[together[0]]} back to back at {instants[together[0]]}"


@settings(max_examples=150, deadline=None)
@given(
    grid=grids,
    zone=st.sampled_from(ZONES),
    categories=st.lists(st.sampled_from(["news", "promo", None]), min_size=1, max_size=15),
    timed=st.lists(st.tuples(st.integers(0, 14), st.integers(-240, 240)), min_size=1, max_size=4),
)
def test_a_timed_post_pushes_only_the_queued_posts_it_crowds(
    grid: SlotGrid, zone: str, categories: list[str | None], timed: list[tuple[int, int]]
) -> None:
    """The flexible lane: timed posts arrive after the queue was filled; the posts they crowd
    move to later free slots, the rest stay, and every rule holds again."""
    tz = ZoneInfo(zone)
    items = [(f"item-{n}", category) for n, category in enumerate(categories)]
    try:
        placed = fill(grid, tz, items, [], after=START, horizon=timedelta(days=31))
    except NoFreeSlot:
        return
    # each timed post lands near a queued one (on it, within the gap, or on its day)
    fixed = [placed[n % len(placed)][1] + timedelta(minutes=m) for n, m in timed]
    pushed = crowded(grid, tz, placed, fixed)
    stay = [(at, dict(items)[item]) for item, at in placed if item not in pushed]
    try:
        again = fill(
            grid,
            tz,
            [(i, dict(items)[i]) for i in pushed],
            [*stay, *((f, None) for f in fixed)],
            after=START,
            horizon=timedelta(days=60),
        )
    except NoFreeSlot:
        event("no room left for the pushed posts: the service leaves the queue as it was")
        return
    event("pushed" if pushed else "nothing crowded")
    final = dict(placed) | dict(again)
    every = sorted([*final.values(), *fixed])
    for item, at in final.items():
        assert all(abs(at - other) >= grid.min_gap for other in every if other != at)
        if item not in pushed:
            assert at == dict(placed)[item]  # not crowded: not moved
    assert not crowded(grid, tz, list(final.items()), fixed)  # nothing left crowded


def test_the_next_free_slot_respects_gap_and_cap_in_the_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    weekdays = tuple((day, at) for day in range(5) for at in (time(9), time(12, 30), time(17)))
    grid = SlotGrid(weekly=weekdays, min_gap=timedelta(hours=4), daily_cap=2)
    monday = datetime(2027, 3, 22, 6, tzinfo=UTC)  # 07:00 in Paris
    first = next_free(grid, paris, [], after=monday, horizon=timedelta(days=7))
    assert first.astimezone(paris).time() == time(9)
    second = next_free(grid, paris, [first], after=monday, horizon=timedelta(days=7))
    assert second.astimezone(paris).time() == time(17)  # 12:30 is within 4 h of 09:00
    third = next_free(grid, paris, [first, second], after=monday, horizon=timedelta(days=7))
    assert third.astimezone(paris).date().isoformat() == "2027-03-23"  # the cap of 2 moves it to Tuesday
    with pytest.raises(NoFreeSlot):
        next_free(grid, paris, [], after=datetime(2027, 3, 27, 6, tzinfo=UTC), horizon=timedelta(days=1))
