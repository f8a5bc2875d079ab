"""`herald export`: a projection's rows to a Parquet or CSV file, for analysts.

The rows are read in pages by their primary key (keyset pagination: one short query per
page, on either store) and written page by page, as Parquet row groups (pyarrow) or CSV
lines, to a temporary file renamed into place at the end: memory stays flat whatever the
table's size, and a file that exists is whole. With `as_of`, the projection is first replayed
up to that instant into its `_asof` tables (`herald replay --until`) and those are exported.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError
from infrastructure.persistence.timeline import show, with_events
from projections.stats import COUNTERS
from projections.timeline import COLUMNS as TIMELINE

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

PAGE = 10_000


@dataclass(frozen=True)
class Export:
    """One exportable table: the projection that keeps it and its primary key."""

    projection: str
    table: str
    key: tuple[str, ...]
    workspace_column: bool = True


EXPORTS = {
    "timeline": Export("timeline", "timeline", ("post_id", "version")),
    "due_index": Export("due_index", "due_index", ("post_id",)),
    "posts": Export("post_list", "post_list", ("post_id",)),
    "stats": Export("stats", "post_stats", ("account", "platform", "day"), workspace_column=False),
    "failures": Export("stats", "post_failures", ("account", "platform", "day", "reason"), workspace_column=False),
    "lateness": Export("stats", "post_lateness", ("post_id",), workspace_column=False),
}
FORMATS = ("parquet", "csv")
INTEGERS = {"created", "version", "attempt", "http_status", "failures", *COUNTERS}
FLOATS = {"seconds"}
INSTANTS = {"at", "due_at", "not_before", "deadline", "lease_until", "changed_at"}  # UTC, stored as ISO text


class ExportRefused(HeraldError):
    code = "export_refused"
    field = "what"


def export(
    herald: Herald,
    what: str,
    out: Path,
    *,
    kind: str = "parquet",
    as_of: datetime | None = None,
    workspace: str | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Write `what` to `out`; return the rows written. `progress(rows, total)` per page."""
    from projections.catalog import PROJECTIONS

    if what not in EXPORTS:
        raise ExportRefused(f"{what!r} cannot be exported; choose from {', '.join(EXPORTS)}")
    if kind not in FORMATS:
        problem = ExportRefused(f"format {kind!r}: choose {' or '.join(FORMATS)}")
        problem.field = "format"
        raise problem
    if workspace is not None and not EXPORTS[what].workspace_column:
        problem = ExportRefused(f"{what} is counted across workspaces; export it without --workspace")
        problem.field = "workspace"
        raise problem
    spec = EXPORTS[what]
    projection = PROJECTIONS[spec.projection]()
    runner = herald.runner(projection)
    table = spec.table
    if as_of is None:
        runner.catch_up()
    else:
        from infrastructure.persistence.replay import replay

        replay(herald.projections, projection, until=as_of)
        table += "_asof"
    where = (" WHERE workspace = %s", [workspace]) if workspace is not None else ("", [])
    with herald.read_store.reading() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}{where[0]}", where[1])
        total = int(cursor.fetchone()[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    written = 0
    pages = _pages(herald, table, spec.key, workspace)
    try:
        write = _parquet if kind == "parquet" else _csv
        for rows in write(partial, pages):
            written += rows
            progress(written, total)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _pages(
    herald: Herald, table: str, key: tuple[str, ...], workspace: str | None
) -> Iterator[tuple[list[str], list[Any]]]:
    """(columns, rows) page by page, in key order. Timeline rows are shown whole, from
    their events, as support reads them (`infrastructure.persistence.timeline.show`)."""
    shown = table.startswith("timeline")
    alias = "t." if shown else ""
    order = ", ".join(alias + k for k in key)
    after: tuple[Any, ...] | None = None
    while True:
        clauses, params = [], []
        if workspace is not None:
            clauses.append(f"{alias}workspace = %s")
            params.append(workspace)
        if after is not None:
            clauses.append(f"({order}) > ({', '.join(['%s'] * len(key))})")
            params.extend(after)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with herald.read_store.reading() as cursor:
            if shown:
                cursor.execute(
                    f"{with_events(herald.read_store.dialect, table)}{where} ORDER BY {order} LIMIT {PAGE}", params
                )
                columns = list(TIMELINE)
                rows = [[whole[c] for c in TIMELINE] for whole in show(herald.events.mapper, cursor.fetchall())]
            else:
                found = cursor.execute(f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT {PAGE}", params)
                columns = [d[0] for d in found.description]
                rows = cursor.fetchall()
        if not rows:
            if after is None:
                yield columns, []  # an empty table still gives a file with its columns
            return
        yield columns, rows
        positions = [columns.index(k) for k in key]
        after = tuple(rows[-1][i] for i in positions)
        if len(rows) < PAGE:
            return


def _parquet(path: Path, pages: Iterator[tuple[list[str], list[Any]]]) -> Iterator[int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for columns, rows in pages:
            if writer is None:
                schema = pa.schema([(c, _arrow_type(pa, c)) for c in columns])
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            arrays = [_column(pa, [row[i] for row in rows], schema.field(i).type) for i in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            yield len(rows)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: still a valid file, with no columns to guess
        pq.write_table(pa.table({}), path)


def _column(pa: Any, values: list[Any], kind: Any) -> Any:
    """Instants are kept as text in the tables; Parquet gets them as UTC timestamps."""
    if pa.types.is_timestamp(kind):
        return pa.array(values, type=pa.string()).cast(kind)
    return pa.array(values, type=kind)


def _arrow_type(pa: Any, column: str) -> Any:
    if column in INSTANTS:
        return pa.timestamp("us", tz="UTC")
    if column in INTEGERS:
        return pa.int64()
    if column in FLOATS:
        return pa.float64()
    return pa.string()


def _csv(path: Path, pages: Iterator[tuple[list[str], list[Any]]]) -> Iterator[int]:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        header = False
        for columns, rows in pages:
            if not header:
                writer.writerow(columns)
                header = True
            writer.writerows([[_cell(value) for value in row] for row in rows])
            yield len(rows)


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (OWASP's CSV injection) is quoted;
    Parquet keeps every value as it is."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
