"""`herald report`: the analysts' plots, as PNG files (matplotlib, headless).

- `cadence.png`: posts delivered by weekday and hour, in the zone asked for;
- `lateness.png`: how long after its due time each post went out, per platform;
- `outcomes.png`: posts delivered, failed, partly delivered and canceled per day;
- `failures.png`: failure reasons per day;
- `best_windows.png`: mean interactions (likes, reposts, replies, as the engagement fetcher
  recorded them) of the last 100 posts by the weekday and hour they went out.

Each reads the projections (caught up first): the timeline for the cadence, the stats tables
for the rest, the engagement projection for the best windows.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from projections.facts import utc_text

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

SIZE = (10.0, 6.0)  # inches, at DPI: every plot is 1000 x 600 pixels
DPI = 100
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DELIVERED = ("Delivered", "SettledLive")
DRAWING = threading.Lock()
SAMPLES = 100  # the seed's advice: the last 50 to 100 posts


def report(
    herald: Herald,
    out: Path,
    *,
    zone: ZoneInfo,
    since: datetime | None = None,
    workspace: str | None = None,
    only: str | None = None,
    account: str | None = None,
) -> list[Path]:
    """Write every plot (or `only` the one named) into `out`; return their paths. With
    `workspace`, only its posts are counted, from the timeline alone (the stats tables count
    across workspaces)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from projections.catalog import PROJECTIONS

    for name in ("timeline", "stats", "due_index"):
        herald.runner(PROJECTIONS[name]()).catch_up()
    out.mkdir(parents=True, exist_ok=True)
    found = _by_workspace(herald, workspace, since) if workspace is not None else _overall(herald, since)
    delivered, lateness, outcomes, failures = found
    from infrastructure.persistence.engagement import SqlEngagementView

    herald.runner(PROJECTIONS["engagement"]()).catch_up()
    samples = SqlEngagementView(herald.read_store).samples(workspace, account, SAMPLES)
    draw: dict[str, Callable[[], Path]] = {
        "cadence": lambda: _cadence(out / "cadence.png", delivered, zone),
        "lateness": lambda: _lateness(out / "lateness.png", lateness),
        "outcomes": lambda: _outcomes(out / "outcomes.png", outcomes),
        "failures": lambda: _failures(out / "failures.png", failures),
        "best_windows": lambda: _best_windows(out / "best_windows.png", samples, zone, account),
    }
    with DRAWING:  # pyplot keeps global state: one figure at a time per process
        return [plot() for name, plot in draw.items() if only in (None, name)]


Found = tuple[list[str], list[Any], list[Any], list[Any]]  # delivered instants, lateness, outcomes, failures


def _overall(herald: Herald, since: datetime | None) -> Found:
    day = since.date().isoformat() if since else "0000-00-00"
    with herald.read_store.reading() as cursor:
        marks = ", ".join(["%s"] * len(DELIVERED))
        cursor.execute(f"SELECT at FROM timeline WHERE event IN ({marks}) AND at >= %s", [*DELIVERED, _at(since)])
        delivered = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT platform, seconds FROM post_lateness WHERE day >= %s", [day])
        lateness = cursor.fetchall()
        cursor.execute(
            "SELECT day, SUM(delivered), SUM(failed), SUM(partial), SUM(canceled) FROM post_stats"
            " WHERE day >= %s GROUP BY day ORDER BY day",
            [day],
        )
        outcomes = cursor.fetchall()
        cursor.execute(
            "SELECT day, reason, SUM(failures) FROM post_failures WHERE day >= %s GROUP BY day, reason ORDER BY day",
            [day],
        )
        failures = cursor.fetchall()
    return delivered, lateness, outcomes, failures


ENDINGS = {"Delivered": 1, "SettledLive": 1, "Failed": 2, "PartiallyDelivered": 3, "Canceled": 4}


def _by_workspace(herald: Herald, workspace: str, since: datetime | None) -> Found:
    """The same four from one workspace's timeline rows: each ending, its instant, its due time."""
    marks = ", ".join(["%s"] * len(ENDINGS))
    with herald.read_store.reading() as cursor:
        cursor.execute(
            f"SELECT t.event, t.at, t.reason, d.due_at, d.platform FROM timeline t"
            f" LEFT JOIN due_index d ON d.post_id = t.post_id"
            f" WHERE t.workspace = %s AND t.event IN ({marks}) AND t.at >= %s",
            [workspace, *ENDINGS, _at(since)],
        )
        rows = cursor.fetchall()
    delivered: list[str] = []
    lateness: list[Any] = []
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    failures: Counter[tuple[str, str]] = Counter()
    for event, at, reason, due_at, platform in rows:
        day = at[:10]
        per_day[day][ENDINGS[event] - 1] += 1
        if ENDINGS[event] == 1:
            delivered.append(at)
            if due_at and platform:
                seconds = (datetime.fromisoformat(at) - datetime.fromisoformat(due_at)).total_seconds()
                lateness.append((platform, max(0.0, seconds)))
        elif ENDINGS[event] in (2, 3) and reason:
            failures[(day, reason)] += 1
    outcomes = [(day, *counts) for day, counts in sorted(per_day.items())]
    return delivered, lateness, outcomes, [(day, reason, n) for (day, reason), n in sorted(failures.items())]


