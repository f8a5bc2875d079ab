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


def test_a_timed_post_pushes_queued_posts_and_the_queue_can_be_reordered(store_url: str) -> None:
    """Lanes: a post given an exact time keeps it and pushes the queued post it crowds to a
    later slot; queued posts never move a timed one. Reordering and shuffling re-place the
    waiting posts, each move a `Rescheduled` event in the post's timeline."""

    async def scenario(api: Api) -> None:  # Monday 2026-11-23, 10:00 in Paris
        assert (await api.call("PUT", "/accounts/acme/queue", GRID))[0] == 200
        a = (await api.call("POST", "/posts", queued(category="news")))[1]
        b = (await api.call("POST", "/posts", queued(category="tips")))[1]
        c = (await api.call("POST", "/posts", queued(category="news")))[1]
        assert [local(p) for p in (a, b, c)] == ["Mon 12:30", "Mon 17:00", "Tue 09:00"]

        live = post_body(account="acme", scheduled_at="2026-11-23T12:45:00+01:00")  # live commentary
        status, timed, _ = await api.call("POST", "/posts", live)
        assert status == 201 and local(timed) == "Mon 12:45"  # it keeps its time
        a, b = [(await api.call("GET", f"/posts/{p['id']}"))[1] for p in (a, b)]
        assert local(a) == "Tue 12:30"  # pushed to the next slot the rules allow
        assert local(b) == "Mon 17:00"  # not crowded: not moved
        _, history, _ = await api.call("GET", f"/posts/{a['id']}/timeline")
        assert history["events"][-1]["event"] == "Rescheduled"
        assert "the queue moved it: a timed post took the room" in history["events"][-1]["explanation"]

        _, queue, _ = await api.call("GET", "/accounts/acme/queue")
        assert [p["post_id"] for p in queue["waiting"]] == [a["id"], b["id"], c["id"]]

        status, queue, _ = await api.call("PUT", "/accounts/acme/queue/order", {"order": [c["id"], b["id"], a["id"]]})
        assert status == 200, queue
        assert [p["post_id"] for p in queue["waiting"]] == [c["id"], b["id"], a["id"]]
        slots = [
            datetime.fromisoformat(p["scheduled_at"]).astimezone(PARIS).strftime("%a %H:%M") for p in queue["waiting"]
        ]
        assert slots == ["Mon 17:00", "Tue 09:00", "Tue 12:30"]  # the order takes the slots in turn
        _, timed, _ = await api.call("GET", f"/posts/{timed['id']}")
        assert local(timed) == "Mon 12:45"  # the queue never moves a timed post

        status, refusal, _ = await api.call("PUT", "/accounts/acme/queue/order", {"order": [c["id"], b["id"]]})
        assert (status, refusal["code"], refusal["field"]) == (409, "queue_order_mismatch", "order")
        assert a["id"] in refusal["message"]

        status, first, _ = await api.call("POST", "/accounts/acme/queue/shuffle", {"seed": 7})
        assert status == 200 and sorted(p["post_id"] for p in first["waiting"]) == sorted([a["id"], b["id"], c["id"]])
        for waiting in first["waiting"]:  # each post stands at the slot the queue shows
            _, post, _ = await api.call("GET", f"/posts/{waiting['post_id']}")
            assert datetime.fromisoformat(post["due_at"]) == datetime.fromisoformat(waiting["scheduled_at"])
        again = (await api.call("POST", "/accounts/acme/queue/shuffle", {}))[1]
        assert sorted(p["scheduled_at"] for p in again["waiting"]) == sorted(
            p["scheduled_at"] for p in first["waiting"]
        )

    run_api(store_url, scenario)


def test_a_dry_run_shows_the_slots_the_queue_would_use(store_url: str) -> None:
    async def scenario(api: Api) -> None:  # Monday 2026-11-23, 10:00 in Paris
        await api.call("PUT", "/accounts/acme/queue", GRID)
        await api.call("POST", "/posts", queued(category="news"))  # Mon 12:30 is taken
        items = [queued(category="news"), queued(category="tips"), post_body(account="nobody", mode="queue")]
        status, report, _ = await api.call("POST", "/plans/dry-run", {"items": items})
        assert status == 200, report
        slots = [
            (s["index"], datetime.fromisoformat(s["slot"]).astimezone(PARIS).strftime("%a %H:%M"))
            for s in report["queue_slots"]
        ]
        # Monday's cap is 2 and 17:00 follows the "news" at 12:30: "tips" takes it, then "news" Tuesday
        assert slots == [(0, "Tue 09:00"), (1, "Mon 17:00")]
        assert report["per_account"] == {"acme": 2}
        assert [(p["index"], p["code"]) for p in report["problems"]] == [(2, "queue_not_found")]
        _, queue, _ = await api.call("GET", "/accounts/acme/queue")
        assert len(queue["waiting"]) == 1  # a dry run writes nothing

    run_api(store_url, scenario)
