"""Log lines as an operator reads them: one JSON object per line for a log shipper, with the
request being handled, the line's own fields and any exception's traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from infrastructure import logs


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    written = io.StringIO()
    logs.configure("info", {"HERALD_LOG_FORMAT": "json"})
    root.handlers[0].setStream(written)  # type: ignore[attr-defined]
    yield written
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.unbind_request()


def _records(written: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in written.getvalue().splitlines()]


def test_a_line_carries_the_request_it_was_logged_in_unless_it_names_its_own(lines: io.StringIO) -> None:
    log = logging.getLogger("herald.test")
    logs.bind_request("req-7")
    log.info("post %s created", "p-1", extra={"post_id": "p-1"})
    log.info("attempt answered", extra={"request_id": "publish-key-1"})
    logs.unbind_request()
    log.warning("after the request")

    created, answered, after = _records(lines)
    assert created["event"] == "post p-1 created" and created["request_id"] == "req-7"
    assert created["post_id"] == "p-1" and created["level"] == "info" and created["logger"] == "herald.test"
    assert answered["request_id"] == "publish-key-1"  # the attempt's own publish key wins
    assert "request_id" not in after and after["level"] == "warning"
    assert all(str(record["timestamp"]).endswith("Z") for record in (created, answered, after))


def test_an_exception_line_carries_its_traceback(lines: io.StringIO) -> None:
    try:
        raise ValueError("the stored event does not decode")
    except ValueError:
        logging.getLogger("herald.test").exception("fold failed", extra={"position": 12})

    (record,) = _records(lines)
    assert record["level"] == "error" and record["position"] == 12
    assert "ValueError: the stored event does not decode" in str(record["exception"])


def test_the_console_format_reads_as_text_with_the_traceback_below(lines: io.StringIO) -> None:
    logs.configure("info", {})
    written = io.StringIO()
    logging.getLogger().handlers[0].setStream(written)  # type: ignore[attr-defined]
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("herald.test").exception("fold failed", extra={"position": 12})

    first, *rest = written.getvalue().splitlines()
    assert "[error" in first and "fold failed" in first and "position=12" in first
    assert not first.startswith("{") and "ValueError: boom" in rest[-1]
