"""A platform host that answers without end. Mastodon and Bluesky accounts name their own
instance, so the answer may come from anyone: an endless body, a large one, or a gzip bomb.
Herald reads no more than `ANSWER_MAX` of it, keeps its memory, and records the attempt as
one whose fate is unknown (the reconciler looks), never as refused. A 429's reset header,
whatever a host writes in it, is read as an instant in UTC or left to the backoff; a date in a
look-up's listing (Mastodon's `created_at`, LinkedIn's `createdAt`) that cannot be read keeps
the post as if in the window; and a refresh that got no answer is told from a refused one."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import aiohttp
import pytest
from aiohttp import web

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search, Upload
from infrastructure.platforms.adapters.linkedin import LinkedInAdapter
from infrastructure.platforms.adapters.mastodon import MastodonAdapter
from infrastructure.platforms.http import ANSWER_MAX, Answer, Http, reset_at
from infrastructure.platforms.lookups import refresh_refused
from services.ports import AccountAccess, RefreshFailed, RefreshUnanswered
from tests import loopback

MIB = 2**20
BOMB = gzip.compress(b"\0" * (8 * ANSWER_MAX), compresslevel=9)  # ~64 KiB that inflates to 64 MiB


async def endless(request: web.Request) -> web.StreamResponse:
    answer = web.StreamResponse(headers={"Content-Type": "application/json"})
    await answer.prepare(request)
    with_chunk = b"[" + b"0," * (MIB // 2)
    while True:  # until the client hangs up
        await answer.write(with_chunk)


async def large(_: web.Request) -> web.Response:
    return web.Response(body=b" " * (ANSWER_MAX + MIB), content_type="application/json")


async def bomb(_: web.Request) -> web.Response:
    return web.Response(body=BOMB, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})


async def fine(_: web.Request) -> web.Response:
    return web.json_response({"id": "1", "url": "https://example.social/@acme/1"})


class Progress:
    async def container(self, part: int, container_id: str) -> None: ...

    async def part_live(self, part: RemotePart) -> None: ...

    async def uploaded(self, part: int, index: int, upload: Upload) -> None: ...

    async def first_comment(self, remote: RemotePart | None, observed: Observed | None) -> None: ...


async def statuses(_: web.Request) -> web.Response:
    """An account's statuses, newest first, dated the way a careless instance might."""
    return web.json_response(
        [
            {"id": "3", "content": "<p>Hello from Herald</p>", "created_at": "2999-01-01T00:00:00"},  # no zone
            {"id": "2", "content": "<p>an aside</p>", "created_at": "yesterday-ish"},
            {"id": "1", "content": "<p>an old one</p>", "created_at": "2001-01-01T00:00:00"},
        ]
    )


async def posts(_: web.Request) -> web.Response:
    """A LinkedIn member's posts, newest first, `createdAt` in milliseconds when it is readable."""
    return web.json_response(
        {
            "elements": [
                {"id": "urn:li:share:3", "commentary": "Hello from Herald", "createdAt": "soon"},
                {"id": "urn:li:share:2", "commentary": "an aside"},  # no date at all
                {"id": "urn:li:share:1", "commentary": "an old one", "createdAt": 978307200000},  # 2001
            ]
        }
    )


def account_at(url: str, platform: Platform = Platform.MASTODON) -> AccountAccess:
    return AccountAccess(
        workspace="w",
        name="acme",
        platform=platform,
        handle="acme",
        remote_user_id="2002",
        base_url=url,
        credentials={"access_token": "t"},
    )


def intent_on(platform: Platform = Platform.MASTODON) -> PublishIntent:
    return PublishIntent(
        post_id=uuid4(),
        account="acme",
        platform=platform,
        publish_key="k" + uuid4().hex[:31],
        content=Content(text="Hello from Herald"),
        attempt=1,
        due_at=datetime.now(UTC),
        window_start=datetime.now(UTC),
    )


async def serve() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/api/v1/accounts/2002/statuses", statuses)
    app.router.add_get("/rest/posts", posts)
    for path, handler in (("/endless", endless), ("/large", large), ("/bomb", bomb), ("/fine", fine)):
        app.router.add_route("*", path, handler)
    app.router.add_post("/api/v1/statuses", endless)
    return await loopback.serve(app)


