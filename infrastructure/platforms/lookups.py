"""Looking for a post in an account's recent posts: read page by page, then match each part of
the post by its text and by the post it replies to (a thread is a reply chain)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart
from infrastructure.platforms.http import Answer
from services.ports import LookupRefused, RefreshFailed, RefreshUnanswered

MAX_PAGES = 64  # a look never reads more pages than this: past it, the look is incomplete


@dataclass
class Listing:
    """The posts a look read: (remote id, text, the id it replies to, permalink)."""

    posts: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    pages: int = 0

    def add(self, remote_id: str, text: str, reply_to: str | None, permalink: str | None) -> None:
        self.posts.append((remote_id, text, reply_to, permalink))

    def next_page(self) -> bool:
        """Count a page about to be read; False once the look has read as many as it may."""
        if self.pages >= MAX_PAGES:
            return False
        self.pages += 1
        return True

    @property
    def count(self) -> int:
        return len(self.posts)


def match_parts(intent: PublishIntent, listing: Listing, fingerprint: Callable[[str], str]) -> tuple[RemotePart, ...]:
    """The intent's parts found in `listing`, in order: each part by its text, replying to the
    part before it (the first to nothing). A part not found ends the chain."""
    by_text: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for remote_id, text, reply_to, permalink in listing.posts:
        by_text.setdefault(fingerprint(text), []).append((remote_id, reply_to, permalink))
    found: list[RemotePart] = []
    previous: str | None = None
    for number, text in intent.parts:
        if live := intent.live_part(number):
            previous = live.remote_id
            continue
        match = next((c for c in by_text.get(fingerprint(text), []) if c[1] == previous), None)
        if match is None:
            break
        found.append(RemotePart(part=number, remote_id=match[0], permalink=match[2]))
        previous = match[0]
    return tuple(found)


def observed_live(part: RemotePart) -> Observed:
    """An already-live part, as if its answer had just come."""
    return Observed(kind=Observation.ACCEPTED, remote_id=part.remote_id, permalink=part.permalink, part=part.part)


def lookup_problem(answer: Answer | Observed) -> str:
    return answer.kind.value if isinstance(answer, Observed) else f"HTTP {answer.status} {str(answer.body)[:200]}"


def lookup_failed(platform: str, answer: Answer | Observed) -> LookupError:
    """What a look-up that got no list raises: refused credentials (a refresh may help), or
    a platform that did not answer (look again later)."""
    problem = f"{platform} did not answer the look-up: {lookup_problem(answer)}"
    if isinstance(answer, Answer) and answer.status == 401:
        return LookupRefused(problem)
    return LookupError(problem)


def refresh_refused(platform: str, answer: Answer | Observed) -> RefreshFailed | RefreshUnanswered:
    """What a refresh that got no new token raises: unanswered when no answer came, or a 5xx or
    a 429 (the account stays connected and the refresh is tried again), else refused (the
    account is disconnected and its posts held until it is reconnected)."""
    if isinstance(answer, Observed) or answer.status >= 500 or answer.status == 429:
        return RefreshUnanswered(f"{platform} did not answer the refresh: {lookup_problem(answer)}")
    return RefreshFailed(f"{platform} refused the refresh: {lookup_problem(answer)}")
