"""HTTP for adapters: one request, classified into what the dispatcher can decide on."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from domain.outcomes import Observation, Observed
from infrastructure.targets import PrivateAddressRefused


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


Form = dict[str, tuple[str, bytes, str] | str]  # multipart fields: a string, or (filename, bytes, type)

ANSWER_MAX = 8 * 2**20  # an API's answer is kilobytes; a page of a deep history well under this


class Http:
    def __init__(self, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        form: Form | None = None,
    ) -> Answer | Observed:
        """The platform's answer, or the observation when none came (connect error, timeout).
        `form` sends multipart/form-data: each field a string, or (filename, bytes, type)."""
        sent_headers = {**(headers or {}), **({"Content-Type": content_type} if body is not None else {})}
        data: Any = body
        if form is not None:
            data = aiohttp.FormData()
            for name, value in form.items():
                if isinstance(value, tuple):
                    filename, raw, kind = value
                    data.add_field(name, raw, filename=filename, content_type=kind)
                else:
                    data.add_field(name, value)
        try:
            async with self.session.request(
                method,
                url,
                headers=sent_headers,
                data=data,
                params=params,
                timeout=self.timeout,
                allow_redirects=False,  # an API answers; a redirect could lead anywhere (private addresses)
            ) as answer:
                got = await _capped(answer)
                if got is None:  # the request was taken; what it did is unknown: the reconciler looks
                    answer.close()
                    return Observed(
                        kind=Observation.TIMEOUT_AFTER_SEND,
                        http_status=answer.status,
                        message=f"the answer ran past {ANSWER_MAX // 2**20} MiB; not read",
                    )
                try:
                    parsed = orjson.loads(got) if got else {}
                except orjson.JSONDecodeError:
                    parsed = {"raw": got[:200].decode(errors="replace")}
                return Answer(answer.status, parsed, {k.lower(): v for k, v in answer.headers.items()})
        except (aiohttp.ClientConnectorError, PrivateAddressRefused) as problem:
            return Observed(kind=Observation.CONNECT_ERROR, message=str(problem)[:200])
        except (TimeoutError, aiohttp.ClientError) as problem:
            return Observed(kind=Observation.TIMEOUT_AFTER_SEND, message=type(problem).__name__)


async def _capped(answer: aiohttp.ClientResponse) -> bytes | None:
    """The answer's body, or None once it runs past ANSWER_MAX. A Mastodon or Bluesky host is
    the user's choice, and an endless or gzip-bombed answer read whole would take the
    dispatcher's memory, and with it every tenant's posts. Read from the stream, so the cap
    counts bytes after decompression, not the Content-Length."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await answer.content.read(ANSWER_MAX + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > ANSWER_MAX:
            return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def reset_at(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """When a 429's wait ends, from its header: Unix seconds (X, Bluesky), an ISO 8601 instant
    (Mastodon; one without a zone read as UTC), or with `now`, seconds from now (Retry-After).
    None for anything else, or past the calendar's end: the policy's backoff waits instead. A
    host may send anything, and a naive or unrepresentable instant broke the whole batch's
    record."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()):
        return instant(text) if now is None else None
    try:
        return now + timedelta(seconds=int(text)) if now else datetime.fromtimestamp(int(text), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def epoch_ms(value: Any) -> datetime | None:
    """An instant a platform wrote as milliseconds since 1970 (LinkedIn), or None if it is not one."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def instant(text: str) -> datetime | None:
    """An ISO 8601 instant a platform wrote (no zone: UTC), or None if it is not one."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def json_body(value: Any) -> bytes:
    """Deterministic JSON: the same intent always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def observed(
    answer: Answer, kind: Observation, code: str | None = None, message: str | None = None, **extra: Any
) -> Observed:
    return Observed(kind=kind, http_status=answer.status, platform_code=code, message=message, **extra)


def by_status(
    answer: Answer, code: str | None, message: str | None, retry_at: datetime | None, part: int | None = None
) -> Observed:
    """The outcome table for an error answer: 429 waits, 5xx retries, 401 revoked, 4xx rejected."""
    if answer.status == 429:
        return observed(answer, Observation.RATE_LIMITED, code, message, retry_at=retry_at, part=part)
    if answer.status >= 500:
        return observed(answer, Observation.SERVER_ERROR, code, message, part=part)
    if answer.status == 401:
        return observed(answer, Observation.AUTH_REVOKED, code, message, part=part)
    return observed(answer, Observation.REJECTED, code, message, part=part)


def at_part(seen: Answer | Observed, part: int) -> Observed | None:
    """The transport's own observation (no answer came), for one part; None if there is an answer."""
    return seen.model_copy(update={"part": part}) if isinstance(seen, Observed) else None


def fingerprint(text: str) -> str:
    """Text as platforms echo it back: NFC, trimmed, whitespace folded, hashed."""
    folded = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(folded.encode()).hexdigest()
