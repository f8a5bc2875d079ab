"""Real processes for crash and race tests: the simulator and dispatchers, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

HERALD = [sys.executable, "-m", "infrastructure.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, method="POST" if data else "GET", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def start_simulator(faults: str = "", seed: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [*HERALD, "simulate-platform", "--port", str(port), "--faults", faults, "--seed", str(seed)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:  # wait for the server to listen (a readiness probe, not a wait for time)
        try:
            admin(url, "/admin/truth")
            return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)


def start_dispatcher(
    store_url: str, platform_url: str, worker: str, *extra: str, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*HERALD, "dispatch", "--platform-url", platform_url, "--worker", worker, *extra],
        env={**os.environ, "HERALD_DATABASE_URL": store_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def reaped(*processes: subprocess.Popen[Any]) -> Iterator[None]:
    """Whatever the test's fate, no process it started outlives it (nor its connections)."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
