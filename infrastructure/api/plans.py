"""/plans: a fan-out plan (one post per target under one plan id) and its status, and
/plans/dry-run: what a list of planned posts would do, writing nothing."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from domain.errors import HeraldError
from domain.instants import require_due
from domain.plan import PlanNotFound, Stagger
from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.models import CreatePost, DryRun, DryRunOut
from infrastructure.api.plan_models import CreatePlan, PlanOut
from infrastructure.zones import parse_instant
from services.fanout import PlanTarget
from services.plans import Assessment, PlanIssue, PlanItem, assess


def plan_item(ctx: Context, item: CreatePost) -> PlanItem:
    content = item.content.to_domain()
    if item.mode == "draft":
        return PlanItem(item.account, item.platform, content, None)
    if item.mode == "now":
        return PlanItem(item.account, item.platform, content, ctx.herald.clock())
    try:
        at = require_due(parse_instant(item.scheduled_at or "", item.timezone))
    except HeraldError as refusal:
        return PlanItem(item.account, item.platform, content, None, refusal)
    return PlanItem(item.account, item.platform, content, at)


def issues(found: list[PlanIssue]) -> list[dict[str, Any]]:
    return [
        {
            "index": issue.index,
            "code": issue.code,
            "message": issue.message,
            "next_free": issue.next_free,
            "problems": [p.model_dump() for p in issue.problems] if issue.problems else None,
        }
        for issue in found
    ]


def dry_run_out(found: Assessment) -> DryRunOut:
    return DryRunOut.model_validate(
        {
            "earliest": found.earliest,
            "latest": found.latest,
            "per_platform": dict(found.per_platform),
            "per_account": dict(found.per_account),
            "per_day": dict(found.per_day),
            "collisions": issues(found.collisions),
            "quota_violations": issues(found.quota_violations),
            "problems": issues(found.problems),
        }
    )


async def dry_run(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    plan = DryRun.model_validate(await json_of(request))
    items = [plan_item(ctx, item) for item in plan.items]
    found = await asyncio.to_thread(assess, items, workspace_of(request), ctx.herald.rules, ctx.herald.booking)
    return json_response(dry_run_out(found).model_dump(mode="json"))


async def create_plan(request: web.Request) -> web.Response:
    """One post per target under one plan id, all at once (201); the same plan id again
    answers the plan it made (200), nothing twice."""
    ctx: Context = request.app[CTX]
    body = CreatePlan.model_validate(await json_of(request))
    workspace = workspace_of(request)
    if not ctx.generic_platform:
        for target in body.targets:
            await asyncio.to_thread(ctx.accounts.require, workspace, target.account, target.platform)
    await asyncio.to_thread(ctx.limiter.take, workspace)
    at = require_due(parse_instant(body.scheduled_at, body.timezone)) if body.scheduled_at is not None else None
    targets = [
        PlanTarget(account=t.account, platform=t.platform, content=t.content.to_domain() if t.content else None)
        for t in body.targets
    ]
    view, made = await asyncio.to_thread(
        lambda: ctx.herald.plans.create(
            workspace,
            plan_id=body.plan_id or uuid4(),
            name=body.name,
            content=body.content.to_domain(),
            targets=targets,
            scheduled_at=at,
            stagger=Stagger(**body.stagger.model_dump()),
        )
    )
    return json_response(PlanOut.model_validate(view.model_dump()).model_dump(mode="json"), 201 if made else 200)


async def get_plan(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    try:
        plan_id = UUID(request.match_info["plan_id"])
    except ValueError:
        raise PlanNotFound(f"no plan {request.match_info['plan_id']!r} in this workspace") from None
    view = await asyncio.to_thread(ctx.herald.plans.get, workspace_of(request), plan_id)
    return json_response(PlanOut.model_validate(view.model_dump()).model_dump(mode="json"))
