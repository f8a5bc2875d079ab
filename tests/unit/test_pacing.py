"""The pacer: an account's posting window and a 429's pause block that account only, and only
until they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pacing import Pacer

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
A, B = ("w1", "main"), ("w2", "main")  # one name in two workspaces: two accounts


def test_a_full_window_blocks_the_account_until_its_oldest_post_leaves_the_window() -> None:
    pacer = Pacer({"x": (2, timedelta(minutes=1))})
    assert pacer.take(A, "x", T0) and pacer.take(A, "x", T0 + timedelta(seconds=1))
    assert not pacer.take(A, "x", T0 + timedelta(seconds=2))
    assert pacer.take(B, "x", T0 + timedelta(seconds=2))  # another account is not affected
    assert pacer.blocked_accounts(T0 + timedelta(seconds=30)) == [A]
    assert pacer.blocked_accounts(T0 + timedelta(minutes=1)) == []
    assert pacer.take(A, "x", T0 + timedelta(minutes=1))


def test_a_429_pauses_one_account_until_its_reset() -> None:
    pacer = Pacer({})
    pacer.pause(A, T0 + timedelta(seconds=30))
    assert not pacer.take(A, "x", T0) and pacer.take(B, "x", T0)
    assert pacer.blocked_accounts(T0 + timedelta(seconds=29)) == [A]
    assert pacer.blocked_accounts(T0 + timedelta(seconds=30)) == []
    assert pacer.take(A, "x", T0 + timedelta(seconds=30))


def test_a_slot_given_back_for_a_post_not_sent_is_free_again() -> None:
    pacer = Pacer({"x": (2, timedelta(minutes=1))})
    assert pacer.take(A, "x", T0) and pacer.take(A, "x", T0 + timedelta(seconds=1))
    pacer.give_back(A, T0 + timedelta(seconds=1))  # its claim was refused: nothing went out
    assert pacer.blocked_accounts(T0 + timedelta(seconds=2)) == []
    assert pacer.take(A, "x", T0 + timedelta(seconds=2))
    pacer.give_back(A, T0 + timedelta(seconds=5))  # never taken: nothing to give back
    pacer.give_back(B, T0)
    assert not pacer.take(A, "x", T0 + timedelta(seconds=3))


ACCOUNTS = [("w1", "a"), ("w1", "b"), ("w2", "a")]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["take", "give_back", "pause", "look"]),
        st.sampled_from(ACCOUNTS),
        st.integers(min_value=0, max_value=90),  # seconds the clock moves first
        st.integers(min_value=0, max_value=5),  # which earlier slot to give back, or the pause's length x 20 s
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_the_accounts_blocked_are_exactly_those_paused_or_with_a_full_window(steps: list[Any]) -> None:
    """Against the definition, read from every slot taken: an account is blocked while a 429
    pauses it, or while its window holds as many sends as the platform allows, however long
    ago it last posted (the pacer forgets an empty window a minute later)."""
    limit, window = 2, timedelta(seconds=45)
    pacer = Pacer({"x": (limit, window)})
    taken: list[tuple[tuple[str, str], datetime]] = []
    paused: dict[tuple[str, str], datetime] = {}
    now = T0
    for action, account, moved, pick in steps:
        now += timedelta(seconds=moved)
        in_window = [at for who, at in taken if who == account and at > now - window]
        if action == "take":
            allowed = paused.get(account, now) <= now and len(in_window) < limit
            assert pacer.take(account, "x", now) == allowed
            if allowed:
                taken.append((account, now))
        elif action == "give_back" and in_window:
            at = in_window[pick % len(in_window)]
            pacer.give_back(account, at)
            taken.remove((account, at))
        elif action == "pause":
            pacer.pause(account, now + timedelta(seconds=20 * pick))
            paused[account] = max(now + timedelta(seconds=20 * pick), paused.get(account, now))
        full = {a for a in ACCOUNTS if sum(who == a and at > now - window for who, at in taken) >= limit}
        expected = {a for a in ACCOUNTS if paused.get(a, now) > now} | full
        assert set(pacer.blocked_accounts(now)) == expected
