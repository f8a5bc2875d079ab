"""The simulator's stand-ins: each platform's endpoints as its API reference documents them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator


def add_platform_routes(sim: Simulator, app: web.Application) -> None:
    from infrastructure.platforms.stand_ins import bluesky, graph, linkedin, mastodon, threads, x

    for module in (x, mastodon, bluesky, linkedin, threads, graph):
        module.add_routes(sim, app)


async def body_of(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or its form fields; {} for anything else."""
    if request.content_type == "application/json":
        try:
            found = await request.json()
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}
    return dict(await request.post())


def integer(text: str | None, default: int) -> int | None:
    """A query parameter as a whole number; None when it is not one."""
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        return None
