"""Bulk import: many rows of posts, checked first, then committed in chunks, each row once.

Every row is checked before anything is written (its platform, its time, its content against
the platform, its account), and each bad row is reported with its line, field and reason.
Then all rows are committed, or none (unless `partial`: only the good ones). Each row's post
id derives from the workspace and the row's key (a `key` column, else the row's own content
and how many identical rows came before it), so an import run again, after a crash halfway
or by mistake, makes no post twice: rows whose post exists already are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.content import Content, MediaRef, Platform
from domain.errors import HeraldError
from domain.instants import require_due
from services.plans import Assessment, PlanItem, assess
from services.ports import EventLog
from services.posts import PostCommands

IMPORTS = uuid.UUID("3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7")
CHUNK = 500  # rows per transaction
FIELDS = ("account", "platform", "text", "scheduled_at", "timezone", "external_id", "category", "media", "key")

Instant = Callable[[str, str | None], datetime]  # (text, IANA zone or None) → UTC, refusing what is unclear
Progress = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass(frozen=True)
class Row:
    line: int
    post_id: UUID
    account: str
    platform: Platform
    content: Content
    at: datetime
    external_id: str | None
    category: str | None


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str


@dataclass
class Checked:
    rows: list[Row] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    assessment: Assessment | None = None


@dataclass(frozen=True)
class Committed:
    made: int
    skipped: int  # made by an earlier run of the same import


class FileUnreadable(HeraldError):
    code = "file_unreadable"
    field = "file"


def read_records(raw: bytes, kind: str, name: str = "the file") -> list[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV file with a header row, or (position, object) of a JSON list of
    objects; `FileUnreadable` saying why when it is neither."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileUnreadable(f"{name} is not UTF-8 text") from None
    if kind == "json":
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as problem:
            raise FileUnreadable(f"{name} is not JSON: {problem}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise FileUnreadable(f"{name} must hold a JSON list of objects, one per post")
        return [(n, item) for n, item in enumerate(items, start=1)]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        for record in reader:
            if None in record:  # more cells than the header names
                raise FileUnreadable(f"{name} line {reader.line_num}: more cells than the header has columns")
            rows.append((reader.line_num, dict(record)))
    except csv.Error as problem:
        raise FileUnreadable(f"{name} line {reader.line_num}: {problem}") from None
    return rows


class ImportRefused(HeraldError):
    code = "import_invalid"
    field = "rows"


class Importer:
    def __init__(self, events: EventLog, *, posts: PostCommands, instant: Instant) -> None:
        self.events = events
        self.posts = posts
        self.instant = instant

    def check(
        self, workspace: str, records: Iterable[tuple[int, dict[str, Any]]], *, known: Callable[[str, str], bool]
    ) -> Checked:
        """Read and check every row; `known(account, platform)` says whether posts may name it."""
        found = Checked()
        seen: dict[str, int] = {}
        for line, record in records:
            try:
                row = self._row(workspace, line, record, seen, known)
            except HeraldError as refusal:
                found.bad.append(BadRow(line, refusal.field or "row", refusal.message))
                continue
            found.rows.append(row)
        items = [PlanItem(r.account, r.platform, r.content, r.at) for r in found.rows]
        found.assessment = assess(items, workspace, self.posts.rules, self.posts.booking, checked=True)
        return found

    def commit(self, workspace: str, checked: Checked, *, partial: bool, progress: Progress | None = None) -> Committed:
        """Write the checked rows in chunks; all or none unless `partial`. Rows whose post exists
        already (an earlier run of this import) are skipped."""
        if checked.bad and not partial:
            first = checked.bad[0]
            raise ImportRefused(
                f"{len(checked.bad)} bad rows (line {first.line}, {first.field}: {first.reason}); nothing was "
                "written; mend them, or import the good rows only (partial)"
            )
        made = skipped = 0
        rows = checked.rows
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            existing = set(self.events.get_many([r.post_id for r in chunk]))
            todo = [r for r in chunk if r.post_id not in existing]
            if todo:
                self.posts.schedule_many(
                    [
                        {
                            "account": r.account,
                            "platform": r.platform,
                            "content": r.content,
                            "scheduled_at": r.at,
                            "external_id": r.external_id,
                            "workspace": workspace,
                            "post_id": r.post_id,
                            "category": r.category,
                        }
                        for r in todo
                    ]
                )
            made, skipped = made + len(todo), skipped + len(chunk) - len(todo)
            if progress is not None:
                progress(start + len(chunk), len(rows))
        return Committed(made=made, skipped=skipped)

    def _row(
        self,
        workspace: str,
        line: int,
        record: dict[str, Any],
        seen: dict[str, int],
        known: Callable[[str, str], bool],
    ) -> Row:
        values = {k: str(v).strip() if v is not None else "" for k, v in record.items()}
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise HeraldError(f"unknown column {unknown[0]!r}; columns are {', '.join(FIELDS)}", field=unknown[0])
        for name in ("account", "platform", "text", "scheduled_at"):
            if not values.get(name):
                raise HeraldError(f"{name} is missing", field=name)
        try:
            platform = Platform(values["platform"])
        except ValueError:
            raise HeraldError(
                f"{values['platform']!r} is not a platform ({', '.join(p.value for p in Platform)})", field="platform"
            ) from None
        at = require_due(self.instant(values["scheduled_at"], values.get("timezone") or None))
        if at < self.posts.clock():
            raise HeraldError(f"{values['scheduled_at']} is in the past", field="scheduled_at")
        media = tuple(MediaRef(ref=ref.strip()) for ref in values.get("media", "").split(";") if ref.strip())
        content = Content(text=values["text"], media=media)
        content.check_characters()
        content.check_not_empty()
        if not known(values["account"], platform.value):
            raise HeraldError(f"no {platform.value} account {values['account']!r} in this workspace", field="account")
        self.posts.check_content(platform, content, workspace, values["account"])
        key = values.get("key") or self._derived_key(values, seen)
        return Row(
            line=line,
            post_id=uuid.uuid5(IMPORTS, f"{workspace}/{key}"),
            account=values["account"],
            platform=platform,
            content=content,
            at=at,
            external_id=values.get("external_id") or None,
            category=values.get("category") or None,
        )

    @staticmethod
    def _derived_key(values: dict[str, str], seen: dict[str, int]) -> str:
        """The row's content, and how many identical rows came before it in the file."""
        digest = hashlib.sha256(
            "\x1f".join(values.get(name, "") for name in FIELDS if name != "key").encode()
        ).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        return f"{digest}/{seen[digest]}"
