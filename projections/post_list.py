"""The post list: each post as the API shows it in lists, one row per post, so a page of posts
is one query and never a fold of each post's events. The table and its query are in
`infrastructure/persistence/post_list.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.post import SIDE_STEPS, STATE_AFTER, Post
from projections.facts import Fact

STATE = {event.__name__: state.value for event, state in STATE_AFTER.items() if state is not None}
FILTERS = ("state", "account", "platform", "external_id")  # the columns a page may be filtered on


def fold(view: dict[str, Any] | None, fact: Fact) -> dict[str, Any]:
    """The post's list entry after `fact` (the pure fold; `view` is None before its draft)."""
    data = fact.data
    view = dict(view or {})
    view["version"] = fact.version
    if fact.name in STATE:
        view |= {"state": STATE[fact.name], "waiting_for": None}
    match fact.name:
        case Post.Drafted.__name__:
            view |= {
                "id": fact.aggregate_id,
                "workspace": data["workspace"],
                "account": data["account"],
                "platform": data["platform"],
                "content": data["content"],
                "content_version": 1,
                "external_id": data["external_id"],
                "due_at": None,
                "deadline": None,
                "attempt": 0,
                "remote_id": None,
                "permalink": None,
                "reconciled": False,
                "failure_reason": None,
                "remediation": None,
                "waiting_for": None,
            }
        case Post.Scheduled.__name__ | Post.Rescheduled.__name__:
            view |= {"due_at": data["due_at"], "deadline": data["deadline"]}
        case Post.ContentEdited.__name__:
            view |= {"content": data["content"], "content_version": data["content_version"]}
        case Post.DispatchClaimed.__name__:
            view["attempt"] = data["attempt"]
        case Post.Delivered.__name__:
            view |= {"remote_id": data["remote_id"], "permalink": data["permalink"], "reconciled": data["reconciled"]}
        case Post.SettledLive.__name__:
            view |= {"remote_id": data["remote_id"], "permalink": data["permalink"], "reconciled": True}
        case Post.Failed.__name__:
            view |= {"failure_reason": data["reason"], "remediation": data["remediation"]}
        case Post.PartiallyDelivered.__name__:
            head = data["parts"][0] if data["parts"] else {}
            view |= {
                "failure_reason": data["reason"],
                "remediation": data["remediation"],
                "remote_id": head.get("remote_id"),
                "permalink": head.get("permalink"),
            }
        case Post.Held.__name__ | Post.AttentionNeeded.__name__:
            view |= {"waiting_for": data["reason"], "remediation": data["remediation"]}
        case Post.HoldReleased.__name__ | Post.SettledNotLive.__name__:
            view["remediation"] = None
        case Post.Redriven.__name__:
            view["redriven_as"] = data["new_post_id"]
    return view


class PostListWriter(Protocol):
    def views(self, post_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored entries of posts drafted in earlier batches."""
        ...

    def save(self, rows: list[tuple[int | None, dict[str, Any]]]) -> None:
        """(creation position, for new posts; None for known ones) and the entry, per post."""
        ...


class PostList:
    name = "post_list"
    tables: tuple[str, ...] = ("post_list",)
    handles: frozenset[type[Post.Event]] = frozenset(
        {
            Post.Drafted,
            Post.ApprovalRequested,
            Post.Rejected,
            Post.Scheduled,
            Post.ContentEdited,
            Post.Rescheduled,
            Post.Canceled,
            Post.DispatchClaimed,
            Post.ClaimAbandoned,
            Post.Delivered,
            Post.AttemptFailed,
            Post.OutcomeAmbiguous,
            Post.ReleasedForRetry,
            Post.AttentionNeeded,
            Post.SettledLive,
            Post.SettledNotLive,
            Post.Held,
            Post.HoldReleased,
            Post.PartiallyDelivered,
            Post.Failed,
            Post.Redriven,
        }
    )
    ignores: frozenset[type[Post.Event]] = frozenset(
        {Post.ContainerPrepared, Post.PartPublished, Post.Approved, *(s for s in SIDE_STEPS if s is not Post.Redriven)}
    )  # versions only

    def apply(self, writer: PostListWriter, facts: Sequence[Fact]) -> None:
        posts = [fact for fact in facts if fact.aggregate == Post.__name__]
        drafted = {fact.aggregate_id: fact.position for fact in posts if fact.name == Post.Drafted.__name__}
        views = writer.views([f.aggregate_id for f in posts if f.aggregate_id not in drafted])
        for fact in posts:
            if fact.aggregate_id in drafted or fact.aggregate_id in views:
                views[fact.aggregate_id] = fold(views.get(fact.aggregate_id), fact)
        writer.save([(drafted.get(post_id), view) for post_id, view in views.items()])


class PostListView(Protocol):
    def page(self, workspace: str, after: int, limit: int, filters: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
        """(entry, position) for one page of a workspace's posts, in creation order: keyset
        pagination on the creation position, so a page never repeats or skips a post."""
        ...
