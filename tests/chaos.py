"""The chaos run: many posts, several dispatcher processes on one PostgreSQL, one of them
SIGKILLed and restarted about every 2 s, and a faulty simulator.

With `platforms`, every post goes through a connected account and its real adapter (X,
Mastodon, Bluesky, LinkedIn, Threads, Instagram, Facebook) to the simulator impersonating that
platform: threads of several parts, posts with pictures (every Instagram post, a carousel of
up to ten; uploads that fail or expire; Threads, Instagram and Facebook fetch them from a
`herald serve` at signed URLs), accounts that keep posting on their own (so a reconciler's look must page
past a hundred posts), tokens revoked mid-run (some a refresh fixes, some it does not: the
run then reconnects the account, as its owner would), and one PostgreSQL restart. Posts that
wait for support are settled the way support would: by looking at the platform.

Afterwards it checks every post against the simulator's truth: duplicates, lost posts
(delivered but absent, or present but not delivered), failed while live, stuck (not
terminal, and not visibly held or waiting for support), and a replayed projection that
differs from the live one. `scripts/chaos` runs it; the test suite runs a smaller one.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from domain.content import Content, MediaRef, ThreadPart
from infrastructure.bootstrap import Herald, bootstrap
from projections.due_index import DueIndex
from tests.processes import HERALD, admin, dispatcher_log, free_port, start_dispatcher, start_simulator

CHAOS_FAULTS = "accept_drop=0.1,http_500=0.05,http_429=0.05,retry_after=1,latency_ms=5"
PLATFORM_FAULTS = (
    "accept_drop=0.1,http_500=0.05,http_429=0.05,http_401=0.01,retry_after=1,latency_ms=5,"
    "upload_500=0.03,upload_expired=0.03"
)
PLATFORMS = ("x", "mastodon", "bluesky", "linkedin", "threads", "instagram", "facebook")
THREADED = ("x", "mastodon", "bluesky", "threads")
USERS = {
    "x": "10{:04d}",
    "mastodon": "20{:04d}",
    "bluesky": "did:plc:chaos{}",
    "linkedin": "li{}",
    "threads": "30{:04d}",
    "instagram": "1784{:011d}",
    "facebook": "1040{:011d}",
}
PICTURES = 12  # distinct images in the run's library, each 1080x1080 with its alt text
WORKER_ENV = {
    "HERALD_LEASE_SECONDS": "8",
    "HERALD_RETRY_BASE_SECONDS": "0.2",
    "HERALD_RETRY_CAP_SECONDS": "2",
    "HERALD_RETRY_MAX_ATTEMPTS": "8",
    "HERALD_GRACE_SECONDS": "3600",
    "HERALD_MEDIA_POLL_SECONDS": "0.05",  # the stand-ins' processing moves on with each look, not with time
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
    lost: int = 0  # delivered but a part absent, or a part present but not recorded live
    media_missing: int = 0  # delivered, but a picture absent, out of order, or with other bytes
    stuck: int = 0  # not terminal, and not visibly held or waiting for support
    early: int = 0  # published on the platform before the instant the post was due
    agreement: float = 1.0
    revocations: int = 0
    reconnects: int = 0
    settled_by_support: int = 0
    postgres_restarts: int = 0
    deaths: int = 0  # dispatchers that exited on their own (the PostgreSQL restart) and were started again
    lag_p50: float = 0.0
    lag_p99: float = 0.0
    platforms: tuple[str, ...] = ()
    decisions_verified: int = 0  # herald verify: decisions made again from the stored log
    verify_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        where = f" through {', '.join(self.platforms)}" if self.platforms else ""
        return [
            f"posts: {self.posts}{where} settled in {self.seconds:.1f}s ({self.posts / self.seconds:.0f} posts/s)",
            f"states: {dict(self.states)}; failure reasons: {dict(self.reasons)}",
            f"dispatchers SIGKILLed: {self.kills}; died and restarted: {self.deaths}; "
            f"PostgreSQL restarts: {self.postgres_restarts}",
            f"tokens revoked: {self.revocations}; accounts reconnected: {self.reconnects}; "
            f"settled by support: {self.settled_by_support}; reconciled deliveries: {self.reconciled}",
            f"simulator truth: {self.published} posts; duplicates {self.duplicates}; lost {self.lost}; "
            f"failed while live {self.failed_but_published}; stuck {self.stuck}; sent early {self.early}; "
            f"delivered without all their pictures {self.media_missing}; "
            f"agreement with the truth {self.agreement:.2%}",
            f"due-to-first-attempt delay: p50 {self.lag_p50 * 1000:.0f} ms, p99 {self.lag_p99 * 1000:.0f} ms",
            f"herald verify: {self.decisions_verified} decisions made again, {self.verify_mismatches} mismatches",
        ]


def run_chaos(
    postgres_url: str,
    posts: int,
    *,
    dispatchers: int = 3,
    faults: str | None = None,
    kill_every: float | None = 2.0,
    accounts: int = 200,
    limit_seconds: float = 170,
    seed: int = 1,
    platforms: tuple[str, ...] = (),
    thread_share: float = 0.1,
    chatter: float = 3.0,
    revoke_every: float | None = None,
    restart_postgres: bool = False,
) -> ChaosResult:
    schema = f"chaos_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}?schema={schema}"
    rng = random.Random(seed)
    faults = faults if faults is not None else (PLATFORM_FAULTS if platforms else CHAOS_FAULTS)
    simulator, platform_url = start_simulator(faults, seed=seed)
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    os.environ["HERALD_SECRET_KEY"] = key
    os.environ["HERALD_ALLOW_PRIVATE_TARGETS"] = "1"  # the stand-ins and the file server are on loopback
    library = tempfile.mkdtemp(prefix="herald-chaos-media-")
    os.environ["HERALD_MEDIA_DIR"] = library  # shared by this process, the file server and the dispatchers
    herald = bootstrap(url)
    workers: list[subprocess.Popen[bytes]] = []
    files: subprocess.Popen[bytes] | None = None
    try:
        connected = _connect(herald, platform_url, platforms, posts) if platforms else []
        pictures = _pictures(herald) if platforms else []
        if platforms:
            files = _file_server(url, key)  # where Threads, Instagram and Facebook fetch the pictures

        def spawn(n: int) -> subprocess.Popen[bytes]:
            return start_dispatcher(
                url,
                None if platforms else platform_url,  # with platforms, every post goes through its account
                f"chaos-{n}-{time.monotonic():.0f}",
                "--timeout",
                "2",
                "--batch-size",
                "100",
                HERALD_SECRET_KEY=key,
                **WORKER_ENV,
            )

        workers = [spawn(n) for n in range(dispatchers)]  # running before the first post falls due
        ids = _schedule(herald, posts, platforms, connected, accounts, thread_share, rng, pictures)
        if platforms and chatter:
            noisy = [(p, USERS[p].format(n)) for p, n in connected if p != "bluesky"]
            admin(platform_url, "/admin/noise", {"accounts": noisy, "per_second": chatter})
        began = time.monotonic()
        result = ChaosResult(posts, 0, Counter(), Counter(), 0, 0, 0, 0, 0, platforms=platforms)
        next_kill = began + (kill_every or 0)
        next_revoke = began + (revoke_every or 0)
        disconnected_at: dict[str, float] = {}
        restarted = not restart_postgres
        while time.monotonic() - began < limit_seconds:
            time.sleep(0.25)
            for n, worker in enumerate(workers):
                if worker.poll() is not None:  # died on its own (the store went away): start again
                    result.deaths += 1
                    workers[n] = spawn(n)
            if kill_every and time.monotonic() >= next_kill:
                victim = rng.randrange(dispatchers)
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = spawn(victim)
                result.kills += 1
                next_kill = time.monotonic() + kill_every * rng.uniform(0.5, 1.5)
            if revoke_every and connected and time.monotonic() >= next_revoke:
                platform, n = rng.choice(connected)
                admin(
                    platform_url,
                    "/admin/revoke",
                    {"user": USERS[platform].format(n), "refresh_too": rng.random() < 0.5},
                )
                result.revocations += 1
                next_revoke = time.monotonic() + revoke_every * rng.uniform(0.5, 1.5)
            unsettled = _unsettled(url)
            if platforms and unsettled is not None:
                try:
                    result.reconnects += _reconnect(herald, platform_url, disconnected_at)
                    result.settled_by_support += _settle_as_support(herald, platform_url)
                except psycopg.OperationalError:
                    pass  # the store is restarting: next round
            if not restarted and unsettled is not None and unsettled < posts * 0.65:
                _restart_postgres()
                result.postgres_restarts += 1
                restarted = True
            if unsettled == 0:
                break
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                tail = dispatcher_log(worker)[-2000:]
                result.problems.append(f"a dispatcher did not stop within 60 s of SIGTERM; its log ends:\n{tail}")
        result.seconds = time.monotonic() - began
        _judge(herald, platform_url, ids, platforms, result)
        _compare_replays(herald, result)
        _verify(herald, result)
        return result
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        simulator.kill()
        if files is not None:
            files.kill()
        herald.close()
        shutil.rmtree(library, ignore_errors=True)
        if os.environ.get("HERALD_CHAOS_KEEP"):
            print(f"kept the run's store: {url}")
        else:
            _retrying(lambda: _drop_schema(postgres_url, schema))


def _connect(herald: Herald, platform_url: str, platforms: tuple[str, ...], posts: int) -> list[tuple[str, int]]:
    """Enough accounts per platform that none passes its posting window (X: 200 per 15 min)."""
    per_platform = max(4, posts // len(platforms) // 60)
    connected = []
    for platform in platforms:
        for n in range(per_platform):
            user = USERS[platform].format(n)
            grant = admin(platform_url, "/admin/grant", {"user": user})
            credentials = {
                "access_token": grant["access_token"],
                "refresh_token": grant["refresh_token"],
                "access_jwt": grant["access_token"],
                "refresh_jwt": grant["refresh_token"],
                "client_id": "chaos",
            }
            herald.accounts.connect(
                name=f"{platform}-{n}",
                platform=platform,
                handle=f"{platform}-{n}",
                remote_user_id=user,
                credentials=credentials,
                base_url=platform_url,
            )
            connected.append((platform, n))
    return connected


def _pictures(herald: Herald) -> list[str]:
    from tests.media import image

    return [
        str(
            herald.media.add(
                "default", image(1080, 1080, fmt="JPEG", shade=n), filename=f"{n}.jpg", alt_text=f"P{n}"
            ).id
        )
        for n in range(PICTURES)
    ]


def _file_server(store_url: str, key: str) -> subprocess.Popen[bytes]:
    """`herald serve --only api`, serving the pictures at signed URLs; HERALD_PUBLIC_URL names it."""
    port = free_port()
    os.environ["HERALD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*HERALD, "serve", "--only", "api", "--port", str(port)],
        env={**os.environ, "HERALD_DATABASE_URL": store_url, "HERALD_SECRET_KEY": key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:  # a readiness probe, not a wait for time
        try:
            admin(os.environ["HERALD_PUBLIC_URL"], "/healthz")
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)


def _media(platform: str, pictures: list[str], rng: random.Random) -> tuple[MediaRef, ...]:
    """Pictures for a post: every Instagram post (a carousel, half the time), a third of the others."""
    if platform != "instagram" and rng.random() >= 1 / 3:
        return ()
    limit = {"instagram": 10, "x": 4, "mastodon": 4, "bluesky": 4}.get(platform, 4)
    count = rng.randint(2, limit) if rng.random() < 0.5 else 1
    return tuple(MediaRef(ref=ref) for ref in rng.sample(pictures, count))


def _schedule(
    herald: Herald,
    posts: int,
    platforms: tuple[str, ...],
    connected: list[tuple[str, int]],
    accounts: int,
    thread_share: float,
    rng: random.Random,
    pictures: list[str],
) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for start in range(0, posts, 500):
        due = datetime.now(UTC) + timedelta(seconds=5)  # after the dispatchers have booted
        batch = []
        for n in range(start, min(posts, start + 500)):
            if platforms:
                platform, index = connected[n % len(connected)]
                account = f"{platform}-{index}"
                parts = 3 if platform in THREADED and rng.random() < thread_share else 1
                thread = tuple(ThreadPart(text=f"chaos {n} part {p}") for p in range(2, parts + 1))
                media = _media(platform, pictures, rng)
                content = Content(text=f"chaos {n} on {platform}", thread=thread, media=media)
            else:
                platform, account, content = "mastodon", f"acct-{n % accounts}", Content(text=f"chaos {n}")
            batch.append({"account": account, "platform": platform, "content": content, "scheduled_at": due})
        ids += _retrying(lambda batch=batch: herald.posts.schedule_many(batch))  # type: ignore[misc]
    return ids


def _reconnect(herald: Herald, platform_url: str, disconnected_at: dict[str, float]) -> int:
    """An owner reconnects a disconnected account a couple of seconds after it went."""
    done = 0
    for view in herald.accounts.all("default"):
        if view.state != "disconnected":
            disconnected_at.pop(view.name, None)
            continue
        since = disconnected_at.setdefault(view.name, time.monotonic())
        if time.monotonic() - since < 2:
            continue
        grant = admin(platform_url, "/admin/grant", {"user": view.remote_user_id})
        credentials = {
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "access_jwt": grant["access_token"],
            "refresh_jwt": grant["refresh_token"],
            "client_id": "chaos",
        }
        herald.accounts.reconnect("default", view.name, credentials, None)
        disconnected_at.pop(view.name, None)
        done += 1
    return done


def _settle_as_support(herald: Herald, platform_url: str) -> int:
    """Posts waiting for support are settled as a person would: by looking at the platform."""
    from domain.outcomes import RemotePost

    herald.runner(DueIndex()).catch_up()
    waiting = [w for w in herald.due_index.needing_attention(None, 100) if w.state == "ambiguous"]
    if not waiting:
        return 0
    truth = admin(platform_url, "/admin/truth")["posts"]
    settled = 0
    for item in waiting:
        post = herald.posts.get_post(uuid.UUID(item.post_id))
        texts = [post.content.text, *(p.text for p in post.content.thread)]
        live = [next((t for t in truth if t["text"] == text), None) for text in texts]
        seen = RemotePost(remote_id=live[0]["id"]) if all(live) else None
        try:
            herald.dispatch.settle(post.id, live=seen, actor="chaos support", note="looked at the account")
            settled += 1
        except Exception:
            continue
    return settled


def _judge(
    herald: Herald, platform_url: str, ids: list[uuid.UUID], platforms: tuple[str, ...], result: ChaosResult
) -> None:
    """Every post against the simulator's truth."""
    truth = admin(platform_url, "/admin/truth")["posts"]
    views = [herald.posts.get_post(post_id) for post_id in ids]
    result.states = Counter(v.state for v in views)
    result.reasons = Counter(v.failure_reason for v in views if v.failure_reason)
    result.reconciled = sum(1 for v in views if v.reconciled)
    result.published = len(truth)
    if platforms:
        copies = Counter((t["platform"], t["account"], t["text"]) for t in truth)
        result.duplicates = sum(n - 1 for n in copies.values())
        present = {(t["platform"], t["text"]) for t in truth}
        pictures = {(t["platform"], t["text"]): [m["sha256"] for m in t.get("media") or []] for t in truth}
    else:
        keys = Counter(t["publish_key"] for t in truth)
        result.duplicates = sum(n - 1 for n in keys.values())
        present = {("generic", key) for key in keys}
    first_seen: dict[tuple[str, str], datetime] = {}
    for t in truth:
        key = (t["platform"], t["text"]) if platforms else ("generic", t["publish_key"])
        at = datetime.fromisoformat(t["created_at"])
        first_seen[key] = min(at, first_seen.get(key, at))
    agree = 0
    for view in views:
        seen = first_seen.get((view.platform, view.content.text) if platforms else ("generic", view.publish_key))
        if seen is not None and view.due_at is not None and seen < view.due_at:
            result.early += 1
        if platforms:
            parts = [view.content.text, *(p.text for p in view.content.thread)]
            live = [(view.platform, text) in present for text in parts]
        else:
            live = [("generic", view.publish_key) in present]
        recorded = {part.part for part in view.parts} if view.state == "partial" else set()
        if view.state == "delivered":
            ok = all(live)
            if platforms and view.content.media:
                wanted = [herald.media.info(view.workspace, m.ref).sha256 for m in view.content.media]
                if pictures.get((view.platform, view.content.text)) != wanted:
                    result.media_missing += 1
        elif view.state == "partial":
            ok = recorded == {n + 1 for n, seen in enumerate(live) if seen}
        else:
            ok = not any(live)
            if view.state == "failed" and any(live):
                result.failed_but_published += 1
        if not ok:
            result.lost += 1
        agree += ok
        if view.state not in ("delivered", "partial", "failed", "canceled") and not view.waiting_for:
            result.stuck += 1
    result.agreement = agree / len(views) if views else 1.0
    lags = sorted(_first_attempt_lag(herald, post_id) for post_id in ids[:: max(1, len(ids) // 2000)])
    result.lag_p50 = lags[len(lags) // 2]
    result.lag_p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    counts = (
        ("duplicates", result.duplicates),
        ("lost", result.lost),
        ("stuck", result.stuck),
        ("sent before they were due", result.early),
        ("delivered without all their pictures", result.media_missing),
    )
    for name, count in counts:
        if count:
            result.problems.append(f"{count} {name}")
    if result.failed_but_published:
        result.problems.append(f"{result.failed_but_published} failed while live")


def _compare_replays(herald: Herald, result: ChaosResult) -> None:
    """Each projection caught up live (the due index by the dispatchers, killed mid-batch), then
    replayed from event 0: the rows must be the same."""
    from infrastructure.persistence.replay import replay
    from projections.catalog import PROJECTIONS

    for name, cls in PROJECTIONS.items():
        herald.runner(cls()).catch_up()
        live = {table: _rows(herald, table) for table in cls.tables}
        replay(herald.projections, cls())
        if {table: _rows(herald, table) for table in cls.tables} != live:
            result.problems.append(f"a replay of {name} differs from the live projection")


def _verify(herald: Herald, result: ChaosResult) -> None:
    """`herald verify` over the run's log: every retry, ambiguity, reconcile, hold and failure
    the killed and restarted dispatchers recorded must come out the same when made again."""
    from infrastructure.verify import verify

    verifier = verify(herald)
    result.decisions_verified, result.verify_mismatches = verifier.checked, len(verifier.mismatches)
    for mismatch in verifier.mismatches[:5]:
        result.problems.append(f"herald verify: {mismatch.model_dump_json()}")


def _rows(herald: Herald, table: str) -> list[tuple[Any, ...]]:
    with herald.read_store.reading() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        return [tuple(row) for row in cursor.fetchall()]


def _first_attempt_lag(herald: Herald, post_id: uuid.UUID) -> float:
    """Seconds from the due instant to the first claim (the attempt's start)."""
    records = herald.posts.history(post_id)
    due = next(r for r in records if r.name == "Scheduled").data["due_at"]
    claims = [r.at for r in records if r.name == "DispatchClaimed"]
    if not claims:
        return 0.0
    return (claims[0] - datetime.fromisoformat(due)).total_seconds()


def _unsettled(url: str) -> int | None:
    """Posts not yet terminal, read from the event log (not from any projection); None while
    the store does not answer (it is restarting)."""
    base, _, query = url.partition("?schema=")
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM (SELECT originator_id, MAX(originator_version) AS v"
                f' FROM "{query}".herald_events WHERE topic LIKE %s GROUP BY originator_id) AS last'
                f' JOIN "{query}".herald_events e'
                " ON e.originator_id = last.originator_id AND e.originator_version = last.v"
                " WHERE e.topic NOT LIKE '%%.Delivered' AND e.topic NOT LIKE '%%.Failed'"
                " AND e.topic NOT LIKE '%%.Canceled' AND e.topic NOT LIKE '%%.PartiallyDelivered'"
                " AND e.topic NOT LIKE '%%.SettledLive'",
                ["%:Post.%"],
            ).fetchone()
    except psycopg.OperationalError:
        return None
    return int(row[0]) if row else 0


def can_restart_postgres() -> bool:
    """Whether this machine runs the local cluster the run may restart."""
    return shutil.which("pg_ctlcluster") is not None and Path("/etc/postgresql").is_dir()


def _restart_postgres() -> None:
    """The one PostgreSQL restart of the run (the local cluster, as this machine runs it)."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, capture_output=True
    )


def _retrying(call: Any, tries: int = 60) -> Any:
    """A call into the store, tried again while the store restarts."""
    for attempt in range(tries):
        try:
            return call()
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _drop_schema(postgres_url: str, schema: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _interrupted(*_: object) -> None:
    """A SIGTERM unwinds like Ctrl-C: the workers and the simulator stop, the run's schema goes."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description="Herald's chaos run on PostgreSQL (see tests/chaos.py).")
    parser.add_argument("--posts", type=int, default=10_000, help="posts to publish")
    parser.add_argument("--dispatchers", type=int, default=3, help="dispatcher processes")
    parser.add_argument(
        "--platforms",
        default="",
        help="publish through connected accounts and the real adapters: a comma-separated list of "
        f"{', '.join(PLATFORMS)}, or all (default: the generic simulator, no accounts)",
    )
    parser.add_argument("--faults", default=None, help="simulator faults (default: the run's own)")
    parser.add_argument("--no-kill", action="store_true", help="no SIGKILLs (a fault-free drain with --faults '')")
    parser.add_argument("--no-postgres-restart", action="store_true", help="with --platforms: no PostgreSQL restart")
    parser.add_argument("--limit-seconds", type=float, default=900, help="give up after this long")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    chosen = PLATFORMS if args.platforms == "all" else tuple(p for p in args.platforms.split(",") if p)
    unknown = set(chosen) - set(PLATFORMS)
    if unknown:
        parser.error(f"--platforms: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PLATFORMS)}, or all")
    result = run_chaos(
        args.postgres,
        args.posts,
        dispatchers=args.dispatchers,
        faults=args.faults,
        kill_every=None if args.no_kill else 2.0,
        limit_seconds=args.limit_seconds,
        platforms=chosen,
        revoke_every=7.0 if chosen else None,
        restart_postgres=bool(chosen) and not args.no_postgres_restart and can_restart_postgres(),
    )
    for line in result.lines():
        print(line)
    for problem in result.problems:
        print("PROBLEM:", problem)
    raise SystemExit(1 if result.problems else 0)


if __name__ == "__main__":
    main()
