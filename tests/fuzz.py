"""Schemathesis against `herald serve --only api`, with every check and the stateful phase.

Every check schemathesis has runs: no server error, status codes, content types, headers and
bodies as documented, negative data rejected, positive data accepted, missing required headers
refused, undeclared methods answered 405 with `Allow`, authentication enforced, resources
available once created and gone once removed (the stateful phase follows the document's
links: create a post, then read, revise, cancel it…).

Two statuses are widened from schemathesis' defaults, each for a documented reason:
- valid data may be refused with 422 (well formed, refused by a rule the schema cannot state:
  a due time in the past, a text too long for the account's platform) and 412 (a stale
  If-Match version);
- invalid data may be refused with 412 (an If-Match that names no version) and a missing
  If-Match with 428 Precondition Required (RFC 6585).
The server runs with a generic platform named (`--platform-url`), so posts may name any
account; otherwise almost every generated post would be 404 account_not_found.

`scripts/fuzz --cases N` runs it on PostgreSQL (or `--store sqlite`); the test suite runs a
bounded one on both stores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.processes import HERALD, create_workspace, free_port, herald_env

CONFIG = """\
[parameters]
"path.workspace_id" = "{workspace}"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "422", "429"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429"]

[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
"""
PHASES = "examples,coverage,fuzzing,stateful"
ROOT = Path(__file__).resolve().parent.parent
HOOKS = Path(__file__).with_name("fuzz_hooks.py")  # fresh idempotency keys, as a real client makes


@dataclass
class FuzzResult:
    store: str
    cases: int = 0
    failures: int = 0
    errors: int = 0
    server_errors: int = 0  # answers of 500 or more, as the server logged them
    tracebacks: int = 0
    seconds: float = 0.0
    summary: str = ""
    output: str = ""  # schemathesis' whole report: a long run's failures are near its start
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"store: {self.store}; test cases: {self.cases} in {self.seconds:.0f}s",
            f"check failures: {self.failures}; errors: {self.errors}; "
            f"server errors: {self.server_errors}; tracebacks logged: {self.tracebacks}",
        ]


def run_fuzz(store_url: str, *, examples: int, seed: int = 7, workers: int = 2, store: str = "") -> FuzzResult:
    """One schemathesis run against a fresh `herald serve --only api` on `store_url`."""
    result = FuzzResult(store or store_url.split(":", 1)[0])
    # the limits would answer 429 to most of a run that sends thousands of requests a minute,
    # many of them without a key (the missing-header checks): what they guard has its own tests
    env = herald_env(
        store_url,
        HERALD_API_CREATIONS_PER_MINUTE=str(10**6),
        HERALD_API_FAILED_AUTH_PER_MINUTE=str(10**6),
        HERALD_ALLOW_PRIVATE_TARGETS="1",
    )
    made = create_workspace(env, "Fuzz")
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "schemathesis.toml"
        config.write_text(CONFIG.format(workspace=made["workspace_id"]))
        log = Path(scratch) / "serve.log"
        port = free_port()
        with log.open("w") as sink:
            server = subprocess.Popen(
                [*HERALD, "serve", "--only", "api", "--port", str(port), "--platform-url", "http://127.0.0.1:9"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                text=True,
            )
        try:
            root = f"http://127.0.0.1:{port}"
            _wait_for(root + "/v1/openapi.json", server)
            began = time.monotonic()
            run = subprocess.run(
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "--config-file",
                    str(config),
                    "run",
                    root + "/v1/openapi.json",
                    "-H",
                    f"Authorization: Bearer {made['api_key']}",
                    "--checks",
                    "all",
                    "--phases",
                    PHASES,
                    "--max-examples",
                    str(examples),
                    "--seed",
                    str(seed),
                    "--workers",
                    str(workers),
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=3600,
                env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "PYTHONPATH": str(ROOT)},
            )
            result.seconds = time.monotonic() - began
        finally:
            server.terminate()
            server.wait(timeout=30)
        logged = log.read_text()
    output = run.stdout + run.stderr
    result.output = output
    result.summary = output[-6000:]
    result.cases = _count(output, r"Test cases:\s*([\d,]+) generated")
    result.failures = _count(output, r"([\d,]+) failures?\b") if "failure" in output.split("Test cases:")[-1] else 0
    result.errors = _count(output, r"Errors:\s*([\d,]+)") or _count(output, r"([\d,]+) errors?\b")
    result.tracebacks = logged.count("Traceback")
    result.server_errors = logged.count("unexpected error on")
    if run.returncode != 0:
        result.problems.append(f"schemathesis exited {run.returncode}")
    if result.cases == 0:
        result.problems.append("schemathesis generated no test case")
    if result.tracebacks or result.server_errors:
        result.problems.append(f"the server logged {result.tracebacks} tracebacks:\n{logged[-3000:]}")
    return result


def _count(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    return int(found.group(1).replace(",", "")) if found else 0


def _wait_for(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Schemathesis with every check against herald serve (tests/fuzz.py).")
    parser.add_argument("--cases", type=int, default=10_000, help="about this many test cases in all")
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, help="where schemathesis' whole report goes (default test-artifacts/fuzz-STORE.log)"
    )
    args = parser.parse_args()
    examples = max(1, args.cases // OPERATIONS_PER_EXAMPLE)
    with tempfile.TemporaryDirectory() as scratch:
        if args.store == "sqlite":
            url, cleanup = f"sqlite:///{scratch}/fuzz.db", None
        else:
            schema = f"fuzz_{uuid.uuid4().hex[:8]}"
            url, cleanup = f"{args.postgres}?schema={schema}", schema
        try:
            result = run_fuzz(url, examples=examples, seed=args.seed, workers=args.workers, store=args.store)
        finally:
            if cleanup:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{cleanup}" CASCADE')
    out = args.out or ROOT / "test-artifacts" / f"fuzz-{args.store}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.output)
    print(result.summary)
    print(f"the whole report: {out}")
    for line in result.lines():
        print(line)
    for problem in result.problems:
        print("PROBLEM:", problem)
    raise SystemExit(1 if result.problems else 0)


# test cases schemathesis makes for each --max-examples, over this API's 18 operations and its
# phases (measured: see docs/reliability.md)
OPERATIONS_PER_EXAMPLE = 14

if __name__ == "__main__":
    main()
