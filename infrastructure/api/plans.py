"""POST /plans/dry-run: what a list of planned posts would do, writing nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from domain.content import Platform
from domain.errors import HeraldError
from domain.quota import fits, next_free
from domain.validation import validate
from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import body_json, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.models import DryRun, DryRunOut, PlanIssue, ProblemOut
from infrastructure.zones import parse_instant

COLLIDES_WITHIN = timedelta(seconds=60)


def assess(ctx: Context, workspace: str, plan: DryRun) -> DryRunOut:
    now = ctx.posts.clock()
    instants: list[datetime] = []
    per_platform: Counter[str] = Counter()
    per_account: Counter[str] = Counter()
    per_day: Counter[str] = Counter()
    collisions, quota_violations, problems = [], [], []
    planned: dict[str, list[datetime]] = {}
    for index, item in enumerate(plan.items):
        try:
            at = now if item.mode == "now" else parse_instant(item.scheduled_at or "", item.timezone)
        except HeraldError as refusal:
            problems.append(PlanIssue(index=index, code=refusal.code, message=refusal.message))
            continue
        rules = ctx.posts.rules_for(item.platform, workspace, item.account)
        if found := validate(item.content.to_domain(), rules):
            problems.append(
                PlanIssue(
                    index=index,
                    code="content_invalid",
                    message="; ".join(p.message for p in found),
                    problems=[ProblemOut(**p.model_dump()) for p in found],
                )
            )
        if item.mode == "draft":
            continue
        instants.append(at)
        per_platform[item.platform.value] += 1
        per_account[item.account] += 1
        per_day[at.date().isoformat()] += 1
        quota = ctx.posts.quota_of(workspace, item.account, Platform(item.platform))
        booked = list(ctx.posts.book_of(workspace, item.account, at - quota.window).values())
        for existing in booked:
            if abs(existing - at) < COLLIDES_WITHIN:
                collisions.append(
                    PlanIssue(
                        index=index,
                        code="collision",
                        message=(
                            f"{item.account} already has a post at {existing.isoformat()}, within a minute of this one"
                        ),
                    )
                )
                break
        book = booked + planned.setdefault(item.account, [])
        if not fits(at, book, quota):
            free = next_free(at, book, quota)
            quota_violations.append(
                PlanIssue(
                    index=index,
                    code="quota_exceeded",
                    next_free=free,
                    message=(
                        f"{item.account} would exceed {quota.limit} posts per {quota.window}; "
                        f"next free {free.isoformat()}"
                    ),
                )
            )
        planned[item.account].append(at)
    return DryRunOut(
        earliest=min(instants, default=None),
        latest=max(instants, default=None),
        per_platform=dict(per_platform),
        per_account=dict(per_account),
        per_day=dict(per_day),
        collisions=collisions,
        quota_violations=quota_violations,
        problems=problems,
    )


async def dry_run(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    plan = DryRun.model_validate(body_json(await request.read()))
    result: Any = await asyncio.to_thread(assess, ctx, workspace_of(request), plan)
    return json_response(result.model_dump(mode="json"))
