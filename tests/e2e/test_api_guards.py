"""Authentication, workspace isolation, idempotency and the rate limit, over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from infrastructure.api.guards import canonical
from infrastructure.api.routes import ROUTES
from tests.e2e.conftest import Api, post_body, run_api
from tests.media import image


def test_keys_missing_bad_revoked_or_short_of_scope(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        async with api.session.get(api.url("/posts")) as answer:
            assert answer.status == 401 and (await answer.json())["code"] == "unauthenticated"
        status, body, _ = await api.call("GET", "/posts", key=api.key[:-2] + "xx")
        assert (status, body["code"]) == (401, "unauthenticated")
        reader = api.ctx.workspaces.create_key(uuid.UUID(api.workspace), ["read"])
        assert (await api.call("GET", "/posts", key=reader))[0] == 200
        status, body, _ = await api.call("POST", "/posts", post_body(), key=reader)
        assert (status, body["code"]) == (403, "forbidden_scope")
        api.ctx.workspaces.revoke_key(uuid.UUID(api.workspace), reader.split("_")[2])
        assert (await api.call("GET", "/posts", key=reader))[0] == 401

    run_api(store_url, scenario)


def test_another_workspaces_key_finds_nothing_on_any_route(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, post, _ = await api.call("POST", "/posts", post_body())
        await api.call(
            "POST",
            "/accounts",
            {
                "name": "acme",
                "platform": "x",
                "handle": "a",
                "remote_user_id": "1",
                "credentials": {"access_token": "t"},
            },
        )
        _, hook, _ = await api.call("POST", "/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["post.failed"]})
        _, other_key = api.ctx.workspaces.create("Intruder")
        made = api.ctx.herald.media.add(api.workspace, image(), filename="a.png", alt_text="a square")
        values = {
            "post_id": post["id"],
            "name": "acme",
            "endpoint_id": hook["endpoint_id"],
            "media_id": made.id,
            "rule_id": uuid.uuid4(),
            "plan_id": uuid.uuid4(),
            "pool_id": uuid.uuid4(),
        }
        for route in ROUTES:
            path = route.path.removeprefix("/v1/workspaces/{workspace_id}").format(**values)
            body = {"items": [post_body()]} if "dry-run" in path else post_body()
            status, answer, _ = await api.call(
                route.method, path, body if route.body else None, key=other_key, headers={"If-Match": "1"}
            )
            assert status == 404, (route.method, route.path, status, answer)
            assert answer["code"] in ("post_not_found", "workspace_not_found")
        assert api.ctx.herald.media.get(api.workspace, str(made.id)).alt_text == "a square"
        status, still, _ = await api.call("GET", f"/posts/{post['id']}")
        assert status == 200 and still == post  # and nothing changed

    run_api(store_url, scenario)


def test_same_key_same_body_replays_and_creates_one_post(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        first = await api.call("POST", "/posts", post_body(), idem="order-1")
        again = await api.call("POST", "/posts", post_body(), idem="order-1")
        assert first[0] == again[0] == 201 and first[1] == again[1]
        assert "Idempotent-Replayed" not in first[2] and again[2]["Idempotent-Replayed"] == "true"
        status, body, _ = await api.call("POST", "/posts", post_body(external_id="other"), idem="order-1")
        assert (status, body["code"]) == (422, "idempotency_key_reused")
        status, body, _ = await api.call("POST", "/posts", post_body(), idem=None)
        assert (status, body["code"], body["field"]) == (400, "idempotency_key_missing", "Idempotency-Key")
        # as Stripe does: a refusal wrote nothing and is not kept, so the corrected body goes through
        refused = await api.call("POST", "/posts", post_body(content={"text": ""}), idem="bad-1")
        assert refused[0] == 422 and "Idempotent-Replayed" not in refused[2]
        corrected = await api.call("POST", "/posts", post_body(content={"text": "fixed"}), idem="bad-1")
        assert corrected[0] == 201 and "Idempotent-Replayed" not in corrected[2]
        _, page, _ = await api.call("GET", "/posts")
        assert len(page["items"]) == 2

    run_api(store_url, scenario)


def test_the_same_json_re_encoded_is_the_same_request(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        body = post_body(external_id="e-1")
        compact = json.dumps(body, separators=(",", ":")).encode()
        spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
        path = f"/v1/workspaces/{api.workspace}/posts"
        answers = []
        for raw in (compact, spaced):
            headers = {
                "Authorization": f"Bearer {api.key}",
                "Idempotency-Key": "k-1",
                "Content-Type": "application/json",
            }
            async with api.session.post(api.root + path, data=raw, headers=headers) as answer:
                answers.append((answer.status, await answer.json(), answer.headers.get("Idempotent-Replayed")))
        assert [a[0] for a in answers] == [201, 201] and answers[0][1] == answers[1][1]
        assert answers[1][2] == "true"

    run_api(store_url, scenario)


def test_a_rate_limited_request_goes_through_with_the_same_key_once_the_window_passed(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        assert (await api.call("POST", "/posts", post_body(), idem="first"))[0] == 201
        status, body, headers = await api.call("POST", "/posts", post_body(external_id="late"), idem="later")
        assert (status, body["code"]) == (429, "rate_limited") and int(headers["Retry-After"]) > 0
        api.clock.advance(seconds=61)
        status, body, headers = await api.call("POST", "/posts", post_body(external_id="late"), idem="later")
        assert status == 201 and "Idempotent-Replayed" not in headers

    run_api(store_url, scenario, creations_per_minute=1)


def test_a_key_still_in_flight_is_409(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        raw = json.dumps(post_body()).encode()
        path = f"/v1/workspaces/{api.workspace}/posts"
        request_hash = hashlib.sha256(b"POST " + path.encode() + b"\n" + canonical(raw)).hexdigest()
        assert api.ctx.idempotency.begin(api.workspace, "slow-1", request_hash) is None  # another request holds it
        headers = {
            "Authorization": f"Bearer {api.key}",
            "Idempotency-Key": "slow-1",
            "Content-Type": "application/json",
        }
        async with api.session.post(api.url("/posts"), data=raw, headers=headers) as answer:
            assert answer.status == 409 and (await answer.json())["code"] == "idempotency_key_in_use"

    run_api(store_url, scenario)


def test_a_key_is_replayed_for_a_day_and_an_abandoned_one_is_taken_over(store_url: str) -> None:
    """Kept at least 24 hours (48 here), then forgotten; in flight for over a minute (its request
    died), taken over by the next request with the key."""

    async def scenario(api: Api) -> None:
        body = post_body(scheduled_at="2027-06-01T12:00:00Z")
        first = await api.call("POST", "/posts", body, idem="kept")
        api.clock.advance(hours=47)
        again = await api.call("POST", "/posts", body, idem="kept")
        assert again[0] == 201 and again[1] == first[1] and again[2]["Idempotent-Replayed"] == "true"
        api.clock.advance(hours=2)
        later = await api.call("POST", "/posts", body, idem="kept")
        assert later[0] == 201 and "Idempotent-Replayed" not in later[2] and later[1]["id"] != first[1]["id"]
        raw = json.dumps(body).encode()
        path = f"/v1/workspaces/{api.workspace}/posts"
        request_hash = hashlib.sha256(b"POST " + path.encode() + b"\n" + canonical(raw)).hexdigest()
        assert api.ctx.idempotency.begin(api.workspace, "died", request_hash) is None  # its request died
        api.clock.advance(seconds=61)
        taken = await api.call("POST", "/posts", body, idem="died")
        assert taken[0] == 201 and "Idempotent-Replayed" not in taken[2]
        assert (await api.call("POST", "/posts", body, idem="died"))[1] == taken[1]
        _, page, _ = await api.call("GET", "/posts")
        assert len(page["items"]) == 3

    run_api(store_url, scenario)


def test_a_client_retrying_after_a_timeout_creates_one_post(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        host, port = api.root.removeprefix("http://").split(":")
        raw = json.dumps(post_body(external_id="once")).encode()
        request = (
            f"POST /v1/workspaces/{api.workspace}/posts HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {api.key}\r\nIdempotency-Key: retry-1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n"
        ).encode() + raw
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        writer.close()  # the client gives up before any answer: it timed out
        await asyncio.sleep(0)
        for _ in range(100):  # the retry: replayed once the first finished, 409 while it is in flight
            status, body, _ = await api.call("POST", "/posts", post_body(external_id="once"), idem="retry-1")
            if status != 409:
                break
            await asyncio.sleep(0.05)
        assert status == 201
        _, page, _ = await api.call("GET", "/posts?external_id=once")
        assert len(page["items"]) == 1 and page["items"][0]["id"] == body["id"]

    run_api(store_url, scenario)


def test_the_creation_rate_limit(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        for n in range(3):
            status, _, headers = await api.call("POST", "/posts", post_body())
            assert status == 201 and headers["RateLimit-Remaining"] == str(2 - n)
        status, body, headers = await api.call("POST", "/posts", post_body())
        assert (status, body["code"]) == (429, "rate_limited")
        assert int(headers["Retry-After"]) > 0 and headers["RateLimit-Remaining"] == "0"
        status, _, headers = await api.call("GET", "/posts")
        assert status == 200 and headers["RateLimit-Limit"] == "3"  # on every answer
        api.clock.advance(seconds=61)
        assert (await api.call("POST", "/posts", post_body()))[0] == 201

    run_api(store_url, scenario, creations_per_minute=3)


def test_the_openapi_document_is_generated_and_complete(sqlite_url: str) -> None:
    async def scenario(api: Api) -> None:
        async with api.session.get(f"{api.root}/v1/openapi.json") as answer:
            doc = await answer.json()
        assert doc["openapi"].startswith("3.1")
        for route in ROUTES:
            operation = doc["paths"][route.path][route.method.lower()]
            assert "422" in operation["responses"] and "401" in operation["responses"]
        assert "CreatePost" in doc["components"]["schemas"] and "ErrorOut" in doc["components"]["schemas"]
        operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
        links = [
            link
            for path in doc["paths"].values()
            for op in path.values()
            for answer in op["responses"].values()
            for link in answer.get("links", {}).values()
        ]
        assert len(links) >= 10 and {link["operationId"] for link in links} <= operations
        for path in doc["paths"].values():  # what the server refuses, the document refuses too
            for op in path.values():
                for parameter in op["parameters"]:
                    if parameter["in"] == "header":
                        assert parameter["schema"]["minLength"] == 1, parameter

    run_api(sqlite_url, scenario)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_unsupported_methods_are_json(sqlite_url: str, method: str) -> None:
    async def scenario(api: Api) -> None:
        async with api.session.request(method, api.url("/posts"), headers={"Authorization": f"Bearer {api.key}"}) as a:
            assert a.status == 405 and (await a.json())["code"] == "method_not_allowed"

    run_api(sqlite_url, scenario)
