"""`herald media` as a user meets it, in a real process on a real SQLite file: a file added
once by its bytes, listed, described, used by a post, refused deletion while in use, and one
clear line (exit 2) for a file that is no picture."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson

from tests import media
from tests.processes import HERALD


def herald(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HERALD_DATABASE_URL": url, "HERALD_PLATFORM_URL": "http://127.0.0.1:9", "COLUMNS": "80"}
    return subprocess.run([*HERALD, *args], env=environ, capture_output=True, text=True, timeout=60)


def test_media_from_adding_to_deleting(sqlite_url: str, tmp_path: Path) -> None:
    picture = tmp_path / "harbour.png"
    picture.write_bytes(media.image(1080, 1080, fmt="PNG"))
    added = herald("media", "add", str(picture), "--alt", "The harbour at dawn", "--json", url=sqlite_url)
    assert added.returncode == 0, added.stderr
    [item] = orjson.loads(added.stdout)
    again = herald("media", "add", str(picture), "--json", url=sqlite_url)
    assert orjson.loads(again.stdout)[0]["id"] == item["id"]  # the same bytes, the same media
    listing = herald("media", "list", url=sqlite_url)
    assert item["id"] in listing.stdout and "The harbour at dawn" in listing.stdout
    assert all(len(line) <= 80 for line in listing.stdout.splitlines())
    described = herald("media", "describe", item["id"], "--alt", "The harbour at noon", url=sqlite_url)
    assert described.returncode == 0 and "The harbour at noon" in described.stdout
    scheduled = herald(
        "post",
        "schedule",
        *("--account", "acme", "--platform", "mastodon", "--text", "A picture"),
        *("--media", item["id"], "--first-comment", "#harbour", "--at", "2030-01-01T09:00Z"),
        url=sqlite_url,
    )
    assert scheduled.returncode == 0, scheduled.stderr
    refused = herald("media", "delete", item["id"], url=sqlite_url)
    assert refused.returncode == 2 and "media_in_use" in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error media_in_use (media_id): ")  # one message, wrapped at 80


def test_a_file_that_is_no_picture_is_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    paper = tmp_path / "report.pdf"
    paper.write_bytes(b"%PDF-1.4 not a picture")
    refused = herald("media", "add", str(paper), url=sqlite_url)
    assert refused.returncode == 2 and "media_unreadable" in refused.stderr, refused.stderr
    missing = herald("media", "add", str(tmp_path / "nowhere.png"), url=sqlite_url)
    assert missing.returncode == 2 and "file_unreadable" in missing.stderr and "nowhere.png" in missing.stderr
    unknown = herald("media", "show", "not-an-id", url=sqlite_url)
    assert unknown.returncode == 2 and "media_not_found" in unknown.stderr
