"""Server-side request forgery: no account or webhook URL makes Herald send a token or a
request to a private address, unless the operator allowed it (HERALD_ALLOW_PRIVATE_TARGETS)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from domain.outcomes import Observation, Observed
from infrastructure.platforms.http import Http
from infrastructure.targets import TargetPolicy, TargetRefused, outbound_session
from tests.e2e.conftest import Api, run_api

PUBLIC = "93.184.215.14"
DNS = {"mastodon.social": [PUBLIC], "inside.example": ["10.0.0.7"], "mixed.example": [PUBLIC, "127.0.0.1"]}
STRICT = TargetPolicy(allow_private=False, resolve=lambda host: DNS.get(host, []))


@pytest.mark.parametrize(
    ("platform", "url"),
    [
        ("x", "https://api.x.com"),
        ("x", "https://api.twitter.com/"),
        ("linkedin", "https://api.linkedin.com"),
        ("threads", "https://graph.threads.net"),
        ("mastodon", "https://mastodon.social"),
        ("bluesky", "https://mastodon.social"),
    ],
)
def test_the_platforms_own_hosts_and_public_instances_are_accepted(platform: str, url: str) -> None:
    assert STRICT.account_url(url, platform) == url.rstrip("/")


@pytest.mark.parametrize(
    ("platform", "url", "why"),
    [
        ("x", "file:///etc/passwd", "https://"),
        ("x", "javascript:alert(1)", "https://"),
        ("x", "http://api.x.com", "https://"),
        ("x", "https://evil.example", "api.x.com"),
        ("x", "https://api.x.com:8443", "443"),
        ("x", "https://user:pw@api.x.com", "password"),
        ("mastodon", "https://127.0.0.1", "private"),
        ("mastodon", "https://[::1]", "private"),
        ("mastodon", "https://[::ffff:127.0.0.1]", "private"),
        ("mastodon", "https://169.254.169.254", "private"),
        ("mastodon", "https://inside.example", "private"),
        ("mastodon", "https://mixed.example", "private"),
        ("bluesky", "https://nowhere.example", "does not resolve"),
        ("mastodon", "https://", "host"),
        ("mastodon", "not a url", "https://"),
    ],
)
def test_private_foreign_and_odd_targets_are_refused(platform: str, url: str, why: str) -> None:
    with pytest.raises(TargetRefused) as refusal:
        STRICT.account_url(url, platform)
    assert why in refusal.value.message and refusal.value.field == "base_url"


def test_webhook_endpoints_must_be_https_on_public_hosts() -> None:
    assert STRICT.webhook_url("https://mastodon.social/hook") == "https://mastodon.social/hook"
    for url in ("http://mastodon.social/hook", "https://10.1.2.3/h", "https://inside.example/h", "gopher://x"):
        with pytest.raises(TargetRefused) as refusal:
            STRICT.webhook_url(url)
        assert refusal.value.field == "url"


def test_the_api_refuses_private_targets_unless_the_operator_allowed_them(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HERALD_ALLOW_PRIVATE_TARGETS")

    async def scenario(api: Api) -> None:
        account = {
            "name": "m",
            "platform": "mastodon",
            "handle": "m",
            "remote_user_id": "1",
            "credentials": {"access_token": "secret-token"},
            "base_url": "http://127.0.0.1:8080",
        }
        status, answer, _ = await api.call("POST", "/accounts", account)
        assert (status, answer["code"], answer["field"]) == (422, "target_refused", "base_url")
        status, answer, _ = await api.call("POST", "/webhooks", {"url": "https://127.0.0.1/h", "events": []})
        assert status == 422 and answer["field"] in ("url", "events")
        status, answer, _ = await api.call(
            "POST", "/webhooks", {"url": "https://192.168.1.1/h", "events": ["post.failed"]}
        )
        assert (status, answer["code"], answer["field"]) == (422, "target_refused", "url")
        _, accounts, _ = await api.call("GET", "/accounts")
        assert accounts["items"] == []

    run_api(sqlite_url, scenario)


class Trap:
    """A server on 127.0.0.1 that counts what reaches it (nothing should)."""

    def __init__(self) -> None:
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"id": "1"})

    async def start(self) -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def test_every_connection_is_checked_where_it_goes_dns_rebinding_included() -> None:
    async def main() -> None:
        trap = Trap()
        runner, port = await trap.start()
        try:
            async with outbound_session(allow_private=False) as session:
                http = Http(session, timeout=2)
                for url in (f"http://127.0.0.1:{port}/v1/x", f"http://localhost:{port}/v1/x"):
                    # a name may have resolved to a public address when it was registered
                    answer = await http.request("POST", url, body=b"{}", headers={"Authorization": "Bearer t"})
                    assert isinstance(answer, Observed) and answer.kind is Observation.CONNECT_ERROR, answer
            assert trap.hits == 0
            async with outbound_session(allow_private=False, trusted=f"http://127.0.0.1:{port}") as session:
                answer = await Http(session, timeout=2).request("GET", f"http://127.0.0.1:{port}/generic")
                assert not isinstance(answer, Observed) and answer.status == 200  # the operator's own simulator
            async with outbound_session(allow_private=True) as session:
                answer = await Http(session, timeout=2).request("GET", f"http://localhost:{port}/v1/x")
                assert not isinstance(answer, Observed) and answer.status == 200
            assert trap.hits == 2
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_redirects_are_never_followed() -> None:
    async def main() -> None:
        trap = Trap()
        trap_runner, trap_port = await trap.start()
        app = web.Application()

        async def bounce(_: web.Request) -> web.Response:
            raise web.HTTPFound(f"http://127.0.0.1:{trap_port}/stolen")

        app.router.add_post("/", bounce)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with outbound_session(allow_private=True) as session:
                answer = await Http(session, timeout=2).request("POST", f"http://127.0.0.1:{port}/", body=b"{}")
                assert not isinstance(answer, Observed) and answer.status == 302
            assert trap.hits == 0
        finally:
            await runner.cleanup()
            await trap_runner.cleanup()

    asyncio.run(main())


class CookieSetter(Trap):
    """A platform that sets a cookie on every answer, and notes the Cookie header each
    request brought."""

    def __init__(self) -> None:
        super().__init__()
        self.brought: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.brought.append(request.headers.get("Cookie"))
        answer = web.json_response({"id": str(len(self.brought))})
        answer.set_cookie("session", f"for-{request.headers.get('Authorization', '')[-1:]}")
        return answer


@pytest.mark.parametrize("allow_private", [True, False])
def test_a_cookie_one_answer_sets_never_rides_on_another_request(allow_private: bool) -> None:
    """One session serves every account and webhook endpoint, so a cookie kept from tenant A's
    answer would be sent with tenant B's request to the same host."""

    async def main() -> None:
        platform = CookieSetter()
        runner, port = await platform.start()
        url = f"http://localhost:{port}/v1/statuses"
        try:
            async with outbound_session(allow_private=allow_private, trusted=url) as session:
                http = Http(session, timeout=2)
                for token in ("Bearer a", "Bearer b"):
                    answer = await http.request("POST", url, body=b"{}", headers={"Authorization": token})
                    assert not isinstance(answer, Observed) and answer.status == 200, answer
        finally:
            await runner.cleanup()
        assert platform.brought == [None, None]

    asyncio.run(main())
