"""/v1/workspaces/{workspace_id}/rules: recurring rules: create, list, read, pause, resume,
delete. Their occurrences become ordinary posts a lead time ahead (the planner part of
`herald serve`, or `herald rules materialise`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from domain.recurrence import Recurrence
from domain.rule import RuleNotFound, Target
from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.plan_models import CreateRule, EditedRuleOut, EditRule, RuleAction, RuleOut
from services.recurring import RuleView


def rule_out(view: RuleView) -> dict[str, Any]:
    fields = view.model_dump()
    fields["timezone"] = fields.pop("zone")
    return RuleOut.model_validate(fields).model_dump(mode="json")


async def create(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = CreateRule.model_validate(await json_of(request))
    workspace = workspace_of(request)
    if not ctx.generic_platform:
        for target in body.targets:
            await asyncio.to_thread(ctx.accounts.require, workspace, target.account, target.platform)
    view = await asyncio.to_thread(
        lambda: ctx.herald.recurring.create(
            workspace,
            name=body.name,
            zone=body.timezone,
            recurrence=Recurrence(rrule=body.rrule, starts=body.starts, at=body.at),
            content=body.content.to_domain(),
            targets=[Target(account=t.account, platform=t.platform) for t in body.targets],
            lead=timedelta(seconds=body.lead_seconds),
        )
    )
    return json_response(rule_out(view), 201)


async def list_rules(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    views = await asyncio.to_thread(ctx.herald.recurring.all, workspace_of(request))
    return json_response({"items": [rule_out(v) for v in views]})


async def get_rule(request: web.Request) -> web.Response:
    return await _act(request, "get")


async def pause(request: web.Request) -> web.Response:
    return await _act(request, "pause")


async def resume(request: web.Request) -> web.Response:
    return await _act(request, "resume")


async def delete(request: web.Request) -> web.Response:
    return await _act(request, "delete")


async def _act(request: web.Request, action: str) -> web.Response:
    ctx: Context = request.app[CTX]
    rule_id = _rule_id(request)
    if request.method == "POST":
        RuleAction.model_validate(await json_of(request, empty={}))
    view = await asyncio.to_thread(getattr(ctx.herald.recurring, action), workspace_of(request), rule_id)
    return json_response(rule_out(view))


async def edit(request: web.Request) -> web.Response:
    """A new version of the rule; with apply_to=future_materialised, its posts not yet sent too."""
    ctx: Context = request.app[CTX]
    rule_id = _rule_id(request)
    body = EditRule.model_validate(await json_of(request))
    workspace = workspace_of(request)
    recurring = ctx.herald.recurring
    current = await asyncio.to_thread(recurring.get, workspace, rule_id)
    if not ctx.generic_platform:
        for target in body.targets or []:
            await asyncio.to_thread(ctx.accounts.require, workspace, target.account, target.platform)
    recurrence = None
    if body.rrule is not None or body.starts is not None or body.at is not None:
        recurrence = Recurrence(
            rrule=body.rrule or current.rrule, starts=body.starts or current.starts, at=body.at or current.at
        )
    view, applied = await asyncio.to_thread(
        lambda: recurring.edit(
            workspace,
            rule_id,
            zone=body.timezone,
            recurrence=recurrence,
            content=body.content.to_domain() if body.content is not None else None,
            targets=[Target(account=t.account, platform=t.platform) for t in body.targets] if body.targets else None,
            lead=timedelta(seconds=body.lead_seconds) if body.lead_seconds is not None else None,
            apply_to=body.apply_to,
        )
    )
    answer = rule_out(view) | {"applied": applied.model_dump(mode="json") if applied is not None else None}
    return json_response(EditedRuleOut.model_validate(answer).model_dump(mode="json"))


def _rule_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["rule_id"])
    except ValueError:
        raise RuleNotFound(f"no rule {request.match_info['rule_id']!r} in this workspace") from None
