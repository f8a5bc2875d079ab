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
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content
from domain.errors import ConcurrentChange, HeraldError
from domain.post import Post, PostState
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


class Applied(BaseModel):
    """What an edit did to posts already materialised."""

    changed: list[UUID] = []
    canceled: list[UUID] = []
    kept: list[str] = []


ApplyTo = Literal["unmaterialised", "future_materialised"]


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
        apply_to: ApplyTo = "unmaterialised",
    ) -> tuple[RuleView, Applied | None]:
        """A new version of the rule. By default occurrences already materialised keep their
        posts; with `apply_to="future_materialised"` those posts not yet sent follow the new
        version too (see `_apply`), in the same transaction as the edit."""
        if zone is not None:
            self.zones(zone)
        rule = self._get(workspace, rule_id)
        if content is not None or targets is not None:
            self._check_content(workspace, content or rule.content, targets or list(rule.targets))
        rule.edit(
            zone=zone,
            recurrence=recurrence,
            content=content,
            targets=tuple(targets) if targets is not None else None,
            lead=lead,
            freeze=self.posts.settings.freeze,
            now=self.clock(),
        )
        applied, posts = self._apply(rule) if apply_to == "future_materialised" else (None, [])
        try:
            self.events.save(rule, *posts)
        except IntegrityError:
            raise ConcurrentChange(f"rule {rule_id} or one of its posts changed at the same moment; retry") from None
        return self._view(rule), applied

    def _apply(self, rule: Rule) -> tuple[Applied, list[Post]]:
        """Carry the rule's new version to its materialised posts still waiting: new content
        is edited in, a new time reschedules them, and a post whose target or date the rule
        no longer has is canceled. A post already claimed or sent, or inside its freeze
        window, is kept as it was, and said so."""
        now, zone = self.clock(), self.zones(rule.zone)
        ids = [post_id for made in rule.materialised.values() for post_id in made]
        found = {i: p for i, p in self.events.get_many(ids).items() if isinstance(p, Post)}
        dates = [d for d, made in rule.materialised.items() if any(i in found for i in made)]
        if not dates:
            rule.record_applied(changed=(), canceled=(), kept=(), now=now)
            return Applied(), []
        start = datetime.combine(min(dates) - timedelta(days=2), time(), tzinfo=UTC)
        until = datetime.combine(max(dates) + timedelta(days=2), time(), tzinfo=UTC)
        due = {o.local_date: o.due_at for o in rule.recurrence.occurrences(zone, after=start, until=until)}
        targets = {(t.account, t.platform) for t in rule.targets}
        content = self.posts.media(rule.workspace, rule.content) if self.posts.media else rule.content
        applied, changed = Applied(), []
        for local_date, made in rule.materialised.items():
            for post in (found[i] for i in made if i in found):
                if post.state is not PostState.QUEUED or post.due_at is None or now >= post.due_at - post.freeze:
                    applied.kept.append(f"{post.id}: {post.state.value}, not changed")
                elif (post.account, post.platform) not in targets or local_date not in due:
                    post.cancel(now=now, reason=f"rule {rule.name!r} edited: it no longer makes this post")
                    applied.canceled.append(post.id)
                    changed.append(post)
                elif post.content != content or post.due_at != due[local_date]:
                    if post.content != content:
                        post.edit_content(content, now=now)
                    if post.due_at != due[local_date]:
                        post.reschedule(due[local_date], now=now, reason=f"rule {rule.name!r} edited")
                    applied.changed.append(post.id)
                    changed.append(post)
        rule.record_applied(
            changed=tuple(applied.changed), canceled=tuple(applied.canceled), kept=tuple(applied.kept), now=now
        )
        return applied, changed

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
