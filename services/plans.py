"""Assessing a plan: what a list of planned posts would do, writing nothing.

For each item: would the platform take its content, does it land within a minute of a post
already booked for its account, and does it fit the account's posting window (counting the
plan's own earlier items)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.content import Content, Platform
from domain.errors import HeraldError
from domain.quota import fits, next_free
from domain.validation import Problem, validate
from services.booking import Booking
from services.content_rules import ContentRules

COLLIDES_WITHIN = timedelta(seconds=60)


@dataclass(frozen=True)
class PlanItem:
    account: str
    platform: Platform
    content: Content
    at: datetime | None  # None: a draft, with no time
    refusal: HeraldError | None = None  # its time could not be read


@dataclass(frozen=True)
class PlanIssue:
    index: int
    code: str
    message: str
    next_free: datetime | None = None
    problems: list[Problem] | None = None


@dataclass
class Assessment:
    earliest: datetime | None = None
    latest: datetime | None = None
    per_platform: Counter[str] = field(default_factory=Counter)
    per_account: Counter[str] = field(default_factory=Counter)
    per_day: Counter[str] = field(default_factory=Counter)
    collisions: list[PlanIssue] = field(default_factory=list)
    quota_violations: list[PlanIssue] = field(default_factory=list)
    problems: list[PlanIssue] = field(default_factory=list)


def assess(
    items: list[PlanItem], workspace: str, rules: ContentRules, booking: Booking, *, checked: bool = False
) -> Assessment:
    """What the items would do. Each account's settings and bookings are read once for the
    whole plan, not once per item; with `checked`, the content was checked already (an import
    checks each row as it reads it) and is not checked again."""
    found = Assessment()
    instants: list[datetime] = []
    planned: dict[str, list[datetime]] = {}
    planned_at: dict[str, list[tuple[int, datetime]]] = {}  # the plan's own items, per account
    quotas = {
        (item.account, item.platform): booking.quota_of(workspace, item.account, item.platform)
        for item in items
        if item.at is not None and item.refusal is None
    }
    books: dict[str, list[datetime]] = {}
    for account in {account for account, _ in quotas}:
        earliest = min(i.at for i in items if i.account == account and i.at is not None and i.refusal is None)
        window = max(quota.window for (who, _), quota in quotas.items() if who == account)
        books[account] = sorted(booking.book_of(workspace, account, earliest - window).values())
    for index, item in enumerate(items):
        if item.refusal is not None:
            found.problems.append(PlanIssue(index, item.refusal.code, item.refusal.message))
            continue
        if not checked and (
            problems := validate(item.content, rules.rules_for(item.platform, workspace, item.account))
        ):
            message = "; ".join(p.message for p in problems)
            found.problems.append(PlanIssue(index, "content_invalid", message, problems=problems))
        at = item.at
        if at is None:
            continue
        instants.append(at)
        found.per_platform[item.platform.value] += 1
        found.per_account[item.account] += 1
        found.per_day[at.date().isoformat()] += 1
        quota = quotas[(item.account, item.platform)]
        booked = [due for due in books[item.account] if due >= at - quota.window]
        for existing in booked:
            if abs(existing - at) < COLLIDES_WITHIN:
                message = f"{item.account} already has a post at {existing.isoformat()}, within a minute of this one"
                found.collisions.append(PlanIssue(index, "collision", message))
                break
        else:  # inside the plan: two of its items for one account within a minute
            for other, when in planned_at.get(item.account, []):
                if abs(when - at) < COLLIDES_WITHIN:
                    message = f"item {other} of this plan is for {item.account} at {when.isoformat()}, within a minute"
                    found.collisions.append(PlanIssue(index, "collision", message))
                    break
        planned_at.setdefault(item.account, []).append((index, at))
        book = booked + planned.setdefault(item.account, [])
        if not fits(at, book, quota):
            free = next_free(at, book, quota)
            message = (
                f"{item.account} would exceed {quota.limit} posts per {quota.window}; next free {free.isoformat()}"
            )
            found.quota_violations.append(PlanIssue(index, "quota_exceeded", message, next_free=free))
        planned[item.account].append(at)
    found.earliest, found.latest = min(instants, default=None), max(instants, default=None)
    return found
