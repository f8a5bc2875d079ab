"""Every projection by name, for the runner, the replay command and the CLI."""

from __future__ import annotations

from projections.due_index import DueIndex
from projections.engagement import EngagementProjection
from projections.post_list import PostList
from projections.runner import Projection
from projections.stats import Stats
from projections.timeline import Timeline

PROJECTIONS: dict[str, type[Projection]] = {
    "due_index": DueIndex,
    "timeline": Timeline,
    "stats": Stats,
    "post_list": PostList,
    "engagement": EngagementProjection,
}
