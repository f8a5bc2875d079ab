"""A recurring rule: the plan apart from its execution.

    Created ─► Materialised (one per occurrence) … ─► Paused ⇄ Resumed ─► Deleted
                 Edited (a new version: occurrences not yet materialised follow it)

A rule holds a template (the content), the accounts it goes to, and when it recurs
(`Recurrence`: an RRULE over local dates at a local time, in an IANA zone). Just in time
(`lead` before an occurrence falls due) it *materialises* the occurrence: one ordinary
`Post` per target, each with an id derived from the rule, its version, the local date and
the target, so a crash or a second materialiser never makes a second post. Each
materialisation is an event, so replay shows why every post exists.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.content import Content, Platform
from domain.errors import HeraldError
from domain.instants import require_utc
from domain.recurrence import Adjustment, Occurrence, Recurrence
from domain.text import check_text

RULES = uuid.UUID("8f1c2d4e-6a3b-4c5d-9e7f-0a1b2c3d4e5f")
LONGEST_LEAD = timedelta(days=30)


class Target(Immutable):
    account: str
    platform: Platform


class RuleNotFound(HeraldError):
    code = "rule_not_found"
    field = "rule_id"


class TargetsMissing(HeraldError):
    code = "targets_missing"
    field = "targets"


class InvalidLead(HeraldError):
    code = "invalid_lead"
    field = "lead_seconds"


class RuleDeleted(HeraldError):
    code = "rule_deleted"
    field = "rule_id"


def occurrence_post_id(rule_id: UUID, version: int, day: date, target: Target) -> UUID:
    """The post an occurrence makes for `target`: the same inputs, the same post, always."""
    return uuid.uuid5(RULES, f"{rule_id}/{version}/{day.isoformat()}/{target.platform.value}/{target.account}")


class Rule(Aggregate):
    class Created(Aggregate.Created):
        workspace: str
        name: str
        zone: str
        recurrence: Recurrence
        content: Content
        targets: tuple[Target, ...]
        lead_seconds: float

        def apply(self, rule: Rule) -> None:
            rule.workspace = self.workspace
            rule.name = self.name
            _adopt(rule, self)
            rule.plan_version = 1
            rule.paused = False
            rule.deleted = False
            rule.materialised = {}
            rule.created_at = self.timestamp

    class Edited(Aggregate.Event):
        """A new version of the plan; occurrences already materialised keep their posts."""

        zone: str
        recurrence: Recurrence
        content: Content
        targets: tuple[Target, ...]
        lead_seconds: float

        def apply(self, rule: Rule) -> None:
            _adopt(rule, self)
            rule.plan_version += 1

    class Materialised(Aggregate.Event):
        """An occurrence became posts: one per target, and why it falls when it does."""

        local_date: date
        due_at: datetime
        plan_version: int
        post_ids: tuple[UUID, ...]
        adjustment: Adjustment | None = None
        refused: tuple[str, ...] = ()  # targets that would not take it, and why (visible, never retried)

        def apply(self, rule: Rule) -> None:
            rule.materialised[self.local_date] = self.post_ids

    class EditApplied(Aggregate.Event):
        """An edit carried to posts already made (`apply_to=future_materialised`): which were
        changed, which canceled (their target or their date left the rule), and which were
        kept as they were, and why (already sent, inside their freeze window)."""

        plan_version: int
        changed: tuple[UUID, ...]
        canceled: tuple[UUID, ...]
        kept: tuple[str, ...]

        def apply(self, rule: Rule) -> None:
            del rule  # the posts hold their own changes; this says why they changed

    class Paused(Aggregate.Event):
        def apply(self, rule: Rule) -> None:
            rule.paused = True

    class Resumed(Aggregate.Event):
        def apply(self, rule: Rule) -> None:
            rule.paused = False

    class Deleted(Aggregate.Event):
        def apply(self, rule: Rule) -> None:
            rule.deleted = True

    if TYPE_CHECKING:
        workspace: str
        name: str
        zone: str
        recurrence: Recurrence
        content: Content
        targets: tuple[Target, ...]
        lead: timedelta
        plan_version: int
        paused: bool
        deleted: bool
        materialised: dict[date, tuple[UUID, ...]]
        created_at: datetime

    @classmethod
    def create(
        cls,
        *,
        rule_id: UUID,
        workspace: str,
        name: str,
        zone: str,
        recurrence: Recurrence,
        content: Content,
        targets: tuple[Target, ...],
        lead: timedelta,
        freeze: timedelta,
        now: datetime,
    ) -> Rule:
        check_text(name, field="name")
        content.check_characters()
        recurrence.check()
        _check_plan(targets, lead, freeze)
        return cls._create(
            cls.Created,
            id=rule_id,
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            name=name,
            zone=zone,
            recurrence=recurrence,
            content=content,
            targets=targets,
            lead_seconds=lead.total_seconds(),
        )

    def edit(
        self,
        *,
        zone: str | None = None,
        recurrence: Recurrence | None = None,
        content: Content | None = None,
        targets: tuple[Target, ...] | None = None,
        lead: timedelta | None = None,
        freeze: timedelta,
        now: datetime,
    ) -> None:
        self._check_present()
        recurrence = recurrence or self.recurrence
        recurrence.check()
        if content is not None:
            content.check_characters()
        lead = lead if lead is not None else self.lead
        targets = targets if targets is not None else self.targets
        _check_plan(targets, lead, freeze)
        self.trigger_event(
            self.Edited,
            timestamp=require_utc(now, field="now"),
            zone=zone or self.zone,
            recurrence=recurrence,
            content=content or self.content,
            targets=targets,
            lead_seconds=lead.total_seconds(),
        )

    def pending(self, occurrences: list[Occurrence]) -> list[Occurrence]:
        """The occurrences (in the materialising window) that have no posts yet."""
        if self.paused or self.deleted:
            return []
        return [o for o in occurrences if o.local_date not in self.materialised]

    def post_ids(self, occurrence: Occurrence) -> tuple[UUID, ...]:
        return tuple(occurrence_post_id(self.id, self.plan_version, occurrence.local_date, t) for t in self.targets)

    def record(
        self, occurrence: Occurrence, *, made: tuple[UUID, ...], refused: tuple[str, ...] = (), now: datetime
    ) -> None:
        """Say that `occurrence` became the posts `made` (saved just before, with ids from
        `post_ids`), and which targets refused it and why."""
        if occurrence.local_date in self.materialised:
            return
        self.trigger_event(
            self.Materialised,
            timestamp=require_utc(now, field="now"),
            local_date=occurrence.local_date,
            due_at=occurrence.due_at,
            plan_version=self.plan_version,
            post_ids=made,
            adjustment=occurrence.adjustment,
            refused=refused,
        )

    def record_applied(
        self, *, changed: tuple[UUID, ...], canceled: tuple[UUID, ...], kept: tuple[str, ...], now: datetime
    ) -> None:
        self.trigger_event(
            self.EditApplied,
            timestamp=require_utc(now, field="now"),
            plan_version=self.plan_version,
            changed=changed,
            canceled=canceled,
            kept=kept,
        )

    def pause(self, *, now: datetime) -> None:
        self._check_present()
        if not self.paused:
            self.trigger_event(self.Paused, timestamp=require_utc(now, field="now"))

    def resume(self, *, now: datetime) -> None:
        self._check_present()
        if self.paused:
            self.trigger_event(self.Resumed, timestamp=require_utc(now, field="now"))

    def delete(self, *, now: datetime) -> None:
        if not self.deleted:
            self.trigger_event(self.Deleted, timestamp=require_utc(now, field="now"))

    def _check_present(self) -> None:
        if self.deleted:
            raise RuleDeleted(f"rule {self.id} was deleted")


def _adopt(rule: Rule, plan: Rule.Created | Rule.Edited) -> None:
    """The plan an event sets: when, where to, what, and how long ahead."""
    rule.zone = plan.zone
    rule.recurrence = plan.recurrence
    rule.content = plan.content
    rule.targets = plan.targets
    rule.lead = timedelta(seconds=plan.lead_seconds)


def _check_plan(targets: tuple[Target, ...], lead: timedelta, freeze: timedelta) -> None:
    if not targets:
        raise TargetsMissing("a rule needs at least one target: an account and its platform")
    if not freeze < lead <= LONGEST_LEAD:
        raise InvalidLead(
            f"the lead time must be longer than the freeze window ({freeze.total_seconds():g}s: posts cannot "
            f"be changed closer to their time) and at most {LONGEST_LEAD.days} days"
        )
