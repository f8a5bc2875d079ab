"""Recurring rules: create, edit, pause, resume, delete; and materialise, just in time.

`materialise(now)` turns every occurrence due within its rule's lead time into ordinary
posts, one per target, each with the id `occurrence_post_id` gives. It is idempotent by
construction: a post that already exists (an earlier run that crashed before recording the
occurrence, or a second materialiser) is taken as made, and the rule records each occurrence
once. A target that refuses (content the platform would not take, an account not connected,
a full posting window, an occurrence already past) is named in the occurrence's event, so
nothing is dropped silently and nothing is retried forever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content
from domain.errors import ConcurrentChange, HeraldError
from domain.recurrence import Occurrence, Recurrence
from domain.rule import Rule, RuleNotFound, Target
from services.ports import Clock, EventLog
from services.posts import PostCommands

Zones = Callable[[str], tzinfo]  # an IANA name to its zone, refusing anything else
LEAD = timedelta(hours=24)


class RuleView(BaseModel):
    id: UUID
    workspace: str
    name: str
    zone: str
    rrule: str
    starts: date
    at: time
    lead_seconds: float
    targets: list[Target]
    content: Content
    version: int
    paused: bool
    materialised: int
    next_due: datetime | None

    @classmethod
    def of(cls, rule: Rule, next_due: datetime | None) -> RuleView:
        return cls(
            id=rule.id,
            workspace=rule.workspace,
            name=rule.name,
            zone=rule.zone,
            rrule=rule.recurrence.rrule,
            starts=rule.recurrence.starts,
            at=rule.recurrence.at,
            lead_seconds=rule.lead.total_seconds(),
            targets=list(rule.targets),
            content=rule.content,
            version=rule.plan_version,
            paused=rule.paused,
            materialised=len(rule.materialised),
            next_due=next_due,
        )


class Materialisation(BaseModel):
    rule_id: UUID
    local_date: date
    due_at: datetime
    post_ids: list[UUID]
    refused: list[str]
    adjustment: str | None


class RuleService:
    def __init__(self, events: EventLog, *, posts: PostCommands, zones: Zones, clock: Clock) -> None:
        self.events = events
        self.posts = posts
        self.zones = zones
        self.clock = clock

    def create(
        self,
        workspace: str,
        *,
        name: str,
        zone: str,
        recurrence: Recurrence,
        content: Content,
        targets: list[Target],
        lead: timedelta = LEAD,
        rule_id: UUID | None = None,
    ) -> RuleView:
        self.zones(zone)  # a name that is no IANA zone is refused here, not at materialising
        self._check_content(workspace, content, targets)
        rule = Rule.create(
            rule_id=rule_id or uuid4(),
            workspace=workspace,
            name=name,
            zone=zone,
            recurrence=recurrence,
            content=content,
            targets=tuple(targets),
            lead=lead,
            freeze=self.posts.settings.freeze,
            now=self.clock(),
        )
        self.events.save(rule)
        return self._view(rule)

    def get(self, workspace: str, rule_id: UUID) -> RuleView:
        return self._view(self._get(workspace, rule_id))

    def all(self, workspace: str) -> list[RuleView]:
        return [self._view(rule) for rule in self._rules() if rule.workspace == workspace and not rule.deleted]

    def pause(self, workspace: str, rule_id: UUID) -> RuleView:
        return self._change(workspace, rule_id, lambda rule: rule.pause(now=self.clock()))

    def resume(self, workspace: str, rule_id: UUID) -> RuleView:
        return self._change(workspace, rule_id, lambda rule: rule.resume(now=self.clock()))

    def delete(self, workspace: str, rule_id: UUID) -> RuleView:
        return self._change(workspace, rule_id, lambda rule: rule.delete(now=self.clock()))

    def edit(
        self,
        workspace: str,
        rule_id: UUID,
        *,
        zone: str | None = None,
        recurrence: Recurrence | None = None,
        content: Content | None = None,
        targets: list[Target] | None = None,
        lead: timedelta | None = None,
    ) -> RuleView:
        """A new version of the rule; occurrences already materialised keep their posts."""
        if zone is not None:
            self.zones(zone)
        if content is not None or targets is not None:
            current = self._get(workspace, rule_id)
            self._check_content(workspace, content or current.content, targets or list(current.targets))
        return self._change(
            workspace,
            rule_id,
            lambda rule: rule.edit(
                zone=zone,
                recurrence=recurrence,
                content=content,
                targets=tuple(targets) if targets is not None else None,
                lead=lead,
                freeze=self.posts.settings.freeze,
                now=self.clock(),
            ),
        )

    def materialise(self, now: datetime | None = None) -> list[Materialisation]:
        """Make the posts of every occurrence due within its rule's lead time of `now`."""
        now = now or self.clock()
        made: list[Materialisation] = []
        for rule in self._rules():
            zone = self.zones(rule.zone)
            window = list(rule.recurrence.occurrences(zone, after=rule.created_at, until=now + rule.lead))
            pending = rule.pending(window)
            if not pending:
                continue
            made += [self._materialise(rule, occurrence) for occurrence in pending]
            try:
                self.events.save(rule)
            except IntegrityError:
                continue  # another materialiser recorded them a moment ago, with the same posts
        return made

    def _materialise(self, rule: Rule, occurrence: Occurrence) -> Materialisation:
        made: list[UUID] = []
        refused: list[str] = []
        for target, post_id in zip(rule.targets, rule.post_ids(occurrence), strict=True):
            try:
                self.posts.schedule(
                    account=target.account,
                    platform=target.platform,
                    content=rule.content,
                    scheduled_at=occurrence.due_at,
                    external_id=f"rule:{rule.id}:{occurrence.local_date.isoformat()}",
                    workspace=rule.workspace,
                    post_id=post_id,
                )
            except (IntegrityError, ConcurrentChange):
                pass  # made by an earlier run that stopped before recording it: the same post
            except HeraldError as refusal:
                refused.append(f"{target.platform.value}/{target.account}: {refusal.code}: {refusal.message}"[:500])
                continue
            made.append(post_id)
        rule.record(occurrence, made=tuple(made), refused=tuple(refused), now=self.clock())
        return Materialisation(
            rule_id=rule.id,
            local_date=occurrence.local_date,
            due_at=occurrence.due_at,
            post_ids=made,
            refused=refused,
            adjustment=occurrence.adjustment,
        )

    def _check_content(self, workspace: str, content: Content, targets: list[Target]) -> None:
        """Refuse a template some target's platform would not take, as scheduling a post does."""
        for target in targets:
            self.posts.check_content(target.platform, content, workspace, target.account)

    def _change(self, workspace: str, rule_id: UUID, change: Callable[[Rule], None]) -> RuleView:
        rule = self._get(workspace, rule_id)
        change(rule)
        self.events.save(rule)
        return self._view(rule)

    def _view(self, rule: Rule) -> RuleView:
        upcoming = None
        if not rule.paused and not rule.deleted:
            now = self.clock()
            later = rule.recurrence.occurrences(self.zones(rule.zone), after=now, until=now + timedelta(days=366 * 15))
            upcoming = next((o.due_at for o in later if o.local_date not in rule.materialised), None)
        return RuleView.of(rule, upcoming)

    def _get(self, workspace: str, rule_id: UUID) -> Rule:
        try:
            rule = self.events.get(rule_id)
        except AggregateNotFoundError:
            rule = None
        if not isinstance(rule, Rule) or rule.workspace != workspace or rule.deleted:
            raise RuleNotFound(f"no rule {rule_id} in this workspace")
        return rule

    def _rules(self) -> list[Rule]:
        found = self.events.get_many(sorted(self.events.ids_created_by(Rule.Created)))
        return [rule for rule in found.values() if isinstance(rule, Rule) and not rule.deleted]
