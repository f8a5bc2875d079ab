"""Every recorded decision, made again from the stored log.

A post's decisions (what an attempt's outcome leads to, what the reconciler's look settles,
whether a hold ends, what a passed deadline means, a refusal at claim, an expired lease)
each record their `Basis`: the inputs that are not the post's own state. The verifier folds
a post's events in order; at each decision it copies the post as it stood just before,
gives the copy the same command with the recorded basis and the event's own instant, under
the rules of the version that decided, and compares the event the copy makes with the one
stored. Any difference is a bug in the rules, the fold or the store: never noise.

This is the check Temporal runs when it replays a workflow's history. No I/O: the caller
feeds events in stored order (`infrastructure/cli/verify.py` streams them from a store).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from domain.base import DomainEvent, Immutable
from domain.decisions import RULES, Basis, DecisionRules
from domain.errors import HeraldError
from domain.post import Post


class Mismatch(Immutable):
    """A decision that came out differently when made again."""

    post_id: UUID
    workspace: str
    position: int  # the event's version within its post (1 is the draft)
    event: str  # the event stored
    at: datetime | None  # None: the stored event did not decode
    rule: str
    version: int  # the rules' version the event says decided it
    expected: dict[str, Any]  # the fields (or the event name) the rules make now
    recorded: dict[str, Any]  # the same fields as stored


# events only a decision makes: stored without a basis, they predate it (others may also be
# support's or a platform's word, which records none)
ONLY_DECIDED = frozenset({"AttemptFailed", "AttentionNeeded", "HoldReleased"})


@dataclass(frozen=True)
class _Said:
    message: str


@dataclass
class Verifier:
    """Feed it every post event in stored order; it keeps each post's fold and checks each
    decision at or after `since` (in `workspace`, when given)."""

    since: datetime | None = None
    workspace: str | None = None
    checked: int = 0  # decisions made again
    events: int = 0  # events folded
    unrecorded: int = 0  # decision-shaped events stored before decisions kept their basis
    mismatches: list[Mismatch] = field(default_factory=list)
    posts: dict[UUID, Post] = field(default_factory=dict)  # posts still in flight, folded
    ended: dict[UUID, str] = field(default_factory=dict)  # terminal posts: their workspace only

    def feed(self, event: DomainEvent) -> Mismatch | None:
        """Fold `event` into its post, first checking it if it records a decision."""
        self.events += 1
        if event.originator_id in self.ended:
            return None  # after the end only links are added (a redrive), never a decision
        post = self.posts.get(event.originator_id)
        found = None
        if post is not None and self._wanted(post, event):
            basis = getattr(event, "basis", None)
            if basis is not None:
                self.checked += 1
                found = remake(post, event, basis)
                if found is not None:
                    self.mismatches.append(found)
            elif type(event).__name__ in ONLY_DECIDED:
                self.unrecorded += 1
        folded = event.mutate(post)  # type: ignore[attr-defined]
        if folded.is_terminal:
            # it decides nothing more: only its workspace is kept, so memory follows the posts
            # still in flight, not the whole history
            self.posts.pop(event.originator_id, None)
            self.ended[event.originator_id] = folded.workspace
        else:
            self.posts[event.originator_id] = folded
        return found

    def workspace_of(self, post_id: UUID) -> str | None:
        """The workspace of a post seen so far (None: not seen)."""
        if post_id in self.ended:
            return self.ended[post_id]
        post = self.posts.get(post_id)
        return post.workspace if post is not None else None

    def _wanted(self, post: Post, event: DomainEvent) -> bool:
        if self.workspace is not None and post.workspace != self.workspace:
            return False
        return self.since is None or event.timestamp >= self.since


def remake(before: Post, event: DomainEvent, basis: Basis) -> Mismatch | None:
    """Make the decision `event` records again, on a copy of the post as it stood `before`."""
    rules = RULES.get(basis.version)
    recorded = _fields(event)
    if rules is None:
        expected: dict[str, Any] = {"rules": f"no rules are kept for version {basis.version}"}
        return _mismatch(before, event, basis, expected, {"rules": basis.version})
    twin = _twin(before)
    try:
        _command(twin, event, basis, rules)
    except HeraldError as refused:
        return _mismatch(before, event, basis, {"refused": str(refused)}, {"event": type(event).__name__})
    made = twin.collect_events()
    if not made:
        return _mismatch(before, event, basis, {"event": None}, {"event": type(event).__name__})
    remade = cast(DomainEvent, made[0])
    if type(remade).__name__ != type(event).__name__:
        return _mismatch(before, event, basis, {"event": type(remade).__name__}, {"event": type(event).__name__})
    again = _fields(remade)
    differing = sorted(key for key in again.keys() | recorded.keys() if again.get(key) != recorded.get(key))
    if not differing:
        return None
    return _mismatch(
        before,
        event,
        basis,
        {key: again.get(key) for key in differing},
        {key: recorded.get(key) for key in differing},
    )


def _twin(post: Post) -> Post:
    """A copy of the post that a command may change: shallow, because an event's `apply` only
    ever assigns (never changes a dict or list in place), with its own pending events."""
    twin = copy.copy(post)
    twin._pending_events = []  # the library's list of events not yet collected
    return twin


def _command(twin: Post, event: DomainEvent, basis: Basis, rules: DecisionRules) -> None:
    now = event.timestamp
    match basis.rule:
        case "outcome":
            assert basis.observed is not None and basis.policy is not None and basis.seed is not None
            attempt = getattr(event, "attempt", twin.attempt)
            twin.record_outcome(
                attempt=attempt, observed=basis.observed, policy=basis.policy, seed=basis.seed, now=now, rules=rules
            )
        case "reconcile":
            assert basis.search is not None and basis.policy is not None
            twin.reconcile(basis.search, policy=basis.policy, now=now, rules=rules)
        case "hold":
            twin.release_hold(basis.account, now=now, rules=rules)
        case "deadline":
            twin.pass_deadline(now=now, rules=rules)
        case "claim":
            problems = [_Said(message) for message in basis.problems]
            twin.claim(worker="verify", lease=timedelta(0), now=now, problems=problems, rules=rules)
        case "lease":
            twin.expire_lease(now=now)


def _fields(event: DomainEvent) -> dict[str, Any]:
    # the basis is the decision's input, given back to it: only what it decided is compared
    return event.model_dump(mode="json", exclude={"originator_id", "basis"})


def _mismatch(
    before: Post, event: DomainEvent, basis: Basis, expected: dict[str, Any], recorded: dict[str, Any]
) -> Mismatch:
    return Mismatch(
        post_id=event.originator_id,
        workspace=before.workspace,
        position=event.originator_version,
        event=type(event).__name__,
        at=event.timestamp,
        rule=basis.rule,
        version=basis.version,
        expected=expected,
        recorded=recorded,
    )