def _at(since: datetime | None) -> str:
    return utc_text(since) or ""


def _best_windows(path: Path, samples: list[tuple[datetime, int]], zone: ZoneInfo, account: str | None) -> Path:
    """Mean interactions of the latest posts by the weekday and hour they went out."""
    from domain.engagement import best_windows

    whose = f" of {account}" if account else ""
    figure, axes = _figure(f"Best windows{whose}: mean interactions of the last {SAMPLES} posts ({zone.key})")
    if not samples:
        _empty(axes, "engagement counts")
        return _save(figure, path)
    grid = [[value if value is not None else float("nan") for value in row] for row in best_windows(samples, zone)]
    shown = axes.imshow(grid, aspect="auto", cmap="magma", vmin=0)
    axes.set_yticks(range(7), WEEKDAYS)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel("hour the post went out (blank: no post then)")
    figure.colorbar(shown, ax=axes, label="likes + reposts + replies")
    return _save(figure, path)


def _figure(title: str) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=SIZE, dpi=DPI)
    axes.set_title(title)
    return figure, axes


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=DPI)  # the figure's own size: no tight crop, so the size is known
    plt.close(figure)
    return path


def _empty(axes: Any, what: str) -> None:
    axes.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _cadence(path: Path, delivered: list[str], zone: ZoneInfo) -> Path:
    grid = [[0] * 24 for _ in WEEKDAYS]
    for text in delivered:
        local = datetime.fromisoformat(text).astimezone(zone)
        grid[local.weekday()][local.hour] += 1
    figure, axes = _figure(f"Posts delivered by weekday and hour ({zone.key})")
    if not delivered:
        _empty(axes, "deliveries")
        return _save(figure, path)
    shown = axes.imshow(grid, aspect="auto", cmap="viridis", vmin=0)
    axes.set_yticks(range(7), WEEKDAYS)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel("hour of the day")
    figure.colorbar(shown, ax=axes, label="posts delivered")
    return _save(figure, path)


def _lateness(path: Path, rows: list[Any]) -> Path:
    by_platform: dict[str, list[float]] = defaultdict(list)
    for platform, seconds in rows:
        by_platform[platform].append(float(seconds))
    figure, axes = _figure("Lateness: due time to delivery, per platform (outliers not drawn)")
    if not by_platform:
        _empty(axes, "deliveries")
        return _save(figure, path)
    names = sorted(by_platform)
    labels = [f"{name}\nn={len(by_platform[name])}" for name in names]
    axes.boxplot([by_platform[n] for n in names], tick_labels=labels, showfliers=False)
    axes.set_ylabel("seconds after the due time")
    return _save(figure, path)


def _outcomes(path: Path, rows: list[Any]) -> Path:
    labels = ("delivered", "failed", "partly delivered", "canceled")
    series = {label: {row[0]: int(row[n] or 0) for row in rows} for n, label in enumerate(labels, start=1)}
    return _stacked(path, "Outcomes per day", "posts", series, empty="posts")


def _failures(path: Path, rows: list[Any]) -> Path:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for day, reason, failures in rows:
        counts[reason][day] += int(failures)
    series = {reason: dict(counts[reason]) for reason in sorted(counts)}
    return _stacked(path, "Failure reasons per day", "posts failed", series, empty="failures")


def _stacked(path: Path, title: str, unit: str, series: dict[str, dict[str, int]], *, empty: str) -> Path:
    """One bar per day, each series stacked on the ones before it, in order."""
    figure, axes = _figure(title)
    days = sorted({day for counts in series.values() for day in counts})
    if not days:
        _empty(axes, empty)
        return _save(figure, path)
    bottom = [0] * len(days)
    for label, counts in series.items():
        values = [counts.get(day, 0) for day in days]
        axes.bar(days, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _days_axis(axes, days)
    axes.set_ylabel(unit)
    axes.legend()
    return _save(figure, path)


def _days_axis(axes: Any, days: list[str]) -> None:
    step = max(1, len(days) // 12)
    axes.set_xticks(range(0, len(days), step), days[::step], rotation=45, ha="right")
