"""Evergreen pools over HTTP on both stores: items recycled into free queue slots in
rotation, never two alike in a row, never back before their interval, each reuse a new post
with the item's next variant; X needs variants; a pool needs queues; another workspace sees
nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.e2e.conftest import Api, run_api

PARIS = ZoneInfo("Europe/Paris")
GRID = {
    "timezone": "Europe/Paris",
    "slots": [
        {"weekday": d, "at": t} for d in ("mon", "tue", "wed", "thu", "fri") for t in ("09:00", "12:30", "17:00")
    ],
}
POOL = {
    "name": "tips",
    "targets": [{"account": "acme", "platform": "mastodon"}],
    "items": [
        {"key": "backup", "variants": [{"text": "Back up today."}, {"text": "Have you backed up?"}]},
        {"key": "update", "variants": [{"text": "Update your phone."}]},
        {"key": "passwords", "variants": [{"text": "Use a password manager."}]},
    ],
    "min_interval_days": 2,
}


async def recycled(api: Api, pool_id: str) -> list[tuple[str, str]]:
    """(local slot, text) of every post the pool made, in time order."""
    _, page, _ = await api.call("GET", f"/posts?external_id=evergreen:{pool_id}&limit=100")
    posts = sorted(page["items"], key=lambda p: p["due_at"])
    return [
        (datetime.fromisoformat(p["due_at"]).astimezone(PARIS).strftime("%a %H:%M"), p["content"]["text"])
        for p in posts
    ]


def test_a_pool_fills_free_slots_in_rotation(store_url: str) -> None:
    async def scenario(api: Api) -> None:  # Monday 2026-11-23, 10:00 in Paris
        assert (await api.call("PUT", "/accounts/acme/queue", GRID))[0] == 200
        status, pool, _ = await api.call("POST", "/evergreen", POOL)
        assert status == 201, pool
        assert pool["items"][0] == {"key": "backup", "variants": 2} and pool["recycled"] == 0

        made = api.ctx.herald.evergreen.fill()  # what the planner does: the next day's free slots
        assert [m.item for m in made] == ["backup", "update", "passwords"]
        assert api.ctx.herald.evergreen.fill() == []  # filled: a second planner makes nothing more
        assert await recycled(api, pool["id"]) == [
            ("Mon 12:30", "Back up today."),
            ("Mon 17:00", "Update your phone."),
            ("Tue 09:00", "Use a password manager."),
        ]
        api.clock.now = datetime(2026, 11, 24, 9, tzinfo=UTC)  # Tuesday: every item used within 2 days
        assert api.ctx.herald.evergreen.fill() == []
        api.clock.now = datetime(2026, 11, 25, 9, tzinfo=UTC)  # Wednesday: back in rotation, next variant
        assert [m.item for m in api.ctx.herald.evergreen.fill()] == ["backup", "update", "passwords"]
        history = await recycled(api, pool["id"])
        assert history[3:] == [
            ("Wed 12:30", "Have you backed up?"),
            ("Wed 17:00", "Update your phone."),
            ("Thu 09:00", "Use a password manager."),
        ]
        texts = [text for _, text in history]
        assert all(a != b for a, b in itertools.pairwise(texts))  # never two alike in a row
        _, read, _ = await api.call("GET", f"/evergreen/{pool['id']}")
        assert read["recycled"] == 6

        # a timed post in an evergreen post's slot pushes it on, like any queued post
        status, _, _ = await api.call(
            "POST",
            "/posts",
            {
                "account": "acme",
                "platform": "mastodon",
                "content": {"text": "News"},
                "scheduled_at": "2026-11-25T12:30:00+01:00",
            },
        )
        assert status == 201
        assert ("Wed 12:30", "Have you backed up?") not in await recycled(api, pool["id"])

        assert (await api.call("POST", f"/evergreen/{pool['id']}/pause", {}))[1]["paused"]
        api.clock.now = datetime(2026, 11, 30, 9, tzinfo=UTC)
        assert api.ctx.herald.evergreen.fill() == []  # paused: nothing
        assert (await api.call("DELETE", f"/evergreen/{pool['id']}"))[0] == 200
        status, gone, _ = await api.call("GET", f"/evergreen/{pool['id']}")
        assert (status, gone["code"]) == (404, "pool_not_found")

    run_api(store_url, scenario)


def test_a_pool_is_refused_what_it_cannot_keep(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, body, _ = await api.call("POST", "/evergreen", POOL)
        assert (status, body["code"]) == (404, "queue_not_found")  # a pool fills queue slots
        await api.call("PUT", "/accounts/acme-x/queue", GRID)
        to_x = {**POOL, "targets": [{"account": "acme-x", "platform": "x"}]}
        status, body, _ = await api.call("POST", "/evergreen", to_x)
        assert (status, body["code"], body["field"]) == (422, "variants_required", "items[1].variants")
        assert "X refuses" in body["message"]
        same = {**to_x, "items": [{"key": "a", "variants": [{"text": "Same"}, {"text": "Same"}]}]}
        status, body, _ = await api.call("POST", "/evergreen", same)
        assert (status, body["code"]) == (422, "variants_required")
        long = {**to_x, "items": [{"key": "a", "variants": [{"text": "a" * 300}, {"text": "b"}]}]}
        status, body, _ = await api.call("POST", "/evergreen", long)
        assert (status, body["code"], body["field"]) == (422, "content_invalid", "items[0].variants[0]")
        twice = {
            **POOL,
            "targets": to_x["targets"],
            "items": [{"key": "k", "variants": [{"text": "1"}, {"text": "2"}]}] * 2,
        }
        status, body, _ = await api.call("POST", "/evergreen", twice)
        assert (status, body["field"]) == (422, "items[1].key")
        status, pool, _ = await api.call(
            "POST", "/evergreen", {**POOL, "targets": to_x["targets"], "items": twice["items"][:1]}
        )
        assert status == 201, pool
        other, key = api.ctx.workspaces.create("Rival")
        status, body, _ = await api.call("GET", f"/evergreen/{pool['id']}", key=key, workspace=str(other))
        assert (status, body["code"]) == (404, "pool_not_found")
        status, listing, _ = await api.call("GET", "/evergreen", key=key, workspace=str(other))
        assert listing["items"] == []

    run_api(store_url, scenario)
