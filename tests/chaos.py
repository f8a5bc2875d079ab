"""The chaos run: many posts, several dispatcher processes on one PostgreSQL, one of them
SIGKILLed and restarted about every 2 s, and a faulty simulator. Afterwards every post must be
terminal, and the simulator's truth must hold each delivered post exactly once and no failed
or canceled post. `scripts/chaos` runs it at 10,000 posts; the test suite at 2,000.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from domain.content import Content
from infrastructure.bootstrap import Herald, bootstrap
from tests.processes import admin, start_dispatcher, start_simulator

CHAOS_FAULTS = "accept_drop=0.1,http_500=0.05,http_429=0.05,retry_after=1,latency_ms=5"
WORKER_ENV = {
    "HERALD_LEASE_SECONDS": "8",
    "HERALD_RETRY_BASE_SECONDS": "0.2",
    "HERALD_RETRY_CAP_SECONDS": "2",
    "HERALD_RETRY_MAX_ATTEMPTS": "8",
    "HERALD_GRACE_SECONDS": "3600",
}


@dataclass
class ChaosResult:
    posts: int
    seconds: float
    states: Counter[str]
    reasons: Counter[str]
    kills: int
    published: int
    duplicates: int
    failed_but_published: int
    reconciled: int
    lag_p50: float = 0.0
    lag_p99: float = 0.0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"posts: {self.posts} drained in {self.seconds:.1f}s ({self.posts / self.seconds:.0f} posts/s)",
            f"states: {dict(self.states)}; failure reasons: {dict(self.reasons)}",
            f"dispatchers SIGKILLed: {self.kills}; reconciled deliveries: {self.reconciled}",
            f"simulator truth: {self.published} posts, duplicates {self.duplicates}, "
            f"failed-or-canceled yet published {self.failed_but_published}",
            f"due-to-first-attempt delay: p50 {self.lag_p50 * 1000:.0f} ms, p99 {self.lag_p99 * 1000:.0f} ms",
        ]


def run_chaos(
    postgres_url: str,
    posts: int,
    *,
    dispatchers: int = 3,
    faults: str = CHAOS_FAULTS,
    kill_every: float | None = 2.0,
    accounts: int = 200,
    limit_seconds: float = 170,
    seed: int = 1,
) -> ChaosResult:
    schema = f"chaos_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}?schema={schema}"
    rng = random.Random(seed)
    simulator, platform_url = start_simulator(faults, seed=seed)
    service = bootstrap(url)
    workers: list[subprocess.Popen[bytes]] = []
    try:

        def spawn(n: int) -> subprocess.Popen[bytes]:
            return start_dispatcher(
                url,
                platform_url,
                f"chaos-{n}-{time.monotonic():.0f}",
                "--timeout",
                "2",
                "--batch-size",
                "100",
                **WORKER_ENV,
            )

        workers = [spawn(n) for n in range(dispatchers)]  # running before the first post falls due
        ids = []
        for start in range(0, posts, 500):
            due = datetime.now(UTC) + timedelta(seconds=5)  # after the dispatchers have booted
            ids += service.posts.schedule_many(
                [
                    {
                        "account": f"acct-{n % accounts}",
                        "platform": "mastodon",
                        "content": Content(text=f"chaos {n}"),
                        "scheduled_at": due,
                    }
                    for n in range(start, min(posts, start + 500))
                ]
            )
        began = time.monotonic()
        kills = 0
        next_kill = time.monotonic() + (kill_every or 0)
        while time.monotonic() - began < limit_seconds:
            time.sleep(0.25)
            if kill_every and time.monotonic() >= next_kill:
                victim = rng.randrange(dispatchers)
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = spawn(victim)
                kills += 1
                next_kill = time.monotonic() + kill_every * rng.uniform(0.5, 1.5)
            if _unsettled(url) == 0:
                break
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        seconds = time.monotonic() - began

        views = [service.posts.get_post(post_id) for post_id in ids]
        truth = admin(platform_url, "/admin/truth")["posts"]
        published = Counter(p["publish_key"] for p in truth)
        delivered = {v.publish_key for v in views if v.state == "delivered"}
        result = ChaosResult(
            posts=posts,
            seconds=seconds,
            states=Counter(v.state for v in views),
            reasons=Counter(v.failure_reason for v in views if v.failure_reason),
            kills=kills,
            published=len(truth),
            duplicates=sum(n - 1 for n in published.values()),
            failed_but_published=sum(1 for v in views if v.state != "delivered" and v.publish_key in published),
            reconciled=sum(1 for v in views if v.reconciled),
        )
        lags = sorted(_first_attempt_lag(service, post_id) for post_id in ids)
        result.lag_p50 = lags[len(lags) // 2]
        result.lag_p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        missing = [v.id for v in views if v.state == "delivered" and published[v.publish_key] != 1]
        if missing:
            result.problems.append(f"{len(missing)} delivered posts not exactly once in the truth")
        if delivered - set(published):
            result.problems.append("delivered posts missing from the truth")
        return result
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        simulator.kill()
        service.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _first_attempt_lag(service: Herald, post_id: uuid.UUID) -> float:
    """Seconds from the due instant to the first claim (the attempt's start)."""
    records = service.posts.history(post_id)
    due = next(r for r in records if r.name == "Scheduled").data["due_at"]
    claims = [r.at for r in records if r.name == "DispatchClaimed"]
    if not claims:
        return 0.0
    return (claims[0] - datetime.fromisoformat(due)).total_seconds()


def _unsettled(url: str) -> int:
    """Posts not yet terminal, read from the event log (not from any projection)."""
    base, _, query = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM (SELECT originator_id, MAX(originator_version) AS v"
            f' FROM "{query}".herald_events GROUP BY originator_id) AS last'
            f' JOIN "{query}".herald_events e'
            " ON e.originator_id = last.originator_id AND e.originator_version = last.v"
            " WHERE e.topic NOT LIKE '%%.Delivered' AND e.topic NOT LIKE '%%.Failed'"
            " AND e.topic NOT LIKE '%%.Canceled'"
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Herald's chaos run on PostgreSQL (see tests/chaos.py).")
    parser.add_argument("--posts", type=int, default=10_000, help="posts to publish")
    parser.add_argument("--dispatchers", type=int, default=3, help="dispatcher processes")
    parser.add_argument("--faults", default=CHAOS_FAULTS, help="simulator faults")
    parser.add_argument("--no-kill", action="store_true", help="no SIGKILLs (a fault-free drain with --faults '')")
    parser.add_argument("--limit-seconds", type=float, default=900, help="give up after this long")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    result = run_chaos(
        args.postgres,
        args.posts,
        dispatchers=args.dispatchers,
        faults=args.faults,
        kill_every=None if args.no_kill else 2.0,
        limit_seconds=args.limit_seconds,
    )
    for line in result.lines():
        print(line)
    for problem in result.problems:
        print("PROBLEM:", problem)
    raise SystemExit(1 if result.problems or result.duplicates else 0)


if __name__ == "__main__":
    main()
