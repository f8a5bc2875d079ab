"""`herald workspaces`, `herald keys` and `herald webhooks replay` as an operator runs them."""

from __future__ import annotations

import base64
import json
import os
import subprocess

from tests.processes import HERALD


def herald(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": url,
        "HERALD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    return subprocess.run([*HERALD, *args], env=env, capture_output=True, text=True, timeout=60)


def test_workspaces_and_keys(sqlite_url: str) -> None:
    made = json.loads(herald("workspaces", "create", "Acme", url=sqlite_url).stdout)
    assert made["api_key"].startswith(f"hk_{made['workspace_id'].replace('-', '')}_")
    reader = json.loads(
        herald("keys", "create", "--workspace", made["workspace_id"], "--scopes", "read", url=sqlite_url).stdout
    )
    assert reader["scopes"] == ["read"] and reader["api_key"] != made["api_key"]
    revoked = herald("keys", "revoke", "--workspace", made["workspace_id"], reader["key_id"], url=sqlite_url)
    assert revoked.returncode == 0 and reader["key_id"] in revoked.stdout
    bad = herald("keys", "create", "--workspace", made["workspace_id"], "--scopes", "admin", url=sqlite_url)
    assert bad.returncode == 2 and "scopes" in bad.stderr
    missing = herald("keys", "revoke", "--workspace", made["workspace_id"], "nope", url=sqlite_url)
    assert missing.returncode == 2 and "key_not_found" in missing.stderr
    unknown = herald("keys", "create", "--workspace", "not-an-id", url=sqlite_url)
    assert unknown.returncode == 2 and "workspace" in unknown.stderr and "Traceback" not in unknown.stderr


def test_webhooks_replay_with_nothing_to_send(sqlite_url: str) -> None:
    result = herald("webhooks", "replay", "--since", "2026-01-01T00:00:00Z", url=sqlite_url)
    assert result.returncode == 0 and json.loads(result.stdout) == {"resent": 0}
    bad = herald("webhooks", "replay", "--since", "last week", url=sqlite_url)
    assert bad.returncode == 2 and "invalid_instant" in bad.stderr
