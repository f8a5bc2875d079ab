"""Accounts end to end on both stores: credentials sealed at rest, refresh before expiry, a
revoked token, hold-and-release of a disconnected account's posts, Threads' recorded
container, and quota refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.content import Content
from domain.quota import QuotaExceeded
from infrastructure.bootstrap import bootstrap
from infrastructure.secrets import SecretKeyMissing
from tests.conftest import POSTGRES_URL
from tests.integration.world import World, run

SECRET = "tok-SECRET-7f3a9"


pytestmark = pytest.mark.usefixtures("secret_key")


def events(world: World, post_id: Any) -> list[str]:
    return [record.name for record in world.posts.history(post_id)]


def test_no_token_appears_in_plain_text_in_the_store(store_url: str, tmp_path: Path) -> None:
    herald = bootstrap(store_url)
    accounts = herald.accounts
    accounts.connect(
        name="acme-x",
        platform="x",
        handle="acme",
        remote_user_id="1",
        credentials={"access_token": SECRET, "refresh_token": SECRET + "-r"},
    )
    assert accounts.credentials("default", "acme-x")["access_token"] == SECRET
    herald.close()
    if store_url.startswith("sqlite"):
        folder = Path(store_url.removeprefix("sqlite:///")).parent
        stored = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("herald.db"))
    else:
        schema = store_url.rpartition("schema=")[2]
        with psycopg.connect(POSTGRES_URL) as conn:
            rows = conn.execute(f'SELECT originator_id::text, topic, state FROM "{schema}".herald_events').fetchall()
        stored = b"".join(str(r[0]).encode() + r[1].encode() + bytes(r[2]) for r in rows)
    assert b"acme-x" in stored or b"acme" in stored  # we did look at the right bytes
    assert SECRET.encode() not in stored


def test_an_account_held_for_reads_shows_a_change_made_by_another_process(store_url: str) -> None:
    """Reads keep folded accounts between requests; every read still asks the store whether
    the account moved on, so another process's disconnect is seen by the very next read."""
    reader, writer = bootstrap(store_url), bootstrap(store_url)
    reader.accounts.connect(name="acme-x", platform="x", handle="acme", remote_user_id="1", credentials={"t": "1"})
    pair = ("default", "acme-x")
    first = reader.accounts.many([pair])[pair]
    assert reader.accounts.many([pair])[pair] is first  # unchanged: held, not folded again
    writer.accounts.disconnect("default", "acme-x", "by_request", "connect it again")
    after = reader.accounts.many([pair])[pair]
    assert after.state.value == "disconnected"
    assert first.state.value == "connected"  # what a caller already holds is never changed under it
    writer.accounts.reconnect("default", "acme-x", {"t": "2"}, None)
    assert reader.accounts.many([pair])[pair].state.value == "connected"
    reader.close()
    writer.close()


