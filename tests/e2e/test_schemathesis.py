"""A bounded schemathesis run against `herald serve --only api`: zero server errors and zero
responses that break the published schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import create_workspace, herald_env, reaped, start_serve

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error_and_no_schema_violation(sqlite_url: str, tmp_path: Path) -> None:
    env = herald_env(sqlite_url)
    made = create_workspace(env, "Fuzz")
    server, root = start_serve(env, "--only", "api")
    with reaped(server):
        url = f"{root}/v1/openapi.json"
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
