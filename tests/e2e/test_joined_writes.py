"""A post's creation on PostgreSQL: its idempotency key, its rate count and its events commit in
one transaction, or none of them does (services/joined_writes.py), over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import Api, post_body, run_api

pytestmark = pytest.mark.postgres


def rows(api: Api, sql: str, *params: Any) -> list[Any]:
    with api.ctx.herald.read_store.reading() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def used(api: Api) -> int:
    found = rows(api, "SELECT used FROM api_rate WHERE workspace = %s", api.workspace)
    return int(found[0][0]) if found else 0


def test_a_refused_count_takes_back_the_key_and_the_post(postgres_url: str) -> None:
    """Another process spent the window: the count goes over inside the save, and the save
    is rolled back whole: no post, no key kept, and the refused creation counted for nothing."""

    async def scenario(api: Api) -> None:
        status, created, _ = await api.call("POST", "/posts", post_body(), idem="first")
        assert status == 201
        assert rows(api, "SELECT key, status FROM api_idempotency WHERE workspace = %s", api.workspace) == [
            ("first", 201)
        ]
        assert used(api) == 1
        with api.ctx.herald.read_store.reading() as cursor:  # the other process's two creations
            cursor.execute("UPDATE api_rate SET used = 3 WHERE workspace = %s", [api.workspace])
        status, body, headers = await api.call("POST", "/posts", post_body(external_id="over"), idem="over")
        assert (status, body["code"]) == (429, "rate_limited") and int(headers["Retry-After"]) > 0
        assert used(api) == 3
        assert rows(api, "SELECT key FROM api_idempotency WHERE workspace = %s ORDER BY key", api.workspace) == [
            ("first",)
        ]
        _, page, _ = await api.call("GET", "/posts")
        assert [item["id"] for item in page["items"]] == [created["id"]]
        api.clock.advance(seconds=61)
        status, _, headers = await api.call("POST", "/posts", post_body(external_id="over"), idem="over")
        assert status == 201 and "Idempotent-Replayed" not in headers

    run_api(postgres_url, scenario, creations_per_minute=3)


def test_concurrent_requests_with_one_key_create_one_post(postgres_url: str) -> None:
    async def scenario(api: Api) -> None:
        answers = await asyncio.gather(
            *(api.call("POST", "/posts", post_body(external_id="same"), idem="same-key") for _ in range(12))
        )
        statuses = sorted(status for status, _, _ in answers)
        assert set(statuses) <= {201, 409} and 201 in statuses
        first = [body for status, body, headers in answers if status == 201 and "Idempotent-Replayed" not in headers]
        assert len(first) == 1
        assert all(body == first[0] for status, body, _ in answers if status == 201)
        _, page, _ = await api.call("GET", "/posts?external_id=same")
        assert [item["id"] for item in page["items"]] == [first[0]["id"]]
        assert used(api) == 1
        replayed = await api.call("POST", "/posts", post_body(external_id="same"), idem="same-key")
        assert replayed[0] == 201 and replayed[1] == first[0] and replayed[2]["Idempotent-Replayed"] == "true"

    run_api(postgres_url, scenario)


def test_a_workspace_over_its_limit_refuses_only_its_own_creations(postgres_url: str) -> None:
    """Saves made together share a transaction: the one over the limit is refused, the others land."""

    async def scenario(api: Api) -> None:
        other, other_key = api.ctx.workspaces.create("Other")
        with api.ctx.herald.read_store.reading() as cursor:  # spent by another process
            cursor.execute("INSERT INTO api_rate VALUES (%s, %s, 5)", [str(other), int(api.clock().timestamp() // 60)])
        calls = [api.call("POST", "/posts", post_body(external_id=f"ours-{n}")) for n in range(4)]
        calls += [
            api.call("POST", "/posts", post_body(external_id=f"theirs-{n}"), key=other_key, workspace=str(other))
            for n in range(4)
        ]
        answers = await asyncio.gather(*calls)
        assert [status for status, _, _ in answers] == [201] * 4 + [429] * 4
        _, page, _ = await api.call("GET", "/posts")
        assert len(page["items"]) == 4 and used(api) == 4

    run_api(postgres_url, scenario, creations_per_minute=5)
