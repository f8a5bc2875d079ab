"""Pure decisions: what happens to a post after an observed outcome, a reconciler's look, or a
change in its account.

Every input is an argument (the clock's reading and the jitter seed included), so the decision
recorded in an event can be re-run over the log and must come out the same.

The invariant these functions keep (`tests/unit/test_outcome_invariant.py` checks it over
every input): a post is `failed` only when the platform cannot hold it: the platform refused
it before accepting it, or a look over the whole window in which an attempt could have landed
proved it absent, or its deadline passed with no attempt that could have landed. Otherwise it
stays ambiguous (or is held), visibly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import Field

from domain.base import Immutable
from domain.outcomes import Observation, Observed, RemotePart, Search

POLICY_VERSION = 2  # bump when a decision function changes what it decides


class RetryPolicy(Immutable):
    """Exponential backoff with jitter: base * 2^(n-1), capped, for at most `max_attempts` tries."""

    base_seconds: float = Field(default=5.0, gt=0)
    cap_seconds: float = Field(default=900.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    jitter: float = Field(default=0.2, ge=0, le=1)  # fraction of the delay that may be shaved off
    ambiguity_bound: int = Field(default=3, ge=1)  # ambiguous attempts before a post is held for attention

    def delay(self, failures: int, seed: int) -> timedelta:
        """The wait before the next try after `failures` counted failures (1 or more)."""
        exponential = min(self.cap_seconds, self.base_seconds * 2 ** (failures - 1))
        shave = exponential * self.jitter * random.Random(seed).random()
        return timedelta(seconds=exponential - shave)


class Deliver(Immutable):
    kind: Literal["deliver"] = "deliver"
    remote_id: str
    permalink: str | None
    evidence: str | None = None  # how the reconciler knows, when it was the reconciler
    parts: tuple[RemotePart, ...] = ()


class Retry(Immutable):
    kind: Literal["retry"] = "retry"
    next_attempt_at: datetime
    counts_toward_limit: bool


class Ambiguous(Immutable):
    kind: Literal["ambiguous"] = "ambiguous"
    reason: str


class Fail(Immutable):
    kind: Literal["fail"] = "fail"
    reason: str
    remediation: str


class Hold(Immutable):
    """The post waits, visibly, until something outside it changes (its account reconnects)."""

    kind: Literal["hold"] = "hold"
    reason: str
    remediation: str


class Partial(Immutable):
    """Some parts of a thread are live and the rest cannot follow: the post ends saying which."""

    kind: Literal["partial"] = "partial"
    reason: str
    remediation: str
    parts: tuple[RemotePart, ...] = ()  # the live parts a look found (else the post's recorded ones)


class Release(Immutable):
    """Try again under the same publish key (the reconciler proved absence, or a hold ended)."""

    kind: Literal["release"] = "release"
    evidence: str
    next_attempt_at: datetime
    parts: tuple[RemotePart, ...] = ()  # parts the look found live: the next attempt resumes after them


class Attention(Immutable):
    """The reconciler cannot settle the post: it stays ambiguous, out of the send loop, listed
    for support with the evidence and what to do."""

    kind: Literal["attention"] = "attention"
    reason: str
    evidence: str
    remediation: str
    parts: tuple[RemotePart, ...] = ()


Decision = Deliver | Retry | Ambiguous | Fail | Hold | Partial

REMEDIATIONS: dict[str, str] = {
    "retries_exhausted": "The platform kept failing; check its status page, then reschedule the post.",
    "deadline_passed": "It could not go out before its deadline; reschedule it if it is still wanted.",
    "auth_revoked": "The account's access was revoked and a refresh could not restore it; reconnect the account.",
    "content_rejected": "The platform refused this content; edit it as the platform's message says.",
    "account_disconnected": "The account was disconnected; reconnect it (held posts then go out before "
    "their deadline).",
    "account_unknown": "No account with this name is connected; connect it (herald accounts add).",
    "credentials_unreadable": "The account's credentials were sealed with another HERALD_SECRET_KEY; "
    "restore that key, or reconnect the account.",
    "platform_unsupported": "This Herald has no adapter for the platform; upgrade Herald, or cancel the post.",
    "unverifiable": "The platform cannot show its whole history since the attempt, so whether it landed is "
    "unknown. Check the account on the platform, then settle the post: herald post settle ID --live REMOTE_ID, "
    "or --not-live.",
    "platform_says_published": "The platform said this post is already published, but it could not be found. "
    "Check the account on the platform, then settle the post (herald post settle ID).",
    "ambiguity_repeated": "Attempts kept ending without a clear answer. Check the account on the platform, then "
    "settle the post (herald post settle ID).",
}


def jitter_seed(publish_key: str, attempt: int) -> int:
    """The seed for an attempt's jitter: derived, not drawn, and recorded in the event anyway."""
    return int(hashlib.sha256(f"{publish_key}:{attempt}".encode()).hexdigest()[:12], 16)


