"""Fakes at the services' ports, for unit tests that run in milliseconds (as cosmicpython's
FakeUnitOfWork): the eventsourcing library's own in-memory store, and dicts for the due
index's bookings and the accounts' settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from infrastructure.persistence.events import HeraldEvents
from services.booking import Booking
from services.content_rules import ContentRules
from services.dispatching import DispatchCommands
from services.post_repository import PostRepository
from services.posts import PostCommands
from services.results import PostSettings
from tests.clock import ManualClock


class InMemoryEvents(HeraldEvents):
    """The production event store on the library's in-memory (POPO) persistence."""

    def __init__(self) -> None:
        super().__init__(
            {
                "PERSISTENCE_MODULE": "eventsourcing.popo",
                # events are encoded as in the real stores: pydantic dumps, orjson writes
                "TRANSCODER_TOPIC": "infrastructure.encoding:OrjsonTranscoder",
                "MAPPER_TOPIC": "infrastructure.encoding:PydanticMapper",
            }
        )


@dataclass
class FakeBookings:
    """{(workspace, account): {post id: due}}, as the due index would answer."""

    booked: dict[tuple[str, str], dict[UUID, datetime]] = field(default_factory=dict)

    def __call__(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        return {p: due for p, due in self.booked.get((workspace, account), {}).items() if due >= since}


@dataclass
class FakeAccountSettings:
    settings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reads: int = 0  # how many times settings were read (each read is one query on a real store)

    def __call__(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        self.reads += 1
        return {pair: self.settings[pair] for pair in pairs if pair in self.settings}


@dataclass
class Services:
    events: InMemoryEvents
    posts: PostCommands
    dispatch: DispatchCommands
    booking: Booking
    bookings: FakeBookings
    account_settings: FakeAccountSettings


def services(clock: ManualClock, settings: PostSettings | None = None) -> Services:
    """Post and dispatch commands over the in-memory store and the fakes, wired as bootstrap
    wires the real ones."""
    settings = settings or PostSettings()
    events, bookings, account_settings = InMemoryEvents(), FakeBookings(), FakeAccountSettings()
    rules = ContentRules(account_settings)
    booking = Booking(bookings, rules)
    repository = PostRepository(events)
    return Services(
        events=events,
        posts=PostCommands(repository, booking=booking, rules=rules, clock=clock, settings=settings),
        dispatch=DispatchCommands(
            repository, rules=rules, account_settings=account_settings, clock=clock, settings=settings
        ),
        booking=booking,
        bookings=bookings,
        account_settings=account_settings,
    )