def test_a_missing_secret_key_is_a_clear_refusal(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_SECRET_KEY")
    herald = bootstrap(sqlite_url)
    accounts = herald.accounts
    with pytest.raises(SecretKeyMissing) as refusal:
        accounts.connect(name="a", platform="x", handle="a", remote_user_id="1", credentials={"access_token": "t"})
    assert "HERALD_SECRET_KEY" in refusal.value.message
    assert accounts.find("default", "a") is None  # nothing was stored


def test_a_token_about_to_expire_is_refreshed_before_publishing(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001", expires_in=60)  # inside the 5-minute margin
        before = world.accounts.credentials("default", "acme-x")["access_token"]
        post_id = world.post("acme-x", "x")
        await world.dispatcher.tick()
        assert world.posts.get_post(post_id).state == "delivered"
        after = world.accounts.credentials("default", "acme-x")["access_token"]
        assert after != before
        view = world.accounts.get("default", "acme-x")
        assert view.state == "connected" and view.token_expires_at > world.clock.now + timedelta(minutes=60)

    run(store_url, scenario)


def test_a_revoked_token_holds_the_post_and_disconnects_the_account(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-m", "mastodon", "2002")
        world.sim.tokens.clear()
        world.sim.grant("someone-else")  # the account's token is no longer known: revoked
        post_id = world.post("acme-m", "mastodon")
        await world.dispatcher.tick()
        post = world.posts.get_post(post_id)
        assert (post.state, post.waiting_for, post.failure_reason) == ("held", "auth_revoked", None)
        view = world.accounts.get("default", "acme-m")
        assert (view.state, view.disconnect_reason) == ("disconnected", "auth_revoked")

    run(store_url, scenario)


def test_linkedin_without_refresh_disconnects_with_a_reconnect_remedy(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-in", "linkedin", "abc", expires_in=30)
        post_id = world.post("acme-in", "linkedin")
        await world.dispatcher.tick()
        view = world.accounts.get("default", "acme-in")
        assert (view.state, view.disconnect_reason) == ("disconnected", "refresh_unavailable")
        assert "econnect" in (view.remediation or "")
        assert world.posts.get_post(post_id).state == "held"  # held, not burned
        assert world.sim.requests == 0

    run(store_url, scenario)


def test_a_disconnected_accounts_posts_are_held_then_released_or_failed(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("back-soon", "bluesky", "did:plc:soon")
        world.connect("gone", "bluesky", "did:plc:gone")
        for name in ("back-soon", "gone"):
            world.accounts.disconnect("default", name, "by_request", "reconnect")
        comes_back = world.post("back-soon", "bluesky", "held then sent")
        never = world.post("gone", "bluesky", "held then failed")
        await world.dispatcher.tick()
        assert {world.posts.get_post(p).state for p in (comes_back, never)} == {"held"}
        assert world.sim.requests == 0

        grant = world.sim.grant("did:plc:soon")
        world.accounts.reconnect(
            "default", "back-soon", {"access_jwt": grant["access_token"], "refresh_jwt": grant["refresh_token"]}, None
        )
        world.clock.advance(minutes=10)
        await world.dispatcher.tick()
        assert world.posts.get_post(comes_back).state == "delivered"

        world.clock.advance(minutes=25)  # past the 30-minute grace
        await world.dispatcher.tick()
        post = world.posts.get_post(never)
        assert (post.state, post.failure_reason) == ("failed", "deadline_passed")
        assert "held (account_disconnected)" in (post.remediation or "")
        assert [p["text"] for p in world.sim.posts] == ["held then sent"]

    run(store_url, scenario)


def test_threads_keeps_the_container_in_an_event_and_never_publishes_twice(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-t", "threads", "3003")
        post_id = world.post("acme-t", "threads", "two steps")
        world.sim.faults = {"accept_drop": 1.0}
        await world.dispatcher.tick()
        assert events(world, post_id)[-2:] == ["ContainerPrepared", "OutcomeAmbiguous"]
        world.sim.faults = {}
        await world.dispatcher.tick()
        post = world.posts.get_post(post_id)
        assert post.state == "delivered" and post.reconciled and len(world.sim.posts) == 1

    run(store_url, scenario)


def test_an_overbooked_window_is_refused_with_the_next_free_instant_or_moved(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("busy", "x", "4004", settings={"quota_limit": 3})
        at = world.clock.now + timedelta(hours=1)
        for n in range(3):
            world.posts.schedule(account="busy", platform="x", content=Content(text=f"{n}"), scheduled_at=at)
        with pytest.raises(QuotaExceeded) as refusal:
            world.posts.schedule(account="busy", platform="x", content=Content(text="3"), scheduled_at=at)
        assert refusal.value.next_free == at + timedelta(minutes=15)
        assert "next free instant" in refusal.value.message
        moved = world.posts.schedule(
            account="busy", platform="x", content=Content(text="3"), scheduled_at=at, when_full="move"
        )
        assert world.posts.get_post(moved).due_at == at + timedelta(minutes=15)

    run(store_url, scenario)


def test_the_mastodon_instance_limit_is_the_accounts_own(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("big", "mastodon", "5005", settings={"max_characters": 1000})
        world.connect("small", "mastodon", "5006")
        long_text = Content(text="a" * 700)
        world.posts.publish_now(account="big", platform="mastodon", content=long_text)
        from domain.validation import ContentInvalid

        with pytest.raises(ContentInvalid):
            world.posts.publish_now(account="small", platform="mastodon", content=long_text)
        # the check before dispatch reads a batch's accounts in one query, with the same limits
        batch = [world.posts.publish_now(account="big", platform="mastodon", content=long_text) for _ in range(3)]
        claims = world.dispatcher.dispatch.claim_many(batch, worker="w")
        assert [claim.state for claim in claims] == ["dispatched"] * 3

    run(store_url, scenario)
