"""Queues over HTTP on both stores: an account's weekly slots in its zone, with a gap and a
daily cap; `mode: "queue"` puts a post in the next free slot, round posts given an exact
time, never two of one category back to back while another slot allows it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.e2e.conftest import Api, post_body, run_api

PARIS = ZoneInfo("Europe/Paris")
GRID = {
    "timezone": "Europe/Paris",
    "slots": [
        {"weekday": d, "at": t} for d in ("mon", "tue", "wed", "thu", "fri") for t in ("09:00", "12:30", "17:00")
    ],
    "min_gap_minutes": 120,
    "daily_cap": 2,
}


def queued(**extra: object) -> dict[str, object]:
    body = post_body(account="acme", mode="queue", scheduled_at=None, **extra)
    return body


def local(post: dict[str, object]) -> str:
    return datetime.fromisoformat(str(post["due_at"])).astimezone(PARIS).strftime("%a %H:%M")


def test_posts_fill_the_next_free_slots(store_url: str) -> None:
    async def scenario(api: Api) -> None:  # the clock reads Monday 2026-11-23 09:00 UTC (10:00 in Paris)
        status, queue, _ = await api.call("PUT", "/accounts/acme/queue", GRID)
        assert status == 200, queue
        assert [datetime.fromisoformat(t).astimezone(PARIS).strftime("%a %H:%M") for t in queue["next_free"][:3]] == [
            "Mon 12:30",
            "Mon 17:00",
            "Tue 09:00",
        ]
        timed = await api.call("POST", "/posts", post_body(account="acme", scheduled_at="2026-11-23T17:30:00+01:00"))
        assert timed[0] == 201  # an exact time keeps it; the queue places round it
        first = (await api.call("POST", "/posts", queued(category="news")))[1]
        second = (await api.call("POST", "/posts", queued(category="news")))[1]
        third = (await api.call("POST", "/posts", queued(category="tips")))[1]
        assert first["state"] == "queued" and local(first) == "Mon 12:30"
        # Monday is full (cap 2: 12:30 and the timed 17:30, which 17:00 is also within 2 h of)
        assert local(second) == "Tue 09:00" and local(third) == "Tue 12:30"
        promo = post_body(account="acme", scheduled_at="2026-11-25T12:00:00+01:00", category="promo")
        assert (await api.call("POST", "/posts", promo))[0] == 201
        # Wednesday 09:00 would put "tips" right after Tuesday's "tips", and 12:30 is within 2 h
        # of the promo at 12:00: 17:00 follows the promo, another category
        fourth = (await api.call("POST", "/posts", queued(category="tips")))[1]
        assert local(fourth) == "Wed 17:00" and fourth["category"] == "tips"

    run_api(store_url, scenario)


def test_a_queue_refuses_what_it_cannot_keep(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, body, _ = await api.call("POST", "/posts", queued())
        assert (status, body["code"]) == (404, "queue_not_found")
        status, body, _ = await api.call("PUT", "/accounts/acme/queue", {**GRID, "timezone": "Europe"})
        assert (status, body["code"]) == (422, "invalid_timezone")
        status, body, _ = await api.call("PUT", "/accounts/acme/queue", {**GRID, "slots": []})
        assert (status, body["code"]) == (422, "invalid_field")

    run_api(store_url, scenario)
