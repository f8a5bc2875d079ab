"""Group commit: concurrent saves share a transaction, and a refused save fails only its caller."""

from __future__ import annotations

import threading
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.group_commit import GroupCommit
from services.joined_writes import JoinedWrite, by_kind, joining


class Refused(Exception):
    pass


class Store:
    """A store whose saves are transactions: all of a save's events land, or none; a save
    holding a poisoned event is refused, as a version conflict would be."""

    def __init__(self, hold: float = 0.0) -> None:
        self.saved: list[list[Any]] = []
        self.hints: list[list[Any]] = []  # each landed save's due hints, beside its events
        self.written: list[Any] = []  # the rows of the callers' joined writes that landed
        self.hold = hold
        self._lock = threading.Lock()

    def save(self, *events: Any, due: Any = (), also: Any = ()) -> None:
        time.sleep(self.hold)  # a transaction takes a little while: others arrive meanwhile
        staged: list[Any] = []
        for write, rows in by_kind(also):  # in the transaction, before the events
            write(staged, rows)
        if any(str(event).startswith("poison") for event in events):
            raise Refused("conflict")
        with self._lock:
            self.saved.append(list(events))
            self.hints.append(list(due))
            self.written += staged


def write_rows(staged: list[Any], rows: list[str]) -> None:
    """A joined write of one kind: all its rows at once, or a refusal if one is bad."""
    if any(row.startswith("bad") for row in rows):
        raise Refused("over the limit")
    staged.extend(rows)


def run_callers(
    commit: GroupCommit, callers: list[list[str]], hints: bool = False, writes: list[str] | None = None
) -> dict[int, BaseException | None]:
    outcomes: dict[int, BaseException | None] = {}
    start = threading.Barrier(len(callers))

    def call(n: int) -> None:
        start.wait()
        try:
            with joining([JoinedWrite(write_rows, writes[n])] if writes else []):
                commit(callers[n], [f"hint-{event}" for event in callers[n]] if hints else ())
            outcomes[n] = None
        except Exception as error:
            outcomes[n] = error

    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_callers_arriving_during_a_save_share_the_next_one() -> None:
    store = Store(hold=0.05)
    commit = GroupCommit(store.save)
    outcomes = run_callers(commit, [[f"e{n}"] for n in range(8)])
    assert all(error is None for error in outcomes.values())
    assert sorted(event for saved in store.saved for event in saved) == sorted(f"e{n}" for n in range(8))
    assert commit.saves < 8, "every caller saved alone: nothing was grouped"


def test_a_refused_caller_fails_alone_and_the_others_land() -> None:
    store = Store(hold=0.05)
    commit = GroupCommit(store.save)
    callers = [["a1", "a2"], ["poison-b"], ["c1"], ["d1", "d2", "d3"]]
    outcomes = run_callers(commit, callers)
    assert isinstance(outcomes[1], Refused)
    assert [outcomes[n] for n in (0, 2, 3)] == [None, None, None]
    landed = [event for saved in store.saved for event in saved]
    assert sorted(landed) == sorted(["a1", "a2", "c1", "d1", "d2", "d3"])


def test_a_lone_save_starts_at_once_and_nothing_waits_for_company() -> None:
    store = Store()
    commit = GroupCommit(store.save)
    began = time.monotonic()
    commit(["only"])
    assert store.saved == [["only"]] and time.monotonic() - began < 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=4), st.booleans()),
        min_size=1,
        max_size=10,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_every_caller_lands_exactly_once_all_or_nothing(callers: list[tuple[int, bool]], most: int) -> None:
    """Whatever arrives together and whatever is refused: each caller's events land together,
    once, in their order, exactly when its call returned without an error."""
    store = Store(hold=0.002)
    commit = GroupCommit(store.save, most=most)
    events = [
        [("poison" if bad and k == 0 else "") + f"c{n}-{k}" for k in range(size)]
        for n, (size, bad) in enumerate(callers)
    ]
    outcomes = run_callers(commit, events)
    landed = [event for saved in store.saved for event in saved]
    assert len(landed) == len(set(landed))
    for n, mine in enumerate(events):
        if outcomes[n] is None:
            at = landed.index(mine[0])
            assert landed[at : at + len(mine)] == mine
        else:
            assert isinstance(outcomes[n], Refused) and not set(mine) & set(landed)
        assert (outcomes[n] is None) == (not callers[n][1])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["ok", "bad-event", "bad-write"]), min_size=1, max_size=10))
def test_a_callers_joined_writes_land_with_its_events_or_not_at_all(kinds: list[str]) -> None:
    """A request's own writes (an idempotency key, a rate count) share its events' fate: both
    land once, or neither; one refused write fails only its own caller."""
    store = Store(hold=0.002)
    commit = GroupCommit(store.save)
    events = [[("poison-" if kind == "bad-event" else "") + f"e{n}"] for n, kind in enumerate(kinds)]
    writes = [("bad-" if kind == "bad-write" else "") + f"w{n}" for n, kind in enumerate(kinds)]
    outcomes = run_callers(commit, events, writes=writes)
    landed = {event for saved in store.saved for event in saved}
    assert sorted(store.written) == sorted(f"w{n}" for n, kind in enumerate(kinds) if kind == "ok")
    for n, kind in enumerate(kinds):
        assert (outcomes[n] is None) == (kind == "ok") == (f"e{n}" in landed)


def test_each_callers_due_hints_go_out_with_its_events_and_only_if_they_land() -> None:
    store = Store(hold=0.02)
    commit = GroupCommit(store.save)
    callers = [[f"e{n}"] for n in range(6)] + [["poison-1"]]
    outcomes = run_callers(commit, callers, hints=True)
    assert isinstance(outcomes[6], Refused)
    for events, hints in zip(store.saved, store.hints, strict=True):
        assert hints == [f"hint-{event}" for event in events]  # together, in one transaction
    assert sorted(hint for hints in store.hints for hint in hints) == sorted(f"hint-e{n}" for n in range(6))


def test_a_joined_write_made_from_its_save_sees_its_own_callers_events_only() -> None:
    """The idempotency key names the post its caller saved, though many callers share a save."""
    store = Store(hold=0.02)
    commit = GroupCommit(store.save)
    outcomes: list[BaseException | None] = []

    def call(n: int) -> None:
        mine = [f"c{n}-a", f"c{n}-b"]
        with joining([JoinedWrite(write_rows, row_of=lambda events: f"w{n}:" + ",".join(events))]):
            commit(mine)
        outcomes.append(None)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == 8 and commit.saves < 8
    assert sorted(store.written) == sorted(f"w{n}:c{n}-a,c{n}-b" for n in range(8))
