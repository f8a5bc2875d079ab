"""Run every scenario on PostgreSQL for Herald and its baselines; write JSON and a Markdown table.

    scripts/bench [--n 100000] [--rate 500] [--seconds 20] [--lead 0] [--events 1000000] [--repeats 3]

Ratios are against baselines measured in the same run on the same machine: raw (psycopg
alone: the database's limit) and peer (procrastinate). Medians of --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from scripts.benchmarks import herald_side, peer, raw  # noqa: E402
from scripts.benchmarks.common import POSTGRES, Result, check_headroom, fresh_schema, simulator  # noqa: E402


def repeat(times: int, run: Any) -> Result:
    results = [run() for _ in range(times)]
    keys = results[0].values
    merged = {k: statistics.median(r.values[k] for r in results) for k in keys}
    if "duplicates" in keys:
        merged["duplicates"] = max(r.values["duplicates"] for r in results)  # any duplicate counts
    return Result(results[0].scenario, results[0].system, merged)


def burst(n: int, accounts: int, workers: int, repeats: int) -> list[Result]:
    def herald() -> Result:
        with fresh_schema() as schema, simulator() as url:
            return herald_side.burst(schema, url, n, accounts, workers)

    def peer_run() -> Result:
        with fresh_schema() as schema, simulator() as url:
            return peer.burst(schema, url, n, accounts, workers)

    def raw_run() -> Result:
        with fresh_schema() as schema:
            return raw.burst(schema, n, accounts, workers)

    return [repeat(repeats, herald), repeat(repeats, raw_run), repeat(repeats, peer_run)]


def lag(rate: int, seconds: float, workers: int, repeats: int, lead: float = 0.0) -> list[Result]:
    def herald() -> Result:
        with fresh_schema() as schema, simulator() as url:
            return herald_side.lag(schema, url, rate, seconds, workers, lead)

    def peer_run() -> Result:
        with fresh_schema() as schema, simulator() as url:
            return peer.lag(schema, url, rate, seconds, workers, lead)

    return [repeat(repeats, herald), repeat(repeats, peer_run)]


def replay(events: int, repeats: int) -> list[Result]:
    from bench_replay import bench_store

    with fresh_schema() as schema:
        found = bench_store(f"{POSTGRES}?schema={schema}", events, repeats)
    return [
        Result(
            "replay",
            "herald",
            {
                "events": found["events"],
                "due_index_per_s": found["replay due_index (events/s)"],
                "timeline_per_s": found["replay timeline (events/s)"],
            },
        ),
        Result("replay", "raw", {"events": found["events"], "scan_per_s": found["raw scan (events/s)"]}),
    ]


def api(requests: int, repeats: int) -> list[Result]:
    from bench_api import measure

    return [Result("api", "herald", measure(POSTGRES, requests, 32, repeats))]


def table(results: list[Result]) -> str:
    by = {(r.scenario, r.system): r.values for r in results}
    lines = ["| scenario | herald | raw | peer | herald/raw | herald/peer |", "|---|---|---|---|---|---|"]

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}" if a and b else "-"

    if ("burst", "herald") in by:
        h, r, p = (by.get(("burst", s), {}) for s in ("herald", "raw", "peer"))
        lines.append(
            f"| burst posts/s ({int(h['posts'])} posts; duplicates herald {int(h['duplicates'])}, "
            f"peer {int(p.get('duplicates', 0))}; herald CPU per post: dispatchers "
            f"{h.get('dispatcher_cpu_ms', 0):.2f} ms, PostgreSQL {h.get('postgres_cpu_ms', 0):.2f} ms) | "
            f"{h['posts_per_s']:,.0f} | {r.get('posts_per_s', 0):,.0f} | "
            f"{p.get('posts_per_s', 0):,.0f} | {ratio(h['posts_per_s'], r.get('posts_per_s'))} | "
            f"{ratio(h['posts_per_s'], p.get('posts_per_s'))} |"
        )
    if ("lag", "herald") in by:
        h, p = by[("lag", "herald")], by.get(("lag", "peer"), {})
        for key in ("p50_ms", "p99_ms", "max_ms"):
            lines.append(
                f"| lag {key} at {int(h['rate'])}/s, {h.get('lead_s', 0):g} s ahead | {h[key]:.0f} | - | "
                f"{p.get(key, float('nan')):.0f} | - | "
                f"{ratio(h[key], p.get(key))} |"
            )
    if ("replay", "herald") in by:
        h, r = by[("replay", "herald")], by[("replay", "raw")]
        for key in ("due_index_per_s", "timeline_per_s"):
            lines.append(
                f"| replay {key} ({int(h['events'])} events) | {h[key]:,.0f} | {r['scan_per_s']:,.0f} | - | "
                f"{ratio(h[key], r['scan_per_s'])} | - |"
            )
    if ("api", "herald") in by:
        h = by[("api", "herald")]
        lines.append(
            f"| api schedule req/s (p50 {h['p50_ms']:.0f} ms, p99 {h['p99_ms']:.0f} ms; CPU per request: API "
            f"{h['api_cpu_ms']:.2f} ms, PostgreSQL {h['pg_cpu_ms']:.2f} ms; raw {h['raw_cpu_ms']:.2f} + "
            f"{h['raw_pg_cpu_ms']:.2f} ms) | {h['req_per_s']:,.0f} | {h['raw_req_per_s']:,.0f} | - | "
            f"{ratio(h['req_per_s'], h['raw_req_per_s'])} | - |"
        )
        lines.append(
            f"| timeline look-up p99 ms, idle / while writing / while writing, from a process taking no "
            f"writes | {h['timeline_p99_ms']:.1f} / {h['timeline_busy_p99_ms']:.1f} / "
            f"{h.get('timeline_reader_p99_ms', float('nan')):.1f} | - | - | - | - |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="burst: posts due at one instant")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Herald dispatcher processes, and as many procrastinate worker processes, each with 128 "
        "requests or jobs in flight (default 1: a 2-core machine also runs PostgreSQL and the simulator)",
    )
    parser.add_argument("--rate", type=int, default=500, help="lag: posts per second")
    parser.add_argument("--seconds", type=float, default=20, help="lag: how long the arrival lasts")
    parser.add_argument(
        "--lead", type=float, default=0.0, help="lag: seconds between scheduling a post and its instant (0: now)"
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="replay: events in the log")
    parser.add_argument("--requests", type=int, default=5000, help="api: schedule requests")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append", choices=["burst", "lag", "replay", "api"])
    parser.add_argument("--out", default="bench-out", help="folder for results.json and results.md")
    args = parser.parse_args()
    wanted = set(args.only or ["burst", "lag", "replay", "api"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before the run: a long run's results are never lost to it
    check_headroom()
    results: list[Result] = []
    if "burst" in wanted:
        results += burst(args.n, args.accounts, args.workers, args.repeats)
    if "lag" in wanted:
        results += lag(args.rate, args.seconds, args.workers, args.repeats, args.lead)
    if "replay" in wanted:
        results += replay(args.events, args.repeats)
    if "api" in wanted:
        results += api(args.requests, args.repeats)
    (out / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    markdown = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, medians of {args.repeats}, "
        f"{args.workers} worker process(es) each.\n\n" + table(results)
    )
    (out / "results.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
