"""The analysts' tools as an analyst runs them: `herald export` writes Parquet and CSV files
that read back with every row (as of an instant, by workspace), and `herald report` writes
each plot as a valid PNG of the documented size, on both stores."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from domain.content import Content, Platform
from domain.post import Post
from infrastructure.bootstrap import bootstrap
from projections.timeline import COLUMNS as TIMELINE
from tests.generate import generate
from tests.integration.test_cli import herald


@pytest.fixture
def filled(store_url: str) -> str:
    service = bootstrap(store_url)
    generate(service, 1500, accounts=5)
    service.close()
    return store_url


def _count(url: str, table: str, where: str = "", params: tuple[object, ...] = ()) -> int:
    service = bootstrap(url)
    try:
        with service.read_store.reading() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}{where}", list(params))
            return int(cursor.fetchone()[0])
    finally:
        service.close()


def test_every_export_reads_back_whole(filled: str, tmp_path: Path) -> None:
    for what, table in (
        ("timeline", "timeline"),
        ("stats", "post_stats"),
        ("posts", "post_list"),
        ("due_index", "due_index"),
    ):
        target = tmp_path / f"{what}.parquet"
        done = herald("export", what, "--out", str(target), url=filled)
        assert done.returncode == 0, done.stderr
        rows = pq.read_table(target).num_rows
        assert rows == _count(filled, table) > 0 and f"wrote {rows} rows of {what}" in done.stdout
    timeline = pq.read_table(tmp_path / "timeline.parquet")
    assert str(timeline.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert set(timeline.column("event").to_pylist()) >= {"Drafted", "Scheduled", "Delivered"}

    as_csv = tmp_path / "timeline.csv"
    assert herald("export", "timeline", "--format", "csv", "--out", str(as_csv), url=filled).returncode == 0
    with as_csv.open(newline="") as source:
        lines = list(csv.DictReader(source))
    assert len(lines) == timeline.num_rows and lines[0]["post_id"] and lines[0]["event"] == "Drafted"
    # rows are exported whole, as support reads them: the sentence and the columns read from each event
    assert lines[0]["explanation"].startswith("drafted for") and set(timeline.column_names) == set(TIMELINE)
    delivered = [line for line in lines if line["event"] == "Delivered"]
    assert delivered and all(line["remote_id"] and line["attempt"] for line in delivered)


def test_an_export_as_of_an_instant_holds_only_what_had_happened(filled: str, tmp_path: Path) -> None:
    at = "2026-11-05T00:00:00+00:00"
    assert herald("export", "timeline", "--out", str(tmp_path / "now.parquet"), url=filled).returncode == 0
    target = tmp_path / "then.parquet"
    done = herald("export", "timeline", "--as-of", at, "--out", str(target), url=filled)
    assert done.returncode == 0, done.stderr
    then = pq.read_table(target)
    limit = datetime.fromisoformat(at)
    assert 0 < then.num_rows < _count(filled, "timeline")
    assert max(then.column("at").to_pylist()) <= limit
    assert then.num_rows == _count(filled, "timeline", " WHERE at <= %s", ("2026-11-05T00:00:00.000000Z",))


def test_an_export_by_workspace_and_its_refusals(store_url: str, tmp_path: Path) -> None:
    service = bootstrap(store_url)
    now = datetime.now(UTC)
    for workspace, text in (("w-a", '=HYPERLINK("http://evil")'), ("w-b", "plain")):
        post = Post.draft(
            post_id=uuid.uuid4(),
            workspace=workspace,
            account="acme",
            platform=Platform.MASTODON,
            content=Content(text=text),
            external_id=text if workspace == "w-a" else None,
            grace=timedelta(hours=1),
            freeze=timedelta(0),
            now=now,
        )
        service.events.save(post)
    service.close()
    target = tmp_path / "a.csv"
    done = herald("export", "posts", "--workspace", "w-a", "--format", "csv", "--out", str(target), url=store_url)
    assert done.returncode == 0, done.stderr
    with target.open(newline="") as source:
        (row,) = list(csv.DictReader(source))
    assert row["workspace"] == "w-a"
    assert row["external_id"].startswith("'=")  # a spreadsheet shows it, never runs it

    refused = herald("export", "stats", "--workspace", "w-a", url=store_url)
    assert refused.returncode == 2 and "export_refused" in refused.stderr and "Traceback" not in refused.stderr
    wrong = herald("export", "nothing", url=store_url)
    assert wrong.returncode == 2 and "timeline" in wrong.stderr


def test_the_report_writes_each_plot_as_a_png_of_its_size(filled: str, tmp_path: Path) -> None:
    done = herald("report", "--out", str(tmp_path / "plots"), "--zone", "Europe/Paris", url=filled)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["best_windows.png", "cadence.png", "failures.png", "lateness.png", "outcomes.png"]
    for name in names:
        path = tmp_path / "plots" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.size == (1000, 600) and image.format == "PNG"


def test_a_report_of_one_workspace_counts_its_posts_only(filled: str, tmp_path: Path) -> None:
    mine = herald("report", "--out", str(tmp_path / "w1"), "--workspace", "w1", url=filled)  # generate's workspace
    none = herald("report", "--out", str(tmp_path / "other"), "--workspace", "someone-else", url=filled)
    assert mine.returncode == 0 and none.returncode == 0, (mine.stderr, none.stderr)
    for name in ("cadence", "lateness", "outcomes", "failures"):  # (no engagement fetched here)
        with (
            Image.open(tmp_path / "w1" / f"{name}.png") as drawn,
            Image.open(tmp_path / "other" / f"{name}.png") as empty,
        ):
            assert drawn.size == empty.size == (1000, 600)
            assert drawn.tobytes() != empty.tobytes()  # w1's posts drawn; the other has none ("no … yet")


def test_the_report_on_an_empty_store_still_draws_and_says_so(sqlite_url: str, tmp_path: Path) -> None:
    done = herald("report", "--out", str(tmp_path), url=sqlite_url)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.png"))) == 5 and "best_windows.png" in done.stdout
    bad = herald("report", "--out", str(tmp_path), "--zone", "Mars/Olympus", url=sqlite_url)
    assert bad.returncode == 2 and "IANA" in bad.stderr


# the export's own peak: VmHWM belongs to the process's memory after exec (ru_maxrss would
# also count the forked copy of the test runner before it)
PEAK = (
    "print('peak_kb', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr)"
)


@pytest.mark.slow
def test_exporting_a_million_events_stays_under_300_mb(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/million.db"
    env = {**os.environ, "HERALD_DATABASE_URL": url}
    made = [sys.executable, "-m", "tests.generate", "--events", "1000000"]  # in its own process too
    subprocess.run(made, env=env, capture_output=True, text=True, timeout=900, check=True)
    for kind in ("parquet", "csv"):
        code = (
            "import sys; from infrastructure.cli import main; "
            f"rc = main(['export', 'timeline', '--format', '{kind}', '--out', sys.argv[1]]); {PEAK}; sys.exit(rc)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / f"t.{kind}")],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        peak_mb = int(done.stderr.split("peak_kb")[-1].split()[0]) / 1024
        print(f"export timeline {kind}: peak {peak_mb:.0f} MB resident")
        assert peak_mb < 300
    assert pq.read_table(tmp_path / "t.parquet").num_rows >= 1_000_000