def fail(reason: str, detail: str | None = None) -> Fail:
    remedy = REMEDIATIONS[reason]
    return Fail(reason=reason, remediation=f"{detail} {remedy}" if detail else remedy)


def _partial_or_fail(reason: str, parts_live: int, detail: str | None = None) -> Fail | Partial:
    """A post that cannot go on: partly live (Partial) or not at all (Fail)."""
    if parts_live:
        remedy = f"Parts 1 to {parts_live} are live; the rest could not follow. {REMEDIATIONS[reason]}"
        return Partial(reason=reason, remediation=f"{detail} {remedy}" if detail else remedy)
    return fail(reason, detail)


def decide(
    observed: Observed,
    *,
    failures_so_far: int,
    deadline: datetime,
    policy: RetryPolicy,
    now: datetime,
    seed: int,
    attempt: int = 1,
    parts_live: int = 0,
    could_have_landed: bool = False,
) -> Decision:
    """The next step for a post whose open attempt ended as `observed` (the outcome table).

    `parts_live` counts the thread's parts already live before the part the answer concerns;
    `could_have_landed` says an earlier attempt, not yet proven absent, may be live (a 5xx can
    come after the platform kept the post). A post that gives up (out of retries or of time)
    with such an attempt behind it is ambiguous first: failed only once a look proves it
    absent."""
    kind = observed.kind
    if kind is Observation.ACCEPTED:
        if not observed.remote_id:
            return Ambiguous(reason="accepted_without_remote_id")
        return Deliver(remote_id=observed.remote_id, permalink=observed.permalink)
    if kind is Observation.ALREADY_PUBLISHED:
        if attempt == 1 and not parts_live:
            # nothing of ours was ever sent before: the platform holds someone else's copy
            return _partial_or_fail("content_rejected", parts_live, "The platform already holds this text.")
        if observed.remote_id and observed.part in (None, 1):
            return Deliver(remote_id=observed.remote_id, permalink=observed.permalink)
        return Ambiguous(reason="already_published")  # evidence it landed: the reconciler finds it
    if kind in (Observation.TIMEOUT_AFTER_SEND, Observation.ADAPTER_ERROR):
        return Ambiguous(reason=kind.value)
    if kind is Observation.AUTH_REVOKED:
        return Hold(reason="auth_revoked", remediation=REMEDIATIONS["auth_revoked"])
    if kind is Observation.REJECTED:
        return _partial_or_fail("content_rejected", parts_live)
    unproven = could_have_landed or kind is Observation.SERVER_ERROR  # may be live: look before giving up
    if kind is Observation.RATE_LIMITED:
        # A 429 says nothing about the post; it waits for the reset and is not held against it.
        retry_at = observed.retry_at or now + policy.delay(failures_so_far + 1, seed)
        return _retry_before_deadline(
            max(retry_at, now), deadline, counts=False, parts_live=parts_live, unproven=unproven
        )
    # connect errors and 5xx: back off, and give up after the policy's attempts
    failures = failures_so_far + 1
    if failures >= policy.max_attempts:
        return _give_up("retries_exhausted", parts_live, unproven)
    at = now + policy.delay(failures, seed)
    return _retry_before_deadline(at, deadline, counts=True, parts_live=parts_live, unproven=unproven)


def _retry_before_deadline(
    at: datetime, deadline: datetime, *, counts: bool, parts_live: int, unproven: bool
) -> Decision:
    if at > deadline:
        return _give_up("deadline_passed", parts_live, unproven)
    return Retry(next_attempt_at=at, counts_toward_limit=counts)


def _give_up(reason: str, parts_live: int, unproven: bool) -> Decision:
    """Out of retries or time: failed (or partly delivered), or first looked for, when an
    attempt may be live."""
    if unproven:
        return Ambiguous(reason=reason)
    return _partial_or_fail(reason, parts_live)


