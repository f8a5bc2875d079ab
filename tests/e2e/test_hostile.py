"""The API as a hostile client (or a careless new user) meets it, on both stores: every answer
is a JSON `{code, message, field}` 4xx, in bounded time, and nothing is written.

Extreme instants, zone names that are directories, control characters, huge numbers, wrong
types, bodies cut short, oversized headers, duplicate names: each case names what it sends
and the refusal it expects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from domain.webhook import delivery_id
from infrastructure.api import server
from tests.e2e.conftest import Api, post_body, run_api

ACCOUNT = {"name": "acme", "platform": "x", "handle": "a", "remote_user_id": "1", "credentials": {"access_token": "t"}}
BOUND = 15.0  # seconds any answer may take

EXTREME_INSTANTS = [
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00Z",
    "2200-01-01T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "2030-02-30T09:00:00Z",
    "2030-01-01T24:00:00Z",
    "2030-01-01T09:00:00+25:00",
    "",
    " ",
    "now",
    "1e10",
]
ZONES = ["Europe", "America/", "../../etc/passwd", "/etc/localtime", "", "UTC\n", "Europe/Paris\x00", "A" * 64, "."]
CONTROL = ["a\x00b", "a\x07b", "\x1b[31m", "a\u0085b"]
HUGE = [10**30, -(10**30), 2**63, -1, 1e308, float("inf")]


def creation_cases() -> list[tuple[str, dict[str, Any], str]]:
    """(name, body, field at fault) for POST /posts."""
    cases = [(f"instant {v!r}", post_body(scheduled_at=v), "scheduled_at") for v in EXTREME_INSTANTS]
    cases += [
        (f"zone {z!r}", post_body(scheduled_at="2030-01-01T09:00", timezone=z), "timezone") for z in ZONES if z != ""
    ]
    cases += [(f"text {c!r}", post_body(content={"text": c}), "content.text") for c in CONTROL]
    cases += [(f"external id {c!r}", post_body(external_id=c), "external_id") for c in CONTROL]
    cases += [(f"account {c!r}", post_body(account=c), "account") for c in CONTROL]
    cases += [(f"platform {v!r}", post_body(platform=v), "platform") for v in ("twitter", "", None, 3, "x\x00")]
    cases += [
        ("text as a number", post_body(content={"text": 123}), "content.text"),
        ("content as a list", post_body(content=["Hello"]), "content"),
        ("scheduled_at as a number", post_body(scheduled_at=1735689600), "scheduled_at"),
        ("mode bogus", post_body(mode="bogus"), "mode"),
        ("unknown field", post_body(colour="red"), "colour"),
        ("media as a string", post_body(content={"text": "t", "media": "x.png"}), "content.media"),
        ("a huge thread", post_body(content={"text": "t", "thread": [{"text": "p"}] * 5000}), "content.thread"),
        ("text of 1 MB", post_body(content={"text": "a" * 900_000}), "content.text"),
        ("a lone surrogate: not UTF-8, so not JSON", post_body(content={"text": "\ud800"}), "body"),
    ]
    return cases


@pytest.mark.parametrize(("name", "body", "field"), creation_cases(), ids=[c[0] for c in creation_cases()])
def test_hostile_creations_are_refused_naming_the_field(store_url: str, name: str, body: Any, field: str) -> None:
    async def scenario(api: Api) -> None:
        status, answer, headers = await asyncio.wait_for(api.call("POST", "/posts", body), BOUND)
        assert 400 <= status < 500, (name, status, answer)
        assert set(answer) >= {"code", "message", "field"} and answer["field"], answer
        assert answer["field"].split("[")[0].startswith(field.split(".")[0]), (name, answer)
        assert headers["Content-Type"].startswith("application/json") and "X-Request-Id" in headers
        _, page, _ = await api.call("GET", "/posts")
        assert page["items"] == []  # nothing written

    run_api(store_url, scenario)


QUERIES = [  # 400: unknown, or not of the documented shape; 422: well formed, refused for its meaning
    ("limit=0", 400, "limit"),
    ("limit=101", 400, "limit"),
    ("limit=" + "9" * 40, 400, "limit"),
    ("limit=-1", 400, "limit"),
    ("limit=1.5", 400, "limit"),
    ("limit=%EF%BC%95", 400, "limit"),  # a full-width digit
    ("cursor=OTIyMzM3MjAzNjg1NDc3NTgwOA==", 422, "cursor"),  # 2^63
    ("cursor=MTg0NDY3NDQwNzM3MDk1NTE2MTY=", 422, "cursor"),  # 2^64
    ("cursor=LTE=", 422, "cursor"),  # -1
    ("cursor=%%%", 400, "cursor"),
    ("cursor=%C2%81%2B", 400, "cursor"),
    ("cursor=" + "A" * 5000, 400, "cursor"),
    ("status=bogus", 400, "status"),
    ("status=QUEUED", 400, "status"),
    ("platform=twitter", 400, "platform"),
    ("account=a%00b", 400, "account"),
    ("external_id=%00", 400, "external_id"),
    ("scheduled_from=9999-12-31T23:00:00-05:00", 422, "scheduled_from"),
    ("scheduled_to=tomorrow", 422, "scheduled_to"),
    ("scheduled_from=2030-01-01T09:00", 422, "scheduled_from"),
    ("state=queued", 400, "state"),  # not a filter: named, not ignored
]


@pytest.mark.parametrize(("query", "status", "field"), QUERIES, ids=[q for q, _, _ in QUERIES])
def test_hostile_list_queries_are_refused_naming_the_parameter(
    store_url: str, query: str, status: int, field: str
) -> None:
    async def scenario(api: Api) -> None:
        got, answer, _ = await asyncio.wait_for(api.call("GET", f"/posts?{query}"), BOUND)
        assert (got, answer["field"]) == (status, field), answer

    run_api(store_url, scenario)


def test_hostile_revisions_and_plans(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, post, _ = await api.call("POST", "/posts", post_body())
        path = f"/posts/{post['id']}"
        for value in EXTREME_INSTANTS:
            status, answer, _ = await api.call("PATCH", path, {"scheduled_at": value}, headers={"If-Match": "2"})
            assert 400 <= status < 500 and answer["field"] in ("scheduled_at", "body"), (value, status, answer)
            _, report, _ = await api.call("POST", "/plans/dry-run", {"items": [post_body(scheduled_at=value)]})
            assert report["problems"] and report["problems"][0]["index"] == 0, (value, report)
        for zone in ZONES:
            body = {"scheduled_at": "2030-01-01T09:00", "timezone": zone}
            status, answer, _ = await api.call("PATCH", path, body, headers={"If-Match": "2"})
            assert status in (400, 422) and answer["field"] == "timezone", (zone, status, answer)
        for match in ("", " ", "abc", "W/", '"', "99999999999999999999999", "-1"):
            status, answer, _ = await api.call("PATCH", path, {"content": {"text": "x"}}, headers={"If-Match": match})
            assert status in (412, 428) and answer["field"] == "If-Match", (match, status, answer)
        _, again, _ = await api.call("GET", path)
        assert again["version"] == post["version"]  # nothing changed

    run_api(store_url, scenario)


def test_duplicate_account_names_are_409(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        assert (await api.call("POST", "/accounts", ACCOUNT))[0] == 201
        status, answer, _ = await api.call("POST", "/accounts", ACCOUNT)
        assert (status, answer["code"], answer["field"]) == (409, "account_exists", "name")
        racing = await asyncio.gather(*(api.call("POST", "/accounts", {**ACCOUNT, "name": "race"}) for _ in range(5)))
        assert sorted(status for status, _, _ in racing) == [201, 409, 409, 409, 409]

    run_api(store_url, scenario)


def test_ids_of_other_kinds_of_thing_are_404_like_random_ones(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        other, _ = api.ctx.workspaces.create("Elsewhere")
        _, account, _ = await api.call("POST", "/accounts", ACCOUNT)
        _, hook, _ = await api.call("POST", "/webhooks", {"url": "https://hooks.example/h", "events": ["post.failed"]})
        account_id = str(api.ctx.accounts.many([(api.workspace, "acme")])[(api.workspace, "acme")].id)
        api.ctx.webhooks.plan(
            workspace=str(other),
            endpoint_id="we_1",
            url="https://x.example/h",
            event_type="post.failed",
            subject="s",
            payload={"type": "post.failed"},
        )
        delivery = str(delivery_id("we_1", "s", "post.failed"))  # another workspace's webhook delivery
        for thing in (str(other), api.workspace, account_id, delivery, "00000000-0000-4000-8000-000000000000"):
            for method, path in (("GET", f"/posts/{thing}"), ("POST", f"/posts/{thing}/cancel")):
                status, answer, _ = await api.call(method, path)
                assert (status, answer["code"]) == (404, "post_not_found"), (thing, status, answer)
            status, answer, _ = await api.call("GET", f"/posts/{thing}/timeline")
            assert (status, answer["code"]) == (404, "post_not_found"), (thing, status, answer)
        assert hook["endpoint_id"] and account["name"] == "acme"

    run_api(store_url, scenario)


def test_methods_a_route_lacks_are_405_with_allow(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        for method, path, allowed in (
            ("PUT", "/posts", "GET, POST"),
            ("DELETE", "/accounts", "GET, POST"),
            ("POST", "/posts/00000000-0000-4000-8000-000000000000", "GET, PATCH"),
            ("DELETE", "/posts/00000000-0000-4000-8000-000000000000", "GET, PATCH"),
        ):
            status, answer, headers = await api.call(method, path, {})
            assert (status, answer["code"], headers["Allow"]) == (405, "method_not_allowed", allowed)
            assert "RateLimit-Limit" in headers

    run_api(store_url, scenario)


def test_every_answer_has_rate_limit_headers_and_a_request_id(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        cases = [
            ("GET", "/posts", None, {}),  # a caller's answer
            ("GET", "/posts", "hk_bad_key_x", {}),  # 401
            ("GET", "/nowhere", None, {}),  # unknown route, authenticated
        ]
        for method, path, key, headers in cases:
            _, _, answer = await api.call(method, path, key=key, headers=headers)
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} <= set(answer)
            assert answer["X-Request-Id"]
        async with api.session.get(f"{api.root}/v1/nowhere") as answer:  # a stranger, an unknown route
            assert answer.status == 404 and answer.headers["RateLimit-Policy"].startswith('"failed-auth"')
        _, _, echoed = await api.call("GET", "/posts", headers={"X-Request-Id": "trace-42"})
        assert echoed["X-Request-Id"] == "trace-42"
        _, _, replaced = await api.call("GET", "/posts", headers={"X-Request-Id": "bad id\twith tab"})
        assert replaced["X-Request-Id"] != "bad id\twith tab"

    run_api(store_url, scenario)


def test_a_stranger_guessing_keys_is_slowed_down(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_API_FAILED_AUTH_PER_MINUTE", "3")

    async def scenario(api: Api) -> None:
        statuses = [(await api.call("GET", "/posts", key=f"hk_guess_{n}"))[0] for n in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        api.clock.advance(seconds=61)
        assert (await api.call("GET", "/posts"))[0] == 200

    run_api(sqlite_url, scenario)


def test_created_resources_have_a_location_and_posts_an_etag(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, post, headers = await api.call("POST", "/posts", post_body(), idem="loc-1")
        assert status == 201 and headers["Location"].endswith(f"/posts/{post['id']}")
        _, _, replayed = await api.call("POST", "/posts", post_body(), idem="loc-1")
        assert replayed["Location"] == headers["Location"]
        _, _, read = await api.call("GET", f"/posts/{post['id']}")
        assert read["ETag"] == f'"{post["version"]}"'
        status, account, headers = await api.call("POST", "/accounts", ACCOUNT)
        assert status == 201, account
        assert headers["Location"].endswith("/accounts/acme")
        hook_body = {"url": "https://hooks.example/h", "events": ["post.failed"]}
        _, hook, headers = await api.call("POST", "/webhooks", hook_body)
        status, again, _ = await api.call("GET", headers["Location"].split(api.workspace, 1)[1])
        assert status == 200 and again["endpoint_id"] == hook["endpoint_id"] and not again.get("secret")

    run_api(store_url, scenario)


def test_concurrent_patches_lose_with_412_only(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, post, _ = await api.call("POST", "/posts", post_body())
        version = str(post["version"])
        answers = await asyncio.gather(
            *(
                api.call("PATCH", f"/posts/{post['id']}", {"content": {"text": f"v{n}"}}, headers={"If-Match": version})
                for n in range(8)
            )
        )
        statuses = sorted(status for status, _, _ in answers)
        assert statuses.count(200) == 1 and set(statuses[1:]) == {412}, statuses
        assert {answer["code"] for status, answer, _ in answers if status == 412} == {"version_mismatch"}

    run_api(store_url, scenario)


def test_posts_for_accounts_that_do_not_exist_are_refused(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, answer, _ = await api.call("POST", "/posts", post_body(account="ghost"))
        assert (status, answer["code"], answer["field"]) == (404, "account_not_found", "account")
        await api.call("POST", "/accounts", ACCOUNT)
        status, answer, _ = await api.call("POST", "/posts", post_body(account="acme", platform="mastodon"))
        assert (status, answer["code"], answer["field"]) == (422, "platform_mismatch", "platform")
        status, _, _ = await api.call("POST", "/posts", post_body(account="acme", platform="x"))
        assert status == 201

    run_api(store_url, scenario, generic_platform=False)


async def raw_exchange(api: Api, data: bytes, *, wait: float = BOUND) -> tuple[int, dict[str, Any], float]:
    """Send raw bytes on a fresh connection; the status and JSON body of the answer, and how long it took."""
    host, port = api.root.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    began = loop.time()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}, loop.time() - began


def test_oversized_headers_and_bad_http_get_json(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        big = b"GET /v1/workspaces/x/posts HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        status, body, _ = await raw_exchange(api, big)
        assert (status, body["code"], body["field"]) == (431, "header_too_large", "headers")
        status, body, _ = await raw_exchange(api, b"GARBAGE\x00 / HTTP/1.1\r\n\r\n")
        assert status == 400 and body["code"] == "bad_request"

    run_api(store_url, scenario)


def test_slow_clients_are_cut_with_408(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "HEAD_SECONDS", 1.0)
    monkeypatch.setattr(server, "BODY_SECONDS", 1.0)

    async def scenario(api: Api) -> None:
        path = f"/v1/workspaces/{api.workspace}/posts"
        short_body = (
            f"POST {path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {api.key}\r\nIdempotency-Key: s1\r\n"
            'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"account":'
        ).encode()
        status, body, took = await raw_exchange(api, short_body)
        assert (status, body["code"]) == (408, "request_timeout") and took < 5, took
        half_head = f"GET {path} HTTP/1.1\r\nHost: a\r\n".encode()  # and never the blank line
        status, body, took = await raw_exchange(api, half_head)
        assert (status, body["code"]) == (408, "request_timeout") and took < 5, took
        assert (await api.call("GET", "/posts"))[0] == 200  # everyone else is served meanwhile

    run_api(sqlite_url, scenario)


def test_connections_beyond_the_bound_are_told_503(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 3)

    async def scenario(api: Api) -> None:
        host, port = api.root.removeprefix("http://").split(":")
        held = [await asyncio.open_connection(host, int(port)) for _ in range(3)]
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            raw = await asyncio.wait_for(reader.read(), BOUND)
            writer.close()
            assert raw.startswith(b"HTTP/1.1 503") and b"too_many_connections" in raw
        finally:
            for _, writer in held:
                writer.close()

    run_api(sqlite_url, scenario)


def test_concurrent_changes_to_one_workspace_all_land(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        body = {"url": "https://hooks.example/h", "events": ["post.failed"]}
        answers = await asyncio.gather(*(api.call("POST", "/webhooks", body) for _ in range(8)))
        assert [status for status, _, _ in answers] == [201] * 8
        removed = await asyncio.gather(
            *(api.call("DELETE", f"/webhooks/{made['endpoint_id']}") for _, made, _ in answers[:4])
        )
        assert [status for status, _, _ in removed] == [200] * 4
        _, listed, _ = await api.call("GET", "/webhooks")
        assert len(listed["items"]) == 4
        status, gone, _ = await api.call("DELETE", f"/webhooks/{answers[0][1]['endpoint_id']}")
        assert (status, gone["code"]) == (404, "endpoint_not_found")

    run_api(store_url, scenario)
