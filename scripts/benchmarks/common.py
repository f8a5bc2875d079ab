"""What every scenario shares: a fresh PostgreSQL schema, the simulator, the truth, timing."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.processes import admin, reaped, start_simulator

POSTGRES = "postgresql://root@127.0.0.1:5432/test"


@dataclass
class Result:
    scenario: str
    system: str  # herald, raw, peer
    values: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def fresh_schema(base: str = POSTGRES, prefix: str = "bench") -> Iterator[str]:
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
    try:
        yield schema
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


@contextlib.contextmanager
def simulator(faults: str = "latency_ms=2") -> Iterator[str]:
    process, url = start_simulator(faults)
    with reaped(process):
        yield url


def duplicates(platform_url: str) -> tuple[int, int]:
    """(posts the simulator holds, how many of them repeat an earlier one's key or text)."""
    posts = admin(platform_url, "/admin/truth")["posts"]
    keys = Counter(p["publish_key"] or p["text"] for p in posts)
    return len(posts), sum(n - 1 for n in keys.values())


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def wait_until(done: Any, limit: float, poll: float = 0.05) -> float:
    """Seconds until `done()` is true (a completion probe for long runs, bounded by `limit`)."""
    began = time.monotonic()
    while not done():
        if time.monotonic() - began > limit:
            raise TimeoutError(f"not finished within {limit:.0f}s")
        time.sleep(poll)
    return time.monotonic() - began


def stop_all(processes: list[subprocess.Popen[Any]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        if process.poll() is None:
            process.kill()


def check_headroom(postgres: str = POSTGRES, needed: int = 20) -> None:
    """Refuse to start when PostgreSQL has too few free connections: a run that fails half way
    (or starves the tests running beside it) measures nothing."""
    with psycopg.connect(postgres, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity").fetchone()
    free = int(row[0]) if row else 0
    if free < needed:
        raise SystemExit(f"bench: PostgreSQL has {free} free connections, {needed} needed; stop what holds them")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far, from /proc (steadier than wall time)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
