"""`herald accounts` as a user runs it: credentials from standard input, never echoed."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest

from tests.integration.test_cli import HERALD

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def herald(*args: str, url: str, stdin: str = "", key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HERALD_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("HERALD_SECRET_KEY", None)
    if key:
        env["HERALD_SECRET_KEY"] = key
    return subprocess.run([*HERALD, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_add_list_show_disconnect_reconnect(sqlite_url: str) -> None:
    secret = '{"access_token": "tok-very-secret", "refresh_token": "r"}'
    added = herald(
        "accounts",
        "add",
        "--name",
        "acme-x",
        "--platform",
        "x",
        "--handle",
        "acme",
        "--user-id",
        "42",
        "--credentials",
        "-",
        "--expires-in",
        "7200",
        url=sqlite_url,
        stdin=secret,
    )
    assert added.returncode == 0, added.stderr
    listed = herald("accounts", "list", "--json", url=sqlite_url)
    (account,) = json.loads(listed.stdout)
    assert (account["name"], account["state"], account["base_url"]) == ("acme-x", "connected", "https://api.x.com")
    assert "tok-very-secret" not in listed.stdout + added.stdout
    off = herald("accounts", "disconnect", "acme-x", url=sqlite_url)
    assert off.returncode == 0 and "disconnected" in off.stdout
    back = herald("accounts", "reconnect", "acme-x", "--credentials", "-", url=sqlite_url, stdin=secret)
    assert back.returncode == 0 and "connected" in back.stdout
    shown = json.loads(herald("accounts", "show", "acme-x", "--json", url=sqlite_url).stdout)
    assert shown["state"] == "connected"


@pytest.mark.parametrize(
    ("stdin", "key", "code"),
    [
        ('{"access_token": "t"}', None, "secret_key_missing"),
        ('{"access_token": "t"}', "too-short", "secret_key_missing"),
        ("not json", KEY, "invalid_credentials"),
        ("[]", KEY, "invalid_credentials"),
    ],
)
def test_bad_input_is_one_line_with_its_code(sqlite_url: str, stdin: str, key: str | None, code: str) -> None:
    result = herald(
        "accounts",
        "add",
        "--name",
        "a",
        "--platform",
        "x",
        "--handle",
        "a",
        "--user-id",
        "1",
        "--credentials",
        "-",
        url=sqlite_url,
        stdin=stdin,
        key=key,
    )
    assert result.returncode == 2 and code in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_account_is_named(sqlite_url: str) -> None:
    result = herald("accounts", "show", "nobody", url=sqlite_url)
    assert result.returncode == 2 and "account_not_found" in result.stderr
