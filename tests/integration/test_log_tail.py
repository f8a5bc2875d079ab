"""An API process follows the log's tail (infrastructure/persistence/log_tail.py): an account it
holds, and "this account has no queue", are used again without a read of the store until the
tail passes a change another process made; its own changes show at once. Both stores."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.content import Content
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.persistence.log_tail import LogTail, SeenVersions
from tests.clock import ManualClock

pytestmark = pytest.mark.usefixtures("secret_key")
PAIR = ("default", "acme-x")
SLOTS = [(day, at) for day in range(5) for at in (time(9), time(12, 30), time(17))]


def following(herald: Herald, every: float = 0.0) -> list[int]:
    """`herald` follows the tail as an API process does (`every`: seconds between its reads);
    the list counts the account reads it asks the store for."""
    herald.accounts.seen = herald.queues.seen = SeenVersions(
        LogTail(herald.projections, every=every), kinds=("Account", "AccountQueue")
    )
    reads: list[int] = []
    asked = herald.events.get_many

    def counted(ids: Any, known: Any = None) -> Any:
        reads.append(len(ids))
        return asked(ids, known)

    herald.events.get_many = counted  # type: ignore[method-assign]
    return reads


def connect(herald: Herald) -> None:
    herald.accounts.connect(name="acme-x", platform="x", handle="acme", remote_user_id="1", credentials={"t": "1"})


def test_a_held_account_is_asked_for_again_only_once_the_tail_passes_a_change(store_url: str) -> None:
    api, other = bootstrap(store_url), bootstrap(store_url)
    connect(other)
    reads = following(api)
    first = api.accounts.many([PAIR])[PAIR]
    assert api.accounts.many([PAIR])[PAIR] is first and len(reads) == 1  # held: the store is not asked
    other.accounts.disconnect("default", "acme-x", "by_request", "connect it again")
    assert api.accounts.many([PAIR])[PAIR].state.value == "disconnected" and len(reads) == 2
    assert api.accounts.many([PAIR])[PAIR].state.value == "disconnected" and len(reads) == 2
    api.close()
    other.close()


def test_an_absent_account_is_asked_for_again_once_another_process_connects_it(store_url: str) -> None:
    api, other = bootstrap(store_url), bootstrap(store_url)
    reads = following(api)
    assert api.accounts.many([PAIR]) == {} and api.accounts.many([PAIR]) == {} and len(reads) == 1
    connect(other)
    assert api.accounts.many([PAIR])[PAIR].state.value == "connected" and len(reads) == 2
    api.close()
    other.close()


def test_a_change_elsewhere_waits_for_the_tail_and_a_change_here_shows_at_once(store_url: str) -> None:
    api, other = bootstrap(store_url), bootstrap(store_url)
    connect(other)
    following(api, every=3600)  # the tail is read once, by the first look that may trust a copy
    assert api.accounts.many([PAIR])[PAIR].state.value == "connected"  # read from the store
    assert api.accounts.many([PAIR])[PAIR].state.value == "connected"  # the tail read: no change
    other.accounts.disconnect("default", "acme-x", "by_request", "connect it again")
    assert api.accounts.many([PAIR])[PAIR].state.value == "connected"  # as of the tail's last read
    api.accounts.reconnect("default", "acme-x", {"t": "2"}, None)
    assert api.accounts.many([PAIR])[PAIR].version == 3  # its own change: no wait for the tail
    api.close()
    other.close()


def test_a_queue_made_by_another_process_makes_room_once_the_tail_passes_it(store_url: str) -> None:
    """The API saw no queue on the account; another process gives it one and queues a post at
    Monday 12:30. A timed post at 12:45 then pushes the queued one, as it would had the API
    made the queue (a process without the tail trusted "no queue" for 5 s)."""
    clock = ManualClock()  # Monday 2026-11-23, 09:00 UTC
    api, other = bootstrap(store_url, clock=clock), bootstrap(store_url, clock=clock)
    following(api)

    def timed(at: str) -> Any:
        when = clock.now.fromisoformat(at)
        return api.posts.schedule(account="acme", platform="mastodon", content=Content(text=at), scheduled_at=when)

    timed("2026-11-24T17:00:00+01:00")  # no queue yet: the API remembers that
    other.queues.configure("default", "acme", zone="Europe/Paris", slots=SLOTS, min_gap=timedelta(hours=2))
    queued = other.queues.add("default", "acme", "mastodon", Content(text="queued"))  # type: ignore[arg-type]
    assert other.posts.get_post(queued).due_at == clock.now.fromisoformat("2026-11-23T12:30:00+01:00")
    timed("2026-11-23T12:45:00+01:00")
    assert other.posts.get_post(queued).due_at > clock.now.fromisoformat("2026-11-23T12:45:00+01:00")
    api.close()
    other.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["api", "other"]), st.sampled_from(["refresh", "disconnect"])), max_size=8))
def test_every_read_after_the_tail_gives_the_stored_account(sqlite_url: str, changes: list[tuple[str, str]]) -> None:
    """Whoever changes the account, and however often: a read that follows the tail's read
    (every read, here) gives the account as stored, never an older copy."""
    api, other = bootstrap(sqlite_url), bootstrap(sqlite_url)
    name = f"acme-{len(api.accounts.all())}"
    api.accounts.connect(name=name, platform="x", handle="acme", remote_user_id="1", credentials={"t": "1"})
    following(api)
    pair = ("default", name)
    for who, change in changes:
        assert api.accounts.many([pair])[pair].version == other.accounts.many([pair])[pair].version
        service = (api if who == "api" else other).accounts
        if other.accounts.get(*pair).state == "disconnected":
            service.reconnect("default", name, {"t": "back"}, None)
        elif change == "refresh":
            service.refresh("default", name, {"t": "again"}, None)
        else:
            service.disconnect("default", name, "by_request", "connect it again")
        stored = other.accounts.many([pair])[pair]
        assert (api.accounts.many([pair])[pair].version, stored.version) == (stored.version, stored.version)
    api.close()
    other.close()
