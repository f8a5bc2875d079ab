"""Media end to end on both stores, through each platform's real adapter against the simulator
impersonating that platform: every image reaches the platform with its bytes and alt text, in
order; carousels and threads carry theirs; uploads that fail, stall or expire are retried or
re-uploaded and never recorded `delivered` without their files; first comments follow the post
and never fail it."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from domain.content import MediaRef, ThreadPart
from domain.post import PostState
from tests import media
from tests.integration.world import World, run

pytestmark = pytest.mark.usefixtures("secret_key")

USERS = {
    "x": "1001",
    "mastodon": "2002",
    "bluesky": "did:plc:acme",
    "linkedin": "abc123",
    "threads": "3003",
    "instagram": "17841400000000001",
    "facebook": "104000000000001",
}


def add(world: World, data: bytes, alt: str | None, name: str = "photo.png") -> str:
    return str(world.herald.media.add("default", data, filename=name, alt_text=alt).id)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def live(world: World, platform: str, kind: str = "post") -> list[dict[str, Any]]:
    return [p for p in world.sim.posts_of(platform, USERS[platform]) if p["kind"] == kind]


async def settle(world: World, rounds: int = 12) -> None:
    """Tick until nothing is due: retries and backoffs are walked through by the manual clock."""
    for _ in range(rounds):
        await world.dispatcher.tick()
        world.clock.advance(seconds=120)


@pytest.mark.parametrize("platform", sorted(USERS))
def test_every_image_reaches_every_platform_with_its_alt_text(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        shape = (1080, 1080)
        files = [media.image(*shape, fmt="JPEG", shade=n) for n in range(2)]
        ids = [add(world, data, f"Picture {n} of the harbour") for n, data in enumerate(files)]
        refs = (MediaRef(ref=ids[0]), MediaRef(ref=ids[1], alt_text="The harbour at dusk, said by this post"))
        post = world.post("acme", platform, "Two pictures", media=refs)
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        [remote] = live(world, platform)
        assert [m["sha256"] for m in remote["media"]] == [sha(f) for f in files]
        assert [m["alt"] for m in remote["media"]] == [
            "Picture 0 of the harbour",
            "The harbour at dusk, said by this post",
        ]
        names = world.events(post)
        if platform in ("threads", "instagram"):  # they fetch each file into a container at a signed URL
            assert "ContainerPrepared" in names, names
        else:
            assert names.count("MediaUploaded") == 2, names  # each upload recorded with its remote id

    run(store_url, scenario)


@pytest.mark.parametrize(("platform", "count"), [("instagram", 10), ("threads", 5)])
def test_a_carousel_goes_out_once_under_faults(store_url: str, platform: str, count: int) -> None:
    """Dropped answers after the publish, 5xx, failed and expired uploads: the carousel is live
    exactly once, with every picture in order, whatever it took."""

    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        files = [media.image(1080, 1080, fmt="JPEG", shade=20 + n) for n in range(count)]
        refs = tuple(MediaRef(ref=add(world, f, f"Slide {n}")) for n, f in enumerate(files))
        posts = [world.post("acme", platform, f"Carousel {n}", media=refs) for n in range(6)]
        world.sim.faults = {"accept_drop": 0.2, "http_500": 0.1, "upload_500": 0.05, "upload_expired": 0.05}
        await settle(world, rounds=10)
        world.sim.faults = {}
        await settle(world, rounds=10)
        for post in posts:
            assert world.posts.get_post(post).state == PostState.DELIVERED, [
                (r.name, r.data) for r in world.posts.history(post)
            ][-2:]
        remote = live(world, platform)
        assert sorted(p["text"] for p in remote) == sorted(f"Carousel {n}" for n in range(6))  # each once
        assert all([m["sha256"] for m in p["media"]] == [sha(f) for f in files] for p in remote)

    run(store_url, scenario)


def test_an_instagram_carousel_of_ten_keeps_its_order(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", "instagram", USERS["instagram"])
        files = [media.image(1080, 1350, fmt="JPEG", shade=n) for n in range(10)]
        refs = tuple(MediaRef(ref=add(world, f, f"Slide {n}")) for n, f in enumerate(files))
        post = world.post("acme", "instagram", "Ten slides", media=refs)
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        [remote] = live(world, "instagram")
        assert [m["sha256"] for m in remote["media"]] == [sha(f) for f in files]

    run(store_url, scenario)


@pytest.mark.parametrize("platform", ["threads", "x", "mastodon", "bluesky"])
def test_each_thread_part_carries_its_own_pictures(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        first, second = media.image(shade=1), media.image(shade=2)
        thread = (ThreadPart(text="Part two", media=(MediaRef(ref=add(world, second, "Second picture")),)),)
        post = world.post(
            "acme", platform, "Part one", media=(MediaRef(ref=add(world, first, "First")),), thread=thread
        )
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        parts = live(world, platform)
        assert [[m["sha256"] for m in p["media"]] for p in parts] == [[sha(first)], [sha(second)]]
        assert parts[1]["reply_to"] == parts[0]["id"]

    run(store_url, scenario)


@pytest.mark.parametrize("platform", ["x", "mastodon", "threads", "instagram"])
def test_a_video_is_processed_before_the_post_uses_it(store_url: str, platform: str) -> None:
    clip = media.video(seconds=4)
    if clip is None:
        pytest.skip("ffmpeg is not installed (scripts/setup installs it)")

    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        post = world.post("acme", platform, "A clip", media=(MediaRef(ref=add(world, clip, "A test card", "c.mp4")),))
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        [remote] = live(world, platform)
        assert [m["sha256"] for m in remote["media"]] == [sha(clip)]

    run(store_url, scenario)


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky", "linkedin"])
def test_a_failed_upload_is_retried_and_the_post_still_carries_its_picture(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        world.sim.faults = {"upload_500": 1.0}
        picture = media.image(shade=5)
        post = world.post("acme", platform, "Retried", media=(MediaRef(ref=add(world, picture, "A picture")),))
        await world.dispatcher.tick()
        assert world.posts.get_post(post).state != PostState.DELIVERED
        assert live(world, platform) == []  # the post never goes out without its picture
        world.sim.faults = {}
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        [remote] = live(world, platform)
        assert [m["sha256"] for m in remote["media"]] == [sha(picture)]

    run(store_url, scenario)


@pytest.mark.parametrize("platform", ["x", "mastodon", "threads", "instagram"])
def test_media_stuck_in_processing_is_never_recorded_delivered(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        world.sim.faults = {"upload_stuck": 1.0}
        shape = (1080, 1080)
        post = world.post(
            "acme", platform, "Stuck", media=(MediaRef(ref=add(world, media.image(*shape, fmt="JPEG"), "Stuck")),)
        )
        await settle(world, rounds=6)
        assert world.posts.get_post(post).state != PostState.DELIVERED, world.events(post)
        assert live(world, platform) == []

    run(store_url, scenario)


@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_an_expired_upload_is_uploaded_again(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        world.sim.faults = {"upload_expired": 1.0}
        picture = media.image(shade=7)
        post = world.post("acme", platform, "Expired", media=(MediaRef(ref=add(world, picture, "Again")),))
        await world.dispatcher.tick()
        world.sim.faults = {}
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, [
            (r.name, r.data) for r in world.posts.history(post)
        ]
        [remote] = live(world, platform)
        assert [m["sha256"] for m in remote["media"]] == [sha(picture)]
        assert world.events(post).count("MediaUploaded") >= 2

    run(store_url, scenario)


@pytest.mark.parametrize("platform", sorted(USERS))
def test_the_first_comment_follows_the_post(store_url: str, platform: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme", platform, USERS[platform])
        refs = (MediaRef(ref=add(world, media.image(1080, 1080, fmt="JPEG"), "A picture")),)
        post = world.post("acme", platform, "With a comment", media=refs, first_comment="#harbour #dusk")
        await settle(world)
        assert world.posts.get_post(post).state == PostState.DELIVERED, world.events(post)
        everything = world.sim.posts_of(platform, USERS[platform])  # a self-reply is a post to the platform
        [remote] = [p for p in everything if p["text"] == "With a comment"]
        [comment] = [p for p in everything if p["text"] == "#harbour #dusk"]
        assert comment["reply_to"] == remote["id"]
        assert "FirstCommentPosted" in world.events(post)
        await settle(world, rounds=2)  # nothing is sent twice
        assert len(world.sim.posts_of(platform, USERS[platform])) == 2

    run(store_url, scenario)
