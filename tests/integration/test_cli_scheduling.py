"""The scheduling commands as a user meets them, in real processes on a real SQLite file:
a draft scheduled, failed posts sent again one by one or by reason, and a recurring rule
added, listed and materialised; refusals are one line with their code, exit 2."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import orjson

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from tests.clock import ManualClock
from tests.processes import HERALD


def herald(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HERALD_DATABASE_URL": url, "HERALD_PLATFORM_URL": "http://127.0.0.1:9", "COLUMNS": "80"}
    return subprocess.run([*HERALD, *args], env=environ, capture_output=True, text=True, timeout=60)


def test_a_draft_is_scheduled_from_the_command_line(sqlite_url: str) -> None:
    made = herald(
        "post", "draft", "--account", "a", "--platform", "mastodon", "--text", "Later", "--json", url=sqlite_url
    )
    post_id = orjson.loads(made.stdout)["post"]["id"]
    done = herald(
        "post", "schedule-draft", post_id, "--at", "2030-01-01T09:00", "--timezone", "Europe/Paris", url=sqlite_url
    )
    assert done.returncode == 0, done.stderr
    shown = orjson.loads(herald("post", "show", post_id, "--json", url=sqlite_url).stdout)
    assert shown["post"]["state"] == "queued" and shown["post"]["due_at"] == "2030-01-01T08:00:00Z"


def test_failed_posts_are_sent_again_by_reason_once(sqlite_url: str) -> None:
    past = ManualClock(datetime.now(UTC) - timedelta(days=2))
    service = bootstrap(sqlite_url, clock=past)
    ids = [
        service.posts.schedule(
            account="a",
            platform="mastodon",
            content=Content(text=f"Post {n}"),
            scheduled_at=past.now + timedelta(hours=1),
        )
        for n in range(3)
    ]
    past.advance(hours=3)
    for post_id in ids[:2]:
        service.dispatch.pass_deadline(post_id)
    service.close()
    refused = herald("post", "redrive", url=sqlite_url)
    assert refused.returncode == 2 and "redrive_arguments" in refused.stderr
    sent = herald("post", "redrive", "--reason", "deadline_passed", url=sqlite_url)
    assert sent.returncode == 0 and "2 posts sent again; 0 refused" in sent.stdout, sent.stderr
    again = herald("post", "redrive", "--reason", "deadline_passed", url=sqlite_url)
    assert "0 posts sent again; 0 refused" in again.stdout  # each failed post is sent again once
    queued = herald("post", "redrive", str(ids[2]), url=sqlite_url)
    assert queued.returncode == 2 and "redrive_refused" in queued.stderr and "Traceback" not in queued.stderr


def test_a_rule_from_the_command_line(sqlite_url: str) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    added = herald(
        "rules",
        "add",
        "--name",
        "daily",
        "--zone",
        "Europe/Paris",
        "--at",
        "09:00",
        "--starts",
        tomorrow,
        "--rrule",
        "FREQ=DAILY;COUNT=3",
        "--target",
        "acme:mastodon",
        "--text",
        "Morning",
        "--lead-hours",
        # The third occurrence is at most 80 h away (09:00 Paris, two days after tomorrow).
        "96",
        "--json",
        url=sqlite_url,
    )
    assert added.returncode == 0, added.stderr
    rule = orjson.loads(added.stdout)[0]
    listing = herald("rules", "list", url=sqlite_url)
    assert rule["id"] in listing.stdout and all(len(line) <= 80 for line in listing.stdout.splitlines())
    made = herald("rules", "materialise", url=sqlite_url)
    assert "3 occurrences materialised" in made.stdout, made.stderr
    assert "0 occurrences materialised" in herald("rules", "materialise", url=sqlite_url).stdout
    edited = herald(
        "rules", "edit", rule["id"], "--text", "Evening", "--apply-to", "future_materialised", url=sqlite_url
    )
    assert edited.returncode == 0 and "posts already made: 3 changed, 0 canceled" in edited.stdout, edited.stderr
    bad = herald(
        "rules",
        "add",
        "--name",
        "x",
        "--zone",
        "Europe",
        "--at",
        "09:00",
        "--starts",
        tomorrow,
        "--rrule",
        "FREQ=DAILY;COUNT=3",
        "--target",
        "acme:mastodon",
        "--text",
        "x",
        url=sqlite_url,
    )
    assert bad.returncode == 2 and "invalid_timezone" in bad.stderr
    target = herald(
        "rules",
        "add",
        "--name",
        "x",
        "--zone",
        "UTC",
        "--at",
        "09:00",
        "--starts",
        tomorrow,
        "--rrule",
        "FREQ=DAILY;COUNT=3",
        "--target",
        "acme",
        "--text",
        "x",
        url=sqlite_url,
    )
    assert target.returncode == 2 and "invalid_target" in target.stderr


def test_a_queue_from_the_command_line(sqlite_url: str) -> None:
    made = herald(
        "accounts",
        "queue",
        "acme",
        "--zone",
        "Europe/Paris",
        "--slots",
        "mon-sun 09:00,17:00",
        "--gap-minutes",
        "60",
        url=sqlite_url,
    )
    assert made.returncode == 0 and "next free:" in made.stdout, made.stderr
    queued = herald(
        "post", "queue", "--account", "acme", "--platform", "mastodon", "--text", "Hi", "--json", url=sqlite_url
    )
    post = orjson.loads(queued.stdout)["post"]
    assert post["state"] == "queued" and post["due_at"][11:16] in ("08:00", "16:00", "07:00", "15:00")
    second = herald(
        "post", "queue", "--account", "acme", "--platform", "mastodon", "--text", "Ho", "--json", url=sqlite_url
    )
    other = orjson.loads(second.stdout)["post"]
    shown = herald("accounts", "queue-show", "acme", url=sqlite_url)
    assert shown.returncode == 0 and "waiting (2)" in shown.stdout and post["id"] in shown.stdout, shown.stderr
    swapped = herald("accounts", "queue-order", "acme", other["id"], post["id"], url=sqlite_url)
    assert swapped.returncode == 0, swapped.stderr
    moved = orjson.loads(herald("post", "show", other["id"], "--json", url=sqlite_url).stdout)["post"]
    assert moved["due_at"] == post["due_at"]  # the second post now takes the first slot
    short = herald("accounts", "queue-order", "acme", other["id"], url=sqlite_url)
    assert short.returncode == 2 and "queue_order_mismatch" in short.stderr
    mixed = herald("accounts", "queue-shuffle", "acme", "--seed", "3", url=sqlite_url)
    assert mixed.returncode == 0 and "shuffled with seed 3" in mixed.stdout
    bad = herald("accounts", "queue", "acme", "--zone", "UTC", "--slots", "someday 09:00", url=sqlite_url)
    assert bad.returncode == 2 and "invalid_slots" in bad.stderr


def test_an_evergreen_pool_from_the_command_line(sqlite_url: str, tmp_path: object) -> None:
    from pathlib import Path

    queue = herald("accounts", "queue", "acme", "--zone", "UTC", "--slots", "mon-sun 08:00,20:00", url=sqlite_url)
    assert queue.returncode == 0, queue.stderr
    items = Path(str(tmp_path)) / "tips.json"
    items.write_text('[{"key": "a", "variants": ["Tip A", "Tip A, again"]}, {"key": "b", "variants": ["Tip B"]}]')
    added = herald(
        "evergreen", "add", "--name", "tips", "--target", "acme:mastodon", "--items", str(items), url=sqlite_url
    )
    assert added.returncode == 0 and "2 items, each back after 21 days" in added.stdout, added.stderr
    filled = herald("evergreen", "fill", url=sqlite_url)
    assert filled.returncode == 0 and "2 posts recycled into free slots" in filled.stdout, filled.stderr
    assert "0 posts recycled" in herald("evergreen", "fill", url=sqlite_url).stdout
    listing = herald("evergreen", "list", url=sqlite_url)
    assert "2 reuses so far" in listing.stdout and all(len(line) <= 80 for line in listing.stdout.splitlines())
    items.write_text('[{"key": "a"}]')
    bad = herald("evergreen", "add", "--name", "x", "--target", "acme:mastodon", "--items", str(items), url=sqlite_url)
    assert bad.returncode == 2 and "invalid_items" in bad.stderr and "Traceback" not in bad.stderr
