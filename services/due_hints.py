"""Due hints: a post that falls due within a second is announced as it is saved.

A dispatcher learns of new due posts by folding the log into its due index, which costs a
few milliseconds per step, more under load. A post saved ready to go now (published now, a
retry whose wait is over) need not wait for that: the save carries a hint (its id, account,
platform and instant) that PostgreSQL delivers with the notification it already sends on
commit, and a dispatcher that hears it claims the post at its instant straight away.

A hint is only a shortcut: the claim event is still what makes a send exactly-once, and a
hint lost or ignored leaves the post to the due index, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from domain.post import Post, PostState

HORIZON = timedelta(seconds=1)  # posts ready within this of their save are hinted
SAFE_NAME = 64  # longer names, or ones JSON would escape, are left to the due index


@dataclass(frozen=True, slots=True)
class DueHint:
    post_id: str
    workspace: str
    account: str
    platform: str
    at: datetime
    bucket: int = -1  # the account's partition (as the due query hashes it); -1: not known

    def row(self) -> tuple[str, str, str, str, float]:
        return self.post_id, self.workspace, self.account, self.platform, self.at.timestamp()


def hints_of(posts: Iterable[Post]) -> list[DueHint]:
    """The posts that are queued and ready within `HORIZON` of their last change."""
    hints = []
    for post in posts:
        ready = post.ready_at
        if post.state is not PostState.QUEUED or ready is None or ready > post.modified_on + HORIZON:
            continue
        if _plain(post.workspace) and _plain(post.account):
            hints.append(DueHint(str(post.id), post.workspace, post.account, str(post.platform), ready))
    return hints


def heard(payloads: Iterable[str]) -> list[DueHint]:
    """The hints in notification payloads; anything else (a bare notification) is skipped."""
    hints = []
    for payload in payloads:
        if not payload.startswith("[["):
            continue
        try:
            for post_id, workspace, account, platform, at, bucket in orjson.loads(payload):
                hints.append(
                    DueHint(post_id, workspace, account, platform, datetime.fromtimestamp(at, UTC), int(bucket))
                )
        except (orjson.JSONDecodeError, TypeError, ValueError):
            continue  # not ours: a hint is a shortcut, the due index still has the post
    return hints


def _plain(name: str) -> bool:
    return len(name) <= SAFE_NAME and name.isascii() and name.isprintable() and '"' not in name and "\\" not in name
