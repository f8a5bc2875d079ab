"""The pacer: an account's posting window and a 429's pause block that account only, and only
until they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
