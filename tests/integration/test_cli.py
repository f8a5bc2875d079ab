"""The `herald` command as a user runs it: real processes, real store, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERALD = [sys.executable, "-m", "infrastructure.cli"]


def herald(*args: str, url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a generic platform named (its posts may name any account), unless `extra` says otherwise."""
    env = {**os.environ, "HERALD_DATABASE_URL": url, "COLUMNS": "160", "HERALD_PLATFORM_URL": "http://127.0.0.1:9"}
    env.update(extra)
    return subprocess.run([*HERALD, *args], env=env, capture_output=True, text=True, timeout=60)


def test_schedule_edit_reschedule_cancel_and_show(store_url: str) -> None:
    made = herald(
        "post",
        "schedule",
        "--account",
        "acme",
        "--platform",
        "mastodon",
        "--text",
        "Hello",
        "--at",
        "2031-03-30T09:00",
        "--timezone",
        "Europe/Paris",
        "--external-id",
        "crm-7",
        "--json",
        url=store_url,
    )
    assert made.returncode == 0, made.stderr
    post = json.loads(made.stdout)["post"]
    assert post["due_at"] == "2031-03-30T07:00:00Z"  # summer time: Paris is UTC+2
    post_id = post["id"]

    assert herald("post", "edit", post_id, "--text", "Hello!", url=store_url).returncode == 0
    moved = herald("post", "reschedule", post_id, "--at", "2031-04-01T10:00:00+00:00", url=store_url)
    assert moved.returncode == 0, moved.stderr
    assert herald("post", "cancel", post_id, url=store_url).returncode == 0

    shown = herald("post", "show", post_id, "--json", url=store_url)
    body = json.loads(shown.stdout)
    assert body["post"]["state"] == "canceled"
    assert [e["name"] for e in body["events"]] == [
        "Drafted",
        "Scheduled",
        "ContentEdited",
        "Rescheduled",
        "Canceled",
    ]
    table = herald("post", "show", post_id, url=store_url)
    assert "Rescheduled" in table.stdout and "canceled" in table.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["post", "show", "not-a-uuid"], "invalid_post_id"),
        (["post", "show", "00000000-0000-4000-8000-000000000000"], "post_not_found"),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "x",
                "--text",
                "t",
                "--at",
                "2031-01-01T09:00",
            ],
            "naive_datetime",
        ),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "x",
                "--text",
                "t",
                "--at",
                "2001-01-01T09:00Z",
            ],
            "due_time_in_past",
        ),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "x",
                "--text",
                "  ",
                "--at",
                "2031-01-01T09:00Z",
            ],
            "empty_content",
        ),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "x",
                "--text",
                "t",
                "--at",
                "2031-01-01T09:00",
                "--timezone",
                "Mars/Olympus",
            ],
            "invalid_timezone",
        ),
        (
            [
                "post",
                "schedule",
                "--account",
                "a",
                "--platform",
                "x",
                "--text",
                "t",
                "--at",
                "2031-03-30T02:30",
                "--timezone",
                "Europe/Paris",
            ],
            "invalid_instant",
        ),
    ],
)
def test_bad_input_is_one_line_with_its_code(sqlite_url: str, args: list[str], code: str) -> None:
    result = herald(*args, url=sqlite_url)
    assert result.returncode == 2
    assert code in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@127.0.0.1/test",
        "sqlite:///no/such/folder/herald.db",
        "postgresql://root@127.0.0.1:1/test",
        "postgresql://no_such_role_x@127.0.0.1:5432/test",
        "postgresql://root:secret@127.0.0.1:1/test",
    ],
)
def test_a_bad_store_url_is_one_clear_line_naming_the_setting(url: str) -> None:
    result = herald("post", "show", "00000000-0000-4000-8000-000000000000", url=url)
    assert result.returncode == 2
    assert "HERALD_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr  # passwords never reach the terminal


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["post", "--help"],
        ["post", "schedule", "--help"],
        ["demo", "--help"],
    ):
        result = subprocess.run([*HERALD, *args], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "usage:" in result.stdout


def test_the_demo_publishes_end_to_end_on_sqlite_without_duplicates(sqlite_url: str) -> None:
    result = herald("demo", url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "duplicates: 0" in result.stdout
    assert "the most eventful post" in result.stdout
    for state in ("queued", "dispatched", "ambiguous"):
        assert f"│ {state} " not in result.stdout  # every post reached a terminal state
