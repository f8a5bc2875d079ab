"""`herald timeline`, `herald stats` and `herald replay` as a user runs them."""

from __future__ import annotations

import json

import pytest

from infrastructure.bootstrap import bootstrap
from tests.generate import generate
from tests.integration.test_cli import herald


@pytest.fixture
def filled(store_url: str) -> tuple[str, str, str]:
    service = bootstrap(store_url)
    generate(service, 600, accounts=5)
    (first,) = service.events.recorder.select_notifications(start=1, limit=1)
    post = service.posts.get_post(first.originator_id)
    service.close()
    return store_url, str(post.id), str(post.external_id)


def test_timeline_by_id_and_by_external_id_as_json(filled: tuple[str, str, str]) -> None:
    url, post_id, external_id = filled
    by_id = json.loads(herald("timeline", post_id, "--json", url=url).stdout)
    by_ext = json.loads(herald("timeline", "--external-id", external_id, "--json", url=url).stdout)
    assert by_id == by_ext
    assert by_id["summary"]["state"] in ("delivered", "failed", "canceled")
    assert by_id["events"][0]["event"] == "Drafted"
    assert all(event["explanation"] for event in by_id["events"])


def test_timeline_as_of_shows_the_post_as_it_stood(filled: tuple[str, str, str]) -> None:
    url, post_id, _ = filled
    full = json.loads(herald("timeline", post_id, "--json", url=url).stdout)["events"]
    second = full[1]["at"]
    past = json.loads(herald("timeline", post_id, "--as-of", second, "--json", url=url).stdout)
    assert [e["event"] for e in past["events"]] == [e["event"] for e in full if e["at"] <= second]
    assert past["summary"]["state"] == "queued"


def test_the_human_timeline_shows_zone_and_sentences(filled: tuple[str, str, str]) -> None:
    url, post_id, _ = filled
    shown = herald("timeline", post_id, "--zone", "Asia/Tokyo", url=url)
    assert shown.returncode == 0 and "Asia/Tokyo" in shown.stdout and "JST" in shown.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["timeline", "00000000-0000-4000-8000-000000000000"], "post_not_found"),
        (["timeline", "--external-id", "nope"], "post_not_found"),
        (["timeline", "x", "--zone", "Mars/Base"], "invalid_timezone"),
        (["timeline", "x", "--as-of", "yesterday"], "invalid_instant"),
        (["replay", "nothing"], "unknown_projection"),
    ],
)
def test_bad_input_is_one_line_with_its_code(sqlite_url: str, args: list[str], code: str) -> None:
    result = herald(*args, url=sqlite_url)
    assert result.returncode == 2 and code in result.stderr and "Traceback" not in result.stderr


def test_stats_and_replay(filled: tuple[str, str, str]) -> None:
    url, _, _ = filled
    before = json.loads(herald("stats", "--json", url=url).stdout)
    replayed = herald("replay", "stats", url=url)
    assert replayed.returncode == 0 and "swapped in" in replayed.stdout
    assert json.loads(herald("stats", "--json", url=url).stdout) == before
    assert sum(entry["scheduled"] for entry in before) > 0
    until = herald("replay", "timeline", "--until", "2026-11-05T00:00:00Z", url=url)
    assert until.returncode == 0 and "timeline_asof" in until.stdout