@pytest.mark.parametrize("path", ["/endless", "/large", "/bomb"])
def test_an_answer_past_the_cap_is_left_unread_and_the_session_goes_on(path: str) -> None:
    async def main() -> None:
        runner, url = await serve()
        try:
            async with aiohttp.ClientSession() as session:
                http = Http(session, timeout=20)
                began = time.monotonic()
                tracemalloc.start()
                seen = await http.request("POST", url + path, body=b"{}")
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert isinstance(seen, Observed), seen
                assert seen.kind is Observation.TIMEOUT_AFTER_SEND and seen.http_status == 200
                assert seen.message == "the answer ran past 8 MiB; not read"
                assert time.monotonic() - began < 10, "it stopped at the cap, not at the timeout"
                assert peak < 6 * ANSWER_MAX, f"{peak / MIB:.0f} MiB held while reading"  # read whole: 64+
                after = await http.request("GET", url + "/fine")  # the next request is unharmed
                assert isinstance(after, Answer) and after.body["id"] == "1"
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_a_publish_answered_without_end_is_unknown_not_refused() -> None:
    async def main() -> None:
        runner, url = await serve()
        try:
            async with aiohttp.ClientSession() as session:
                adapter = MastodonAdapter(Http(session, timeout=20))
                seen = await adapter.publish(intent_on(), account_at(url), Progress())
        finally:
            await runner.cleanup()
        assert seen.kind is Observation.TIMEOUT_AFTER_SEND, seen

    asyncio.run(main())


@pytest.mark.parametrize(
    ("platform", "adapter", "found"),
    [(Platform.MASTODON, MastodonAdapter, "3"), (Platform.LINKEDIN, LinkedInAdapter, "urn:li:share:3")],
)
def test_a_look_up_reads_posts_whatever_their_dates_say(platform: Platform, adapter: Any, found: str) -> None:
    """A date without a zone is UTC, and one that cannot be read (or is missing) counts as
    inside the window. So the look-up finds the post and stops at the first post older than
    the window. Before, a naive Mastodon date broke every look-up, and the post stayed
    ambiguous for good. A LinkedIn post without `createdAt` counted as from 1970: the look-up
    stopped there, short of what came after it."""

    async def main() -> Search:
        runner, url = await serve()
        try:
            async with aiohttp.ClientSession() as session:
                return await adapter(Http(session, timeout=20)).find(intent_on(platform), account_at(url, platform))
        finally:
            await runner.cleanup()

    search = asyncio.run(main())
    assert [part.remote_id for part in search.found] == [found]
    assert search.complete, search.how
    assert "2 statuses" in search.how or "2 posts" in search.how


NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        ("1796634000", None, datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),  # X, Bluesky: Unix seconds
        ("2026-12-07T09:05:00.000Z", None, datetime(2026, 12, 7, 9, 5, tzinfo=UTC)),  # Mastodon
        ("2026-12-07T09:05:00", None, datetime(2026, 12, 7, 9, 5, tzinfo=UTC)),  # no zone: UTC
        ("2026-12-07T10:05:00+01:00", None, datetime(2026, 12, 7, 9, 5, tzinfo=UTC)),
        ("30", NOW, datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)),  # Retry-After: seconds from now
        ("99999999999999", None, None),  # past the year 9999
        ("9" * 400, NOW, None),
        ("١٢٣", None, None),  # digits, but not ASCII ones
        ("-5", None, None),
        ("soon", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_a_reset_header_is_read_or_left_to_the_backoff(
    value: str | None, now: datetime | None, expected: datetime | None
) -> None:
    assert reset_at(value, now=now) == expected


@pytest.mark.parametrize(
    ("answer", "unanswered"),
    [
        (Observed(kind=Observation.TIMEOUT_AFTER_SEND), True),
        (Observed(kind=Observation.CONNECT_ERROR), True),
        (Answer(503, {"title": "Service Unavailable"}, {}), True),
        (Answer(429, {"title": "Too Many Requests"}, {}), True),
        (Answer(400, {"error": "invalid_request"}, {}), False),  # X: the refresh token is spent
        (Answer(401, {"error": "ExpiredToken"}, {}), False),
    ],
)
def test_a_refresh_without_an_answer_is_told_from_a_refused_one(answer: Answer | Observed, unanswered: bool) -> None:
    """Only a refused refresh disconnects an account; no answer, a 5xx or a 429 leaves it be."""
    problem = refresh_refused("X", answer)
    assert isinstance(problem, RefreshUnanswered) is unanswered
    assert isinstance(problem, RefreshFailed) is not unanswered
