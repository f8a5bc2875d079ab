"""The one event store of a process: every aggregate's events (posts, accounts, workspaces,
webhook deliveries), in one table, through one pool of connections.

It is the eventsourcing library's `Application`, given the reads Herald's services need in
batches (`get_many`: a dispatcher claims 100 posts in one query, not 100).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import get_topic

from domain.base import Aggregate, DomainEvent
from infrastructure.persistence.batch_reads import events_of, newest_versions

log = logging.getLogger("herald.events")


class HeraldEvents(Application[UUID]):
    name = "herald"

    def construct_factory(self, env: Any) -> InfrastructureFactory:
        factory = super().construct_factory(env)
        datastore = getattr(factory, "datastore", None)
        if datastore is not None and hasattr(datastore, "schema"):  # PostgreSQL
            # the read models share this pool: their unqualified table names live in the schema
            datastore.pool.kwargs["options"] = f"-c search_path={datastore.schema}"
            datastore.pool.kwargs["connect_timeout"] = 5  # a server that does not answer: say so soon
            datastore.pool.kwargs["application_name"] = f"herald-{os.getpid()}"  # pg_stat_activity says whose
        return factory

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's `save`, Herald's events and aggregates known by their classes.

        The library tells an event from an aggregate with `isinstance` against its runtime
        protocols, which costs 7.6 µs an object on Python 3.11: ~4% of a dispatcher's time in
        a burst, where each post saves a claim and an outcome. Anything else takes the library's
        own path."""
        if not all(isinstance(obj, DomainEvent | Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.events.append(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)  # from here on, as the library's save
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)
        return recordings

    @property
    def pool(self) -> Any:
        """The PostgreSQL connection pool (None on SQLite and in memory)."""
        datastore: Any = getattr(self.factory, "datastore", None)
        return datastore.pool if hasattr(datastore, "schema") else None

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate folded from its events (up to `version`, if given);
        `AggregateNotFoundError` if it has none."""
        return self.repository.get(aggregate_id, version=version)

    def get_many(self, ids: Sequence[UUID], known: Mapping[UUID, Any] | None = None) -> dict[UUID, Any]:
        """Many aggregates, folded from one query's events (unknown ids are left out).

        An aggregate in `known` whose newest stored event is the version it already has is
        returned as it is: only its newest version is read (`newest_versions`), not its
        history, and nothing is decoded or folded. The query still runs, so a change made
        anywhere (another process too) is seen at once."""
        if not hasattr(self.recorder, "datastore"):  # in memory: one read each costs nothing
            return {i: self.repository.get(i) for i in ids if self.recorder.select_events(i, limit=1)}
        known = known or {}
        held_ids = [i for i in ids if i in known]
        newest = newest_versions(self.recorder, held_ids) if held_ids else {}
        found: dict[UUID, Any] = {i: known[i] for i in held_ids if newest.get(i) == known[i].version}
        for aggregate_id, stored in events_of(self.recorder, [i for i in ids if i not in found]).items():
            try:
                aggregate = None
                for record in stored:
                    event: Any = self.mapper.to_domain_event(record)  # a Herald event: it mutates
                    aggregate = event.mutate(aggregate)
            except Exception:  # one unreadable aggregate is left out; reading it alone says why
                log.exception("aggregate %s cannot be folded from its events", aggregate_id)
                continue
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def history(self, aggregate_id: UUID) -> list[Any]:
        """The aggregate's events, oldest first (empty if it has none)."""
        return list(self.events.get(aggregate_id))

    def ids_created_by(self, event_class: type) -> set[UUID]:
        """The ids of every aggregate whose first event is of `event_class`."""
        topic = get_topic(event_class)
        found = self.recorder.select_notifications(start=None, limit=10**9, topics=[topic])
        return {UUID(str(n.originator_id)) for n in found}

    def last_position(self) -> int:
        """The notification id of the newest event (0 when there is none)."""
        return int(self.recorder.max_notification_id() or 0)
