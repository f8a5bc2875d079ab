"""What each account has booked, kept in memory: the quota check's view in a long-lived process.

The quota check asks, for every post scheduled, which of the account's posts hold a place in
its posting windows. Read from the due index, that is one query per post, and the process
folds the shared index to keep it current. This view instead holds the booked posts in
memory, loaded once from the index and kept current by folding the log's new events with
the due index's own pure fold (`projections.due_index.changes`). No row is written.

Each post remembers the version it is at, so an event already in the row it was loaded from
is not folded twice. A post the view has never seen, named by a later event (a draft being
scheduled), is `unknown` until its row is loaded. Posts that can no longer matter (settled,
and due before every window a check may still look at) are `forgotten`.

The I/O (loading rows, reading the log) is `infrastructure/persistence/booked.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.post import Post
from projections.due_index import BOOKED, changes
from projections.facts import Fact

SETTLED = frozenset({"delivered", "partial", "failed", "canceled"})
DRAFTED = Post.Drafted.__name__


@dataclass(slots=True)
class Booking:
    workspace: str
    account: str
    state: str | None
    due_at: str | None  # fixed-width UTC text, as the due index stores it
    version: int


Row = tuple[str, str, str, str | None, str | None, int]  # post id, workspace, account, state, due, version


class BookedView:
    def __init__(self) -> None:
        self.posts: dict[str, Booking] = {}
        self.accounts: dict[tuple[str, str], set[str]] = {}

    def load(self, rows: Iterable[Row]) -> None:
        """Posts as the due index holds them; one the view already holds at a newer version stays."""
        for post_id, workspace, account, state, due_at, version in rows:
            held = self.posts.get(post_id)
            if held is None or held.version < version:
                self._hold(post_id, Booking(workspace, account, state, due_at, version))

    def unknown(self, facts: Sequence[Fact]) -> list[str]:
        """Posts these facts change that the view does not hold and they do not draft."""
        drafted = {fact.aggregate_id for fact in facts if fact.name == DRAFTED}
        return list(
            dict.fromkeys(
                fact.aggregate_id
                for fact in facts
                if fact.aggregate == "Post" and fact.aggregate_id not in self.posts and fact.aggregate_id not in drafted
            )
        )

    def fold(self, facts: Sequence[Fact]) -> None:
        for fact in facts:
            if fact.aggregate != "Post" or fact.problem is not None:
                continue
            post = self.posts.get(fact.aggregate_id)
            values = changes(fact)
            if post is None:
                if fact.name != DRAFTED:
                    continue  # a post whose row could not be found: it books nothing the index knows
                post = Booking(values["workspace"], values["account"], None, None, 0)
                self._hold(fact.aggregate_id, post)
            elif fact.version <= post.version:
                continue  # already in the row it was loaded from
            post.version = fact.version
            post.state = values.get("state", post.state)
            post.due_at = values.get("due_at", post.due_at)

    def booked(self, workspace: str, account: str, since: str) -> dict[str, str]:
        """{post id: due} of the account's posts holding a place, due at or after `since`."""
        found = {}
        for post_id in self.accounts.get((workspace, account), ()):
            post = self.posts[post_id]
            if post.state in BOOKED and post.due_at is not None and post.due_at >= since:
                found[post_id] = post.due_at
        return found

    def forget(self, before: str) -> None:
        """Let go of settled posts due before `before`: no check looks that far back."""
        for post_id, post in list(self.posts.items()):
            if post.state in SETTLED and (post.due_at is None or post.due_at < before):
                del self.posts[post_id]
                self.accounts[(post.workspace, post.account)].discard(post_id)

    def _hold(self, post_id: str, post: Booking) -> None:
        held = self.posts.get(post_id)
        if held is not None:
            self.accounts[(held.workspace, held.account)].discard(post_id)
        self.posts[post_id] = post
        self.accounts.setdefault((post.workspace, post.account), set()).add(post_id)
