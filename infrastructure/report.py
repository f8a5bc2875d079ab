"""`herald report`: the analysts' plots, as PNG files (matplotlib, headless).

- `cadence.png`: posts delivered by weekday and hour, in the zone asked for;
- `lateness.png`: how long after its due time each post went out, per platform;
- `outcomes.png`: posts delivered, failed, partly delivered and canceled per day;
- `failures.png`: failure reasons per day.

Each reads the projections (caught up first): the timeline for the cadence, the stats tables
for the rest. The engagement heatmap ("best windows") waits for engagement counts, which
Herald does not fetch yet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

SIZE = (10.0, 6.0)  # inches, at DPI: every plot is 1000 x 600 pixels
DPI = 100
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DELIVERED = ("Delivered", "SettledLive")


def report(herald: Herald, out: Path, *, zone: ZoneInfo, since: datetime | None = None) -> list[Path]:
    """Write every plot into `out`; return their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from projections.catalog import PROJECTIONS

    for name in ("timeline", "stats"):
        herald.runner(PROJECTIONS[name]()).catch_up()
    out.mkdir(parents=True, exist_ok=True)
    day = since.date().isoformat() if since else "0000-00-00"
    at = since.strftime("%Y-%m-%dT%H:%M:%S") if since else ""
    with herald.read_store.reading() as cursor:
        marks = ", ".join(["%s"] * len(DELIVERED))
        cursor.execute(f"SELECT at FROM timeline WHERE event IN ({marks}) AND at >= %s", [*DELIVERED, at])
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
    return [
        _cadence(out / "cadence.png", delivered, zone),
        _lateness(out / "lateness.png", lateness),
        _outcomes(out / "outcomes.png", outcomes),
        _failures(out / "failures.png", failures),
    ]


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
    shown = axes.imshow(grid, aspect="auto", cmap="viridis")
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
    figure, axes = _figure("Outcomes per day")
    if not rows:
        _empty(axes, "posts")
        return _save(figure, path)
    days = [row[0] for row in rows]
    bottom = [0] * len(days)
    for column, label in ((1, "delivered"), (2, "failed"), (3, "partly delivered"), (4, "canceled")):
        values = [int(row[column] or 0) for row in rows]
        axes.bar(days, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _days_axis(axes, days)
    axes.set_ylabel("posts")
    axes.legend()
    return _save(figure, path)


def _failures(path: Path, rows: list[Any]) -> Path:
    figure, axes = _figure("Failure reasons per day")
    if not rows:
        _empty(axes, "failures")
        return _save(figure, path)
    days = sorted({row[0] for row in rows})
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for day, reason, failures in rows:
        counts[reason][day] += int(failures)
    bottom = [0] * len(days)
    for reason in sorted(counts):
        values = [counts[reason][d] for d in days]
        axes.bar(days, values, bottom=bottom, label=reason)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _days_axis(axes, days)
    axes.set_ylabel("posts failed")
    axes.legend()
    return _save(figure, path)


def _days_axis(axes: Any, days: list[str]) -> None:
    step = max(1, len(days) // 12)
    axes.set_xticks(range(0, len(days), step), days[::step], rotation=45, ha="right")
