"""The command line as a careless user meets it: every refusal is one line naming the input or
the variable at fault, exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.processes import HERALD

SCHEDULE = ["post", "schedule", "--account", "a", "--platform", "mastodon", "--text", "hi"]


def run(*args: str | bytes, url: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, "HERALD_DATABASE_URL": url, "HERALD_PLATFORM_URL": "http://127.0.0.1:9", **env}
    environ = {k: v for k, v in environ.items() if v != ""}  # "" unsets
    return subprocess.run([*HERALD, *args], env=environ, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "env", "code", "names"),
    [
        (
            [*SCHEDULE[:-1], b"bad \xff\xfe bytes", "--at", "2030-01-01T09:00Z"],
            {},
            "invalid_characters",
            "content.text",
        ),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "linkedin",
                "--text",
                b"\xff",
                "--at",
                "2030-01-01T09:00Z",
            ],
            {},
            "invalid_characters",
            "content.text",
        ),
        (
            [*SCHEDULE, "--at", "2030-01-01T09:00+01:00", "--timezone", "Europe/Paris"],
            {},
            "invalid_instant",
            "timezone",
        ),
        ([*SCHEDULE, "--at", "9999-12-31T23:00:00-05:00"], {}, "invalid_instant", "scheduled_at"),
        ([*SCHEDULE, "--at", "9999-12-31T23:59:59Z"], {}, "scheduled_at_out_of_range", "scheduled_at"),
        ([*SCHEDULE, "--at", "2030-01-01T09:00", "--timezone", "Europe"], {}, "invalid_timezone", "timezone"),
        ([*SCHEDULE, "--at", "2030-01-01T09:00", "--timezone", "[/x]"], {}, "invalid_timezone", "timezone"),
        ([*SCHEDULE, "--at", "2030-01-01T09:00Z"], {"HERALD_PLATFORM_URL": ""}, "account_not_found", "account"),
        (["stats", "--day", "2026-13-45"], {}, "invalid_day", "day"),
        (["stats", "--day", "20261123"], {}, "invalid_day", "day"),
        (
            ["serve", "--only", "api", "--port", "0"],
            {"HERALD_API_CREATIONS_PER_MINUTE": "lots"},
            "invalid_setting",
            "HERALD_API_CREATIONS_PER_MINUTE",
        ),
        (
            [*SCHEDULE, "--at", "2030-01-01T09:00Z"],
            {"HERALD_GRACE_SECONDS": "1e400"},
            "invalid_setting",
            "HERALD_GRACE_SECONDS",
        ),
        (
            [*SCHEDULE, "--at", "2030-01-01T09:00Z"],
            {"HERALD_RETRY_JITTER": "nan"},
            "invalid_setting",
            "HERALD_RETRY_JITTER",
        ),
    ],
    ids=[
        "invalid UTF-8 text",
        "invalid UTF-8 text on LinkedIn",
        "an offset and a zone",
        "past year 9999 in UTC",
        "beyond the last due instant",
        "a zone that is a directory",
        "a zone that looks like markup",
        "an account that does not exist",
        "month 13",
        "a day without dashes",
        "a non-numeric limit",
        "an infinite grace",
        "a jitter that is not a number",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sqlite_url: str, args: list[str | bytes], env: dict[str, str], code: str, names: str
) -> None:
    result = run(*args, url=sqlite_url, **env)
    errors = result.stderr.decode(errors="replace")
    assert result.returncode == 2, errors
    assert code in errors and names in errors and "Traceback" not in errors
    assert len(errors.strip().splitlines()) <= 3  # one refusal, wrapped at most to 80 columns


def test_a_bluesky_login_with_no_network_is_one_line(sqlite_url: str) -> None:
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    result = subprocess.run(
        [
            *HERALD,
            "accounts",
            "add",
            "--name",
            "b",
            "--platform",
            "bluesky",
            "--handle",
            "b.example",
            "--credentials",
            "-",
            "--base-url",
            "http://127.0.0.1:9",
        ],
        input=b'{"identifier": "b.example", "app_password": "x"}',
        env={**os.environ, "HERALD_DATABASE_URL": sqlite_url, "HERALD_SECRET_KEY": key},
        capture_output=True,
        timeout=60,
    )
    errors = result.stderr.decode()
    assert result.returncode == 2 and "login_failed" in errors and "Traceback" not in errors, errors


def test_a_replay_on_a_store_where_nothing_ran_yet_replays_nothing(sqlite_url: str) -> None:
    for projection in ("timeline", "due_index", "stats", "post_list", "engagement"):
        result = run("replay", projection, url=sqlite_url)
        assert result.returncode == 0 and b"replayed 0 events" in result.stdout, result.stderr


def test_an_unexpected_failure_is_one_line_not_a_traceback(sqlite_url: str, tmp_path: object) -> None:
    result = run("timeline", "--external-id", "x", url="sqlite:////proc/no/such/dir/h.db")
    errors = result.stderr.decode()
    assert result.returncode in (1, 2) and "Traceback" not in errors and errors.strip(), errors
