"""Generate realistic post lifecycles straight through the domain, saved in batches.

Each post is drafted, maybe edited, scheduled over a day across many accounts, then claimed
and given outcomes drawn like a real platform's (mostly accepted; some 5xx, 429, timeouts,
rejections, revoked tokens; the ambiguous ones reconciled) until it is terminal. Some are
canceled. Run: `.venv/bin/python -m tests.generate --events 1000000` (HERALD_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from rich.progress import Progress

from domain.content import Content, Platform
from domain.decisions import AccountStatus, RetryPolicy
from domain.outcomes import Observation, Observed, RemotePost
from domain.post import Post
from infrastructure.bootstrap import Herald, bootstrap

POLICY = RetryPolicy(base_seconds=5, cap_seconds=300, max_attempts=5, jitter=0.2)
PLATFORMS = list(Platform)
OUTCOMES = [
    (Observation.ACCEPTED, 0.74),
    (Observation.SERVER_ERROR, 0.08),
    (Observation.RATE_LIMITED, 0.05),
    (Observation.TIMEOUT_AFTER_SEND, 0.07),
    (Observation.CONNECT_ERROR, 0.02),
    (Observation.REJECTED, 0.03),
    (Observation.AUTH_REVOKED, 0.01),
]


def lifecycle(rng: random.Random, start: datetime, accounts: int) -> Post:
    now = start
    platform = rng.choice(PLATFORMS)
    post = Post.draft(
        post_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        workspace="w1",
        account=f"acct-{rng.randrange(accounts)}",
        platform=platform,
        content=Content(text=f"post {rng.randrange(10**9)}"),
        external_id=f"ext-{rng.randrange(10**12)}",
        grace=timedelta(hours=1),
        freeze=timedelta(minutes=1),
        now=now,
    )
    due = now + timedelta(seconds=rng.randrange(120, 86_400))
    post.schedule(due, now=now)
    if rng.random() < 0.1:
        post.edit_content(Content(text="edited"), now=now)
    if rng.random() < 0.05:
        post.cancel(now=now)
        return post
    now = due
    while not post.is_terminal:
        if post.state.value == "queued":
            now = max(now, post.next_attempt_at or now) + timedelta(milliseconds=rng.randrange(5, 900))
            post.claim(worker=f"w{rng.randrange(8)}", lease=timedelta(seconds=60), now=now)
        elif post.state.value == "held":  # its account is reconnected ten minutes later
            now += timedelta(minutes=10)
            status = AccountStatus(exists=True, connected=True, connected_since=now, readable=True, supported=True)
            post.release_hold(status, now=now)
        elif post.state.value == "ambiguous":
            now += timedelta(seconds=2)
            if rng.random() < 0.7:
                post.confirm_delivered(RemotePost(remote_id=str(rng.randrange(10**12))), evidence="found", now=now)
            else:
                post.release_for_retry(evidence="not found", now=now)
        else:
            now += timedelta(milliseconds=rng.randrange(50, 2000))
            kind = rng.choices([k for k, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
            post.record_outcome(
                attempt=post.attempt,
                observed=Observed(
                    kind=kind,
                    http_status={
                        "accepted": 201,
                        "server_error": 503,
                        "rate_limited": 429,
                        "rejected": 422,
                        "auth_revoked": 401,
                    }.get(kind.value),
                    remote_id=str(rng.randrange(10**12)) if kind is Observation.ACCEPTED else None,
                    retry_at=now + timedelta(seconds=60) if kind is Observation.RATE_LIMITED else None,
                ),
                policy=POLICY,
                seed=rng.randrange(2**32),
                now=now,
            )
    return post


def generate(service: Herald, events: int, *, accounts: int = 1000, seed: int = 1, show: bool = False) -> int:
    """Append posts until at least `events` events exist; return the events appended."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    written = 0
    with Progress(disable=not show) as progress:
        task = progress.add_task("generating events", total=events)
        while written < events:
            posts = [lifecycle(rng, start + timedelta(minutes=rng.randrange(20_000)), accounts) for _ in range(200)]
            pending = [event for post in posts for event in post.collect_events()]
            service.events.save(*pending)
            written += len(pending)
            progress.update(task, completed=written)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events")
    parser.add_argument("--accounts", type=int, default=1000, help="accounts to spread posts over")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    service = bootstrap()
    began = time.perf_counter()
    written = generate(service, args.events, accounts=args.accounts, seed=args.seed, show=True)
    print(f"{written} events in {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    main()
