"""A bounded schemathesis run against `herald serve --only api`: zero server errors and zero
responses that break the published schema."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import HERALD, free_port, reaped

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error_and_no_schema_violation(sqlite_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": sqlite_url,
        "HERALD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    made = json.loads(
        subprocess.run(
            [*HERALD, "workspaces", "create", "Fuzz"], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [*HERALD, "serve", "--only", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(server):
        url = f"http://127.0.0.1:{port}/v1/openapi.json"
        deadline = time.monotonic() + 30
        while True:  # readiness probe
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the API never came up"
                time.sleep(0.1)
        config = tmp_path / "schemathesis.toml"
        config.write_text(f'[parameters]\n"path.workspace_id" = "{made["workspace_id"]}"\n')
        schemathesis = Path(sys.executable).parent / "schemathesis"
        run = subprocess.run(
            [
                str(schemathesis),
                "--config-file",
                str(config),
                "run",
                url,
                "-H",
                f"Authorization: Bearer {made['api_key']}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "-n",
                "20",
                "--seed",
                "7",
                "--phases",
                "coverage,fuzzing",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(run.stdout[-3000:])
        assert run.returncode == 0, run.stdout[-5000:]
        assert "generated" in run.stdout and " failed" not in run.stdout.split("Test cases:")[-1]
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors, errors[-3000:]
