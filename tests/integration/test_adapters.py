"""Contract tests: each platform adapter against the simulator impersonating that platform,
over real HTTP on 127.0.0.1: success, every error class, the platform's own "already there"
answers, look-ups that page through deep histories (and say when they cannot see it all),
threads that resume, deterministic request bytes, and the refresh flows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from domain.content import Content, Platform, ThreadPart
from domain.intent import PublishIntent
from domain.outcomes import Observation, RemotePart
from infrastructure.platforms.adapters.bluesky import BlueskyAdapter
from infrastructure.platforms.adapters.linkedin import LinkedInAdapter
from infrastructure.platforms.adapters.mastodon import MastodonAdapter
from infrastructure.platforms.adapters.threads import ThreadsAdapter
from infrastructure.platforms.adapters.x import XAdapter
from infrastructure.platforms.http import Http
from infrastructure.platforms.simulator import Simulator, start
from services.ports import AccountAccess, RefreshFailed

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)  # the posts fall due half an hour ago
USERS = {
    Platform.X: "1001",
    Platform.MASTODON: "2002",
    Platform.BLUESKY: "did:plc:acme",
    Platform.LINKEDIN: "abc123",
    Platform.THREADS: "3003",
}
Scenario = Callable[[Any, AccountAccess, Simulator], Awaitable[None]]


class Recorder:
    """The `Progress` port: what an adapter reports while it publishes."""

    def __init__(self) -> None:
        self.parts: list[RemotePart] = []
        self.containers: dict[int, str] = {}

    async def container(self, part: int, container_id: str) -> None:
        self.containers[part] = container_id

    async def part_live(self, part: RemotePart) -> None:
        self.parts.append(part)


def adapter_for(platform: Platform, http: Http) -> Any:
    return {
        Platform.X: lambda: XAdapter(http, lambda: NOW),
        Platform.MASTODON: lambda: MastodonAdapter(http),
        Platform.BLUESKY: lambda: BlueskyAdapter(http),
        Platform.LINKEDIN: lambda: LinkedInAdapter(http),
        Platform.THREADS: lambda: ThreadsAdapter(http, lambda: NOW),
    }[platform]()


def run(platform: Platform, scenario: Scenario) -> None:
    async def main() -> None:
        sim = Simulator(seed=1)
        runner, port = await start(sim)
        grant = sim.grant(USERS[platform], expires_in=3600)
        credentials = {
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "access_jwt": grant["access_token"],
            "refresh_jwt": grant["refresh_token"],
            "client_id": "app",
        }
        account = AccountAccess(
            workspace="w",
            name="acme",
            platform=platform,
            handle="acme",
            remote_user_id=USERS[platform],
            base_url=f"http://127.0.0.1:{port}",
            credentials=credentials,
        )
        try:
            async with aiohttp.ClientSession() as session:
                await scenario(adapter_for(platform, Http(session, timeout=2)), account, sim)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def intent(text: str = "Hello from Herald", attempt: int = 1, **content: Any) -> PublishIntent:
    return PublishIntent(
        post_id=uuid4(),
        account="acme",
        platform=Platform.X,
        publish_key="k" + uuid4().hex[:31],
        content=Content(text=text, **content),
        attempt=attempt,
        due_at=NOW,
        window_start=NOW,
    )


ALL = list(USERS)


@pytest.mark.parametrize("platform", ALL)
def test_success_gives_the_remote_id_and_permalink_and_find_sees_it(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent()
        outcome = await adapter.publish(wanted, account, Recorder())
        assert outcome.kind is Observation.ACCEPTED and outcome.remote_id and outcome.permalink
        (stored,) = sim.posts
        assert (stored["platform"], stored["account"], stored["text"]) == (
            platform.value,
            USERS[platform],
            wanted.content.text,
        )
        search = await adapter.find(wanted, account)
        assert search.complete and [p.remote_id for p in search.found] == [outcome.remote_id]
        absent = await adapter.find(intent("never published"), account)
        assert absent.complete and absent.found == ()

    run(platform, scenario)


@pytest.mark.parametrize("platform", ALL)
@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("http_401", Observation.AUTH_REVOKED),
        ("http_429", Observation.RATE_LIMITED),
        ("http_500", Observation.SERVER_ERROR),
        ("http_403", Observation.REJECTED),
        ("accept_drop", Observation.TIMEOUT_AFTER_SEND),
    ],
)
def test_each_error_class_is_observed_as_the_outcome_table_says(
    platform: Platform, fault: str, kind: Observation
) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        sim.faults = {fault: 1.0, "retry_after": 30}
        outcome = await adapter.publish(intent(), account, Recorder())
        assert outcome.kind is kind, outcome
        if kind is Observation.RATE_LIMITED and platform in (Platform.X, Platform.MASTODON, Platform.BLUESKY):
            assert outcome.retry_at is not None and outcome.retry_at > datetime.now(UTC)
        assert outcome.http_status is not None or kind is Observation.TIMEOUT_AFTER_SEND

    run(platform, scenario)


@pytest.mark.parametrize("platform", ALL)
def test_a_revoked_token_is_auth_revoked(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        sim.tokens.clear()
        sim.grant("someone-else")
        outcome = await adapter.publish(intent(), account, Recorder())
        assert outcome.kind is Observation.AUTH_REVOKED

    run(platform, scenario)


@pytest.mark.parametrize("platform", ALL)
def test_a_retry_after_a_dropped_answer_never_makes_a_second_post(platform: Platform) -> None:
    """Each platform's own answer to a repeat: Mastodon replays its first status for the same
    Idempotency-Key, Bluesky's rkey finds the record, Threads' container says PUBLISHED, and X
    and LinkedIn refuse the text as a duplicate (LinkedIn naming the live post)."""

    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        first = intent()
        sim.faults = {"accept_drop": 1.0}
        recorder = Recorder()
        assert (await adapter.publish(first, account, recorder)).kind is Observation.TIMEOUT_AFTER_SEND
        sim.faults = {}
        again = first.model_copy(update={"attempt": 2, "containers": recorder.containers})
        outcome = await adapter.publish(again, account, Recorder())
        assert len(sim.posts) == 1  # the platform holds one post, whatever the answer said
        expected = {
            Platform.X: (Observation.ALREADY_PUBLISHED, None),
            Platform.MASTODON: (Observation.ACCEPTED, sim.posts[0]["id"]),
            Platform.BLUESKY: (Observation.ACCEPTED, sim.posts[0]["id"]),
            Platform.LINKEDIN: (Observation.ALREADY_PUBLISHED, sim.posts[0]["id"]),
            Platform.THREADS: (Observation.ALREADY_PUBLISHED, None),
        }[platform]
        assert (outcome.kind, outcome.remote_id) == expected, outcome
        assert [p.remote_id for p in (await adapter.find(again, account)).found] == [sim.posts[0]["id"]]

    run(platform, scenario)


@pytest.mark.parametrize("platform", [Platform.X, Platform.MASTODON, Platform.LINKEDIN, Platform.THREADS])
def test_the_look_up_pages_through_a_deep_history(platform: Platform) -> None:
    """An account that posted hundreds of times since the attempt: the post is found past the
    first page (X gives at most 100 a page, Mastodon 40, LinkedIn 100, Threads 100)."""

    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent()
        await adapter.publish(wanted, account, Recorder())
        sim.seed_history(platform.value, USERS[platform], 450, spread=1)  # newer than the post
        for post in sim.posts[-450:]:
            post["created_at"] = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
        search = await adapter.find(wanted, account)
        assert search.complete, search.how
        assert [p.remote_id for p in search.found] == [sim.posts[0]["id"]]
        assert "451" in search.how

    run(platform, scenario)


def test_x_says_when_the_window_is_deeper_than_its_3200_latest_posts() -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent()
        await adapter.publish(wanted, account, Recorder())
        sim.seed_history("x", USERS[Platform.X], 3300, spread=1)
        for post in sim.posts[-3300:]:
            post["created_at"] = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
        search = await adapter.find(wanted, account)
        assert not search.complete and search.found == ()  # the post is there, out of sight
        assert "3200" in search.how

    run(Platform.X, scenario)


@pytest.mark.parametrize("platform", [Platform.X, Platform.MASTODON, Platform.BLUESKY, Platform.THREADS])
def test_threads_go_out_as_reply_chains_each_part_reported(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent("1/3", thread=(ThreadPart(text="2/3"), ThreadPart(text="3/3")))
        recorder = Recorder()
        outcome = await adapter.publish(wanted, account, recorder)
        assert outcome.kind is Observation.ACCEPTED
        assert [p["text"] for p in sim.posts] == ["1/3", "2/3", "3/3"]
        assert sim.posts[1]["reply_to"] == sim.posts[0]["id"] and sim.posts[2]["reply_to"] == sim.posts[1]["id"]
        assert [(p.part, p.remote_id) for p in recorder.parts] == [(n + 1, p["id"]) for n, p in enumerate(sim.posts)]
        search = await adapter.find(wanted, account)
        assert [p.remote_id for p in search.found] == [p["id"] for p in sim.posts]

    run(platform, scenario)


@pytest.mark.parametrize("platform", [Platform.X, Platform.MASTODON, Platform.BLUESKY, Platform.THREADS])
def test_a_broken_thread_resumes_from_the_first_missing_part(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent("1/3", thread=(ThreadPart(text="2/3"), ThreadPart(text="3/3")))
        broken = wanted.model_copy(update={"content": Content(text="1/3", thread=(ThreadPart(text="2/3"),))})
        recorder = Recorder()
        assert (await adapter.publish(broken, account, recorder)).kind is Observation.ACCEPTED  # parts 1 and 2
        live = tuple(recorder.parts)
        again = wanted.model_copy(update={"attempt": 2, "live": live, "containers": recorder.containers})
        resumed = Recorder()
        outcome = await adapter.publish(again, account, resumed)
        assert outcome.kind is Observation.ACCEPTED
        assert [p["text"] for p in sim.posts] == ["1/3", "2/3", "3/3"]  # no part twice
        assert sim.posts[2]["reply_to"] == live[1].remote_id
        assert [p.part for p in resumed.parts] == [3]

    run(platform, scenario)


@pytest.mark.parametrize("platform", [Platform.X, Platform.MASTODON, Platform.BLUESKY, Platform.LINKEDIN])
def test_requests_are_deterministic(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        wanted = intent("Same bytes, https://example.com/x")
        if platform is Platform.X:
            built = [adapter.request(wanted.content.text, None, account) for _ in range(2)]
        elif platform in (Platform.MASTODON, Platform.BLUESKY):
            built = [adapter.request(wanted, 0, wanted.content.text, None, account) for _ in range(2)]
        else:
            built = [adapter.request(wanted, account) for _ in range(2)]
        assert built[0] == built[1]

    run(platform, scenario)


def test_bluesky_links_become_byte_indexed_facets() -> None:
    from infrastructure.platforms.adapters.bluesky import facets

    (facet,) = facets("héllo https://example.com/a")
    assert facet["index"] == {"byteStart": 7, "byteEnd": 28}


def test_mastodon_reads_the_instance_limits() -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        sim.faults = {"mastodon_max_characters": 1000}
        limits = await adapter.instance_limits(account)
        assert limits["max_characters"] == 1000 and limits["characters_reserved_per_url"] == 23

    run(Platform.MASTODON, scenario)


@pytest.mark.parametrize("platform", [Platform.X, Platform.BLUESKY, Platform.THREADS])
def test_refresh_gives_working_credentials(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        refreshed = await adapter.refresh(account)
        key = "access_jwt" if platform is Platform.BLUESKY else "access_token"
        assert refreshed.credentials[key] != account.credentials[key]
        fresh = AccountAccess(**{**account.__dict__, "credentials": refreshed.credentials})
        assert (await adapter.publish(intent(), fresh, Recorder())).kind is Observation.ACCEPTED

    run(platform, scenario)


@pytest.mark.parametrize("platform", [Platform.MASTODON, Platform.LINKEDIN])
def test_platforms_without_refresh_say_so(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        assert adapter.has_refresh is False
        with pytest.raises(RefreshFailed):
            await adapter.refresh(account)

    run(platform, scenario)


def test_bluesky_login_makes_a_session() -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        session = await adapter.login(account.base_url, "acme", "app-password")
        assert session["did"] == "did:plc:acme" and session["access_jwt"]
        with pytest.raises(RefreshFailed):
            await adapter.login(account.base_url, "acme", "wrong")

    run(Platform.BLUESKY, scenario)
