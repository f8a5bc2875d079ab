"""Pydantic foundations for event-sourced aggregates (after the eventsourcing library's aggregate8).

Events are frozen pydantic models, so they validate on the way in and dump to plain JSON
on the way out; the aggregate itself is the library's mutable `BaseAggregate`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from pydantic import BaseModel, ConfigDict


class Immutable(BaseModel):
    """A value: frozen, and strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainEvent(Immutable):
    originator_id: UUID
    originator_version: int
    timestamp: datetime


class Aggregate(BaseAggregate[UUID]):
    """Base for Herald's aggregates. Ids are chosen by the caller, never drawn here."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        raise NotImplementedError("pass id= explicitly: the domain draws no randomness")

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        pass

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str
