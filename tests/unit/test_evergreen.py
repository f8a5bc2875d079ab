"""Evergreen recycling as a property: over any run of free slots, a pool never gives an
account the same item twice in a row (when it has two or more), never brings an item back
before its interval, and never repeats an item's variant on consecutive reuses."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.content import Content, Platform
from domain.evergreen import EvergreenItem, Pool, VariantsRequired, reuse_post_id
from domain.rule import Target

START = datetime(2027, 1, 4, 9, tzinfo=UTC)


def pool_of(variants: list[int], interval_hours: int, platform: Platform = Platform.MASTODON) -> Pool:
    items = tuple(
        EvergreenItem(key=f"item-{n}", variants=tuple(Content(text=f"item {n}, variant {v}") for v in range(count)))
        for n, count in enumerate(variants)
    )
    return Pool.create(
        pool_id=uuid.uuid4(),
        workspace="w",
        name="tips",
        targets=(Target(account="acme", platform=platform),),
        items=items,
        min_interval=timedelta(hours=interval_hours),
        category="evergreen",
        now=START,
    )


@settings(max_examples=200, deadline=None)
@given(
    variants=st.lists(st.integers(1, 3), min_size=1, max_size=6),
    interval_hours=st.integers(1, 96),
    gaps=st.lists(st.integers(1, 48), min_size=1, max_size=60),
)
def test_recycling_keeps_rotation_interval_and_variants(
    variants: list[int], interval_hours: int, gaps: list[int]
) -> None:
    pool = pool_of(variants, interval_hours)
    slot, given_out = START, []
    for gap in gaps:
        slot += timedelta(hours=gap)
        choice = pool.choose("acme", slot)
        if choice is None:
            continue
        post_id = reuse_post_id(pool.id, "acme", choice.item.key, choice.use)
        pool.recycle("acme", choice, post_id=post_id, slot=slot, now=START)
        given_out.append((slot, choice.item.key, choice.variant, post_id))
    keys = [key for _, key, _, _ in given_out]
    if len(variants) > 1:
        assert all(a != b for a, b in itertools.pairwise(keys)), "the same item twice in a row"
    for key in set(keys):
        uses = [(at, variant) for at, k, variant, _ in given_out if k == key]
        for (earlier, v1), (later, v2) in itertools.pairwise(uses):
            assert later - earlier >= timedelta(hours=interval_hours)
            if variants[int(key.split("-")[1])] > 1:
                assert v1 != v2, "the same variant on consecutive reuses"
    assert len({post_id for *_, post_id in given_out}) == len(given_out)  # each reuse its own post


def test_a_pool_feeding_x_needs_variants_with_their_own_text() -> None:
    with pytest.raises(VariantsRequired, match="X refuses"):
        pool_of([2, 1], 24, Platform.X)
    assert pool_of([2, 3], 24, Platform.X).items[1].variants[2].text == "item 1, variant 2"
