"""The quota check's view kept in memory (projections/booked.py) says what the due index says.

Whatever posts are scheduled, drafted, scheduled later, moved or canceled, and wherever the
due index had got to when the view loaded it: once the index has caught up, both give every
account the same booked posts (real stores, the real services)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.content import Content
from domain.errors import HeraldError
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.persistence.booked import KeptBookings
from infrastructure.persistence.log_tail import LogTail
from projections.due_index import DueIndex
from tests.clock import ManualClock

ACCOUNTS = ("a", "b", "c")
minutes = st.integers(min_value=1, max_value=600)
post = st.integers(min_value=0, max_value=30)
account = st.sampled_from(ACCOUNTS)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), account, minutes),
        st.tuples(st.just("draft"), account),
        st.tuples(st.just("schedule_draft"), post, minutes),
        st.tuples(st.just("reschedule"), post, minutes),
        st.tuples(st.just("cancel"), post),
        st.tuples(st.just("fold_index")),
        st.tuples(st.just("look"), account),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Herald]:
    """One SQLite store for every example (each works in a workspace of its own)."""
    clock = ManualClock()
    service = bootstrap(f"sqlite:///{tmp_path_factory.mktemp('booked')}/herald.db", clock=clock)
    yield service
    service.close()


def check(service: Herald, clock: ManualClock, ops: list[tuple[object, ...]]) -> None:
    workspace = f"w-{uuid.uuid4().hex[:8]}"
    kept = KeptBookings(service.read_store, LogTail(service.projections, every=0), clock)
    index = service.runner(DueIndex())
    posts: list[UUID] = []

    def at(n: object) -> UUID | None:
        return posts[int(str(n)) % len(posts)] if posts else None

    for op, *args in ops:
        try:
            if op == "schedule":
                posts.append(
                    service.posts.schedule(
                        account=str(args[0]),
                        platform="mastodon",
                        content=Content(text="hello"),
                        scheduled_at=clock.now + timedelta(minutes=int(str(args[1]))),
                        workspace=workspace,
                    )
                )
            elif op == "draft":
                posts.append(
                    service.posts.draft(
                        account=str(args[0]), platform="mastodon", content=Content(text="hi"), workspace=workspace
                    )
                )
            elif op in ("schedule_draft", "reschedule") and (chosen := at(args[0])) is not None:
                move = service.posts.schedule_draft if op == "schedule_draft" else service.posts.reschedule
                move(chosen, clock.now + timedelta(minutes=int(str(args[1]))))
            elif op == "cancel" and (chosen := at(args[0])) is not None:
                service.posts.cancel(chosen)
            elif op == "fold_index":
                index.catch_up()
            elif op == "look":
                kept(workspace, str(args[0]), clock.now - timedelta(days=1))
        except HeraldError:
            pass  # refused (a canceled post moved, a queued one scheduled again): nothing changed
    index.catch_up()
    since = clock.now - timedelta(days=1)
    for name in ACCOUNTS:
        assert kept(workspace, name, since) == service.due_index.booked(workspace, name, since)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_the_kept_view_agrees_with_the_due_index_sqlite(world: Herald, ops: list[tuple[object, ...]]) -> None:
    check(world, world.clock, ops)  # type: ignore[arg-type]


@pytest.mark.postgres
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_the_kept_view_agrees_with_the_due_index_postgres(postgres_url: str, ops: list[tuple[object, ...]]) -> None:
    clock = ManualClock()
    service = bootstrap(postgres_url, clock=clock)
    try:
        check(service, clock, ops)
    finally:
        service.close()