def reconcile(
    search: Search,
    *,
    parts_total: int,
    live: Sequence[RemotePart],
    deadline: datetime,
    now: datetime,
    ambiguous_attempts: int,
    bound: int,
    evidence_of_publish: bool,
    give_up: str | None = None,
) -> Deliver | Release | Fail | Partial | Attention:
    """What the reconciler's look on the platform decides for an ambiguous post.

    Found every part → delivered. A part not seen counts as absent only when the look covered
    the whole window in which the attempt could have landed; otherwise the post is listed for
    attention, never sent again. Proven absent: released to resume (failed once its deadline
    passed, or with `give_up`, the reason it stopped trying), unless the platform itself said
    it was published, or attempts keep ending unclear."""
    parts = {part.part: part for part in (*live, *search.found)}
    known = tuple(parts[n] for n in sorted(parts))
    if all(n in parts for n in range(1, parts_total + 1)):
        head = parts[1]
        return Deliver(remote_id=head.remote_id, permalink=head.permalink, evidence=search.how, parts=known)
    if not search.complete:
        return Attention(
            reason="unverifiable", evidence=search.how, remediation=REMEDIATIONS["unverifiable"], parts=known
        )
    if evidence_of_publish and not search.found:
        evidence = f"{search.how}; yet the platform said it was already published"
        remedy = REMEDIATIONS["platform_says_published"]
        return Attention(reason="platform_says_published", evidence=evidence, remediation=remedy, parts=known)
    if now > deadline or give_up is not None:
        ended = _partial_or_fail(give_up or "deadline_passed", _live_prefix(parts), f"Proven absent: {search.how}.")
        return ended.model_copy(update={"parts": known}) if isinstance(ended, Partial) else ended
    if ambiguous_attempts >= bound:
        remedy = REMEDIATIONS["ambiguity_repeated"]
        return Attention(reason="ambiguity_repeated", evidence=search.how, remediation=remedy, parts=known)
    return Release(evidence=search.how, next_attempt_at=now, parts=known)


def _live_prefix(parts: dict[int, RemotePart]) -> int:
    """How many parts are live from the first on, without a gap."""
    count = 0
    while count + 1 in parts:
        count += 1
    return count


class AccountStatus(Immutable):
    """What the router knows of a held post's account now."""

    exists: bool
    connected: bool
    connected_since: datetime | None  # the last connection or reconnection
    readable: bool  # its credentials open with this Herald's key
    supported: bool  # this Herald has an adapter for its platform


def release_held(
    reason: str,
    held_at: datetime,
    account: AccountStatus | None,
    *,
    deadline: datetime,
    now: datetime,
    could_have_landed: bool = False,
) -> Release | Fail | Ambiguous | None:
    """A held post after its account changed: released once what held it is mended (it then
    goes out if still before its deadline), failed at its deadline (looked for first if an
    earlier attempt may be live), else left held (None). `account` is None when posts go
    nowhere by account (the generic platform)."""
    if now > deadline:
        if could_have_landed:
            return Ambiguous(reason="deadline_passed")
        return fail("deadline_passed", f"It was held ({reason}) until its deadline.")
    if account is None or not account.exists:
        return None
    mended = {
        "account_unknown": account.connected,
        "credentials_unreadable": account.connected and account.readable,
        "platform_unsupported": account.connected and account.supported,
    }.get(reason)
    if mended is None:  # auth_revoked, account_disconnected: a connection made after the hold
        since = account.connected_since
        mended = account.connected and since is not None and since >= held_at
    if mended and account.readable and account.supported:
        return Release(evidence=f"what held it ({reason}) is mended", next_attempt_at=now)
    return None


def past_deadline(*, could_have_landed: bool) -> Ambiguous | Fail:
    """A queued post whose deadline passed never goes out late: failed, or looked for first
    when an earlier attempt may be live."""
    if could_have_landed:
        return Ambiguous(reason="deadline_passed")
    return fail("deadline_passed")


class HasMessage(Protocol):
    @property
    def message(self) -> str: ...


def refusal_at_claim(problems: Sequence[HasMessage]) -> Fail | None:
    """Content is checked again as a post is claimed: a problem then is final, never a retry."""
    if not problems:
        return None
    return Fail(reason="content_rejected", remediation="; ".join(problem.message for problem in problems))


# ── what a decision was made from, and by which version of these rules ────────


class Basis(Immutable):
    """What a decision was made from, beyond the post's own state before it. Each decision's
    event records it, so `herald verify` can make the decision again from the stored log
    with the rules of `version` and compare."""

    rule: Literal["outcome", "reconcile", "hold", "deadline", "claim", "lease"]
    version: int
    policy: RetryPolicy | None = None
    seed: int | None = None
    observed: Observed | None = None
    search: Search | None = None
    account: AccountStatus | None = None
    problems: tuple[str, ...] = ()  # the content's problems found at claim


@dataclass(frozen=True)
class DecisionRules:
    """One version of the decision functions. When a function changes what it decides, bump
    POLICY_VERSION and keep the old functions here under their version: events are verified
    against the rules that made them."""

    version: int
    decide: Callable[..., Decision]
    reconcile: Callable[..., Any]
    release_held: Callable[..., Any]
    past_deadline: Callable[..., Ambiguous | Fail]
    refusal_at_claim: Callable[[Sequence[HasMessage]], Fail | None]


RULES: dict[int, DecisionRules] = {
    POLICY_VERSION: DecisionRules(POLICY_VERSION, decide, reconcile, release_held, past_deadline, refusal_at_claim)
}
CURRENT_RULES = RULES[POLICY_VERSION]
