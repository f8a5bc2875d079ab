"""Real processes for crash and race tests: the simulator and dispatchers, on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import IO, Any

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
    answering(process, url + "/admin/truth", seconds=20)
    return process, url


def answering(process: subprocess.Popen[Any], url: str, seconds: float = 30) -> None:
    """Return once `url` gets an HTTP answer, any status (a readiness probe, not a wait for
    time); kill the process and raise if it exits or stays silent for `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)


def start_dispatcher(
    store_url: str, platform_url: str | None, worker: str, *extra: str, **env: str
) -> subprocess.Popen[bytes]:
    """`herald dispatch`; with `platform_url`, posts of unconnected accounts go to the generic simulator.

    Its log goes to an unlinked temporary file (`dispatcher_log` reads it): a pipe nobody
    reads fills up under a long run's logging and blocks the dispatcher mid-write."""
    generic = ["--platform-url", platform_url] if platform_url else []
    log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the process's life)
    process = subprocess.Popen(
        [*HERALD, "dispatch", *generic, "--worker", worker, *extra],
        env={**os.environ, "HERALD_DATABASE_URL": store_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    _LOGS[process.pid] = log
    return process


_LOGS: dict[int, IO[bytes]] = {}


def dispatcher_log(process: subprocess.Popen[bytes]) -> str:
    """What a dispatcher started by `start_dispatcher` has logged so far."""
    log = _LOGS[process.pid]
    log.seek(0)
    return log.read().decode(errors="replace")


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


def herald_env(store_url: str, **extra: str) -> dict[str, str]:
    """The environment of a herald process on `store_url`, with a fresh secret key."""
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {**os.environ, "HERALD_DATABASE_URL": store_url, "HERALD_SECRET_KEY": key, **extra}


def create_workspace(env: dict[str, str], name: str) -> dict[str, str]:
    """`herald workspaces create NAME`: {"workspace_id", "api_key"}."""
    done = subprocess.run(
        [*HERALD, "workspaces", "create", name], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(done.stdout))


def start_serve(env: dict[str, str], *args: str, port: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """`herald serve ARGS` on a free port (or `port`), once its API answers: (process, base URL)."""
    port = port or free_port()
    process = subprocess.Popen(
        [*HERALD, "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    answering(process, base + "/v1/openapi.json")
    return process, base
