"""/plans: a fan-out plan (one post per target under one plan id) and its status, and
/plans/dry-run: what a list of planned posts would do, writing nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from domain.content import Platform
from domain.errors import HeraldError
from domain.instants import require_due
from domain.plan import PlanNotFound, Stagger
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.models import CreatePost, DryRun, DryRunOut, ImportOut
from infrastructure.api.plan_models import CreatePlan, PlanOut
from infrastructure.api.server import read_body
from infrastructure.zones import parse_instant
from services.fanout import PlanTarget
from services.imports import read_records
from services.plans import Assessment, PlanIssue, PlanItem, assess


def plan_item(ctx: Context, item: CreatePost, slot: datetime | HeraldError | None = None) -> PlanItem:
    content = item.content.to_domain()
    if isinstance(slot, HeraldError):
        return PlanItem(item.account, item.platform, content, None, slot)
    if slot is not None:
        return PlanItem(item.account, item.platform, content, slot)
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
    slots = await asyncio.to_thread(queue_slots, ctx, workspace_of(request), plan.items)
    items = [plan_item(ctx, item, slots.get(index)) for index, item in enumerate(plan.items)]
    found = await asyncio.to_thread(assess, items, workspace_of(request), ctx.herald.rules, ctx.herald.booking)
    answer = dry_run_out(found).model_dump(mode="json")
    answer["queue_slots"] = [
        {"index": index, "account": plan.items[index].account, "slot": slot.isoformat().replace("+00:00", "Z")}
        for index, slot in sorted(slots.items())
        if isinstance(slot, datetime)
    ]
    return json_response(DryRunOut.model_validate(answer).model_dump(mode="json"))


def queue_slots(ctx: Context, workspace: str, items: list[CreatePost]) -> dict[int, datetime | HeraldError]:
    """{index: the slot it would take} for the plan's `mode: queue` items, each account's in
    the plan's order after what is booked already, or the refusal (no queue, no free slot)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        if item.mode == "queue":
            groups.setdefault((item.account, item.platform), []).append(index)
    slots: dict[int, datetime | HeraldError] = {}
    for (account, platform), indexes in groups.items():
        wanted = [(str(index), items[index].category) for index in indexes]
        try:
            placed = ctx.herald.queues.preview(workspace, account, Platform(platform), wanted)
        except HeraldError as refusal:
            slots |= dict.fromkeys(indexes, refusal)
            continue
        slots |= {int(index): slot for index, slot in placed.items()}
    return slots


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


IMPORT_MAX = 8 * 1024 * 1024  # bytes of a file of rows
IMPORT_ROWS = 10_000


async def import_rows(request: web.Request) -> web.Response:
    """Many posts from a CSV or JSON file: every row checked first, then all or none (or the
    good ones, with partial=true); dry_run=true writes nothing."""
    ctx: Context = request.app[CTX]
    workspace = workspace_of(request)
    unknown = sorted(set(request.query) - {"dry_run", "partial"})
    if unknown:
        raise ApiError(400, "invalid_field", f"unknown query parameter {unknown[0]!r}", unknown[0])
    flags = {name: _flag(request, name) for name in ("dry_run", "partial")}
    kind = {"text/csv": "csv", "application/json": "json"}.get(request.content_type)
    if kind is None:
        raise ApiError(415, "unsupported_media_type", "send the rows as text/csv or application/json", "Content-Type")
    records = read_records(await read_body(request, limit=IMPORT_MAX), kind, "the body")
    if len(records) > IMPORT_ROWS:  # well formed, refused for what it holds: 422, as in bodies
        raise ApiError(
            422, "too_many_rows", f"{len(records):,} rows; at most {IMPORT_ROWS:,} a request: use herald import", "body"
        )
    if not records:
        raise ApiError(422, "no_rows", "the file holds no rows", "body")
    accounts = set()
    if not ctx.generic_platform:
        accounts = {(a.name, a.platform) for a in await asyncio.to_thread(ctx.accounts.all, workspace)}

    def known(account: str, platform: str) -> bool:
        return ctx.generic_platform or (account, platform) in accounts

    checked = await asyncio.to_thread(lambda: ctx.herald.imports.check(workspace, records, known=known))
    bad = [{"line": b.line, "field": b.field, "reason": b.reason} for b in checked.bad]
    if checked.bad and not flags["partial"] and not flags["dry_run"]:
        first = checked.bad[0]
        raise ApiError(
            422,
            "import_invalid",
            f"{len(bad)} bad rows (line {first.line}, {first.field}: {first.reason}); nothing was written; "
            "mend them, or import the good rows only (partial=true)",
            "body",
            bad=bad[:100],
        )
    made = skipped = 0
    if not flags["dry_run"]:
        await asyncio.to_thread(ctx.limiter.take, workspace)
        done = await asyncio.to_thread(lambda: ctx.herald.imports.commit(workspace, checked, partial=True))
        made, skipped = done.made, done.skipped
    answer = {
        "rows": len(records),
        "good": len(checked.rows),
        "bad": bad[:100],
        "bad_count": len(bad),
        "dry_run": flags["dry_run"],
        "plan": dry_run_out(checked.assessment).model_dump(mode="json") if checked.assessment else None,
        "made": made,
        "skipped": skipped,
    }
    return json_response(ImportOut.model_validate(answer).model_dump(mode="json"))


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise ApiError(400, "invalid_field", f"{name} is true or false", name)
    return value == "true"
