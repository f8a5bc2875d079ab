"""GET /metrics over real HTTP: off without the operator's token, refused without it, and
after a real publish through the simulator it shows the request, the attempt and its due lag,
posts by state and projection lag, with no post, account or workspace in any label."""

from __future__ import annotations

import aiohttp
import pytest

from infrastructure.platforms.simulator import Simulator, start
from services.dispatcher import DispatchSettings
from tests.e2e.conftest import Api, post_body, run_api


@pytest.mark.parametrize("token", [None, "s3cret-metrics-token"])
def test_metrics_need_the_operators_token_and_name_no_tenant(
    store_url: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if token:
        monkeypatch.setenv("HERALD_METRICS_TOKEN", token)
    else:
        monkeypatch.delenv("HERALD_METRICS_TOKEN", raising=False)

    async def scenario(api: Api) -> None:
        metrics = f"{api.root}/metrics"
        if token is None:
            async with api.session.get(metrics) as answer:
                assert answer.status == 404 and (await answer.json())["code"] == "metrics_off"
            return
        for header in ({}, {"Authorization": f"Bearer {api.key}"}, {"Authorization": "Bearer wrong"}):
            async with api.session.get(metrics, headers=header) as answer:
                assert answer.status == 401  # a workspace key is no operator token
        _, post, _ = await api.call("POST", "/posts", post_body(mode="now", scheduled_at=None))
        await api.call("POST", "/posts", post_body(scheduled_at="2026-12-24T09:00:00Z"))  # stays queued
        runner, port = await start(Simulator())
        sim_url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                router = api.ctx.herald.simulator_router(sim_url, session, timeout=2)
                await api.ctx.herald.dispatcher(router, DispatchSettings("w")).tick()
        finally:
            await runner.cleanup()
        async with api.session.get(metrics, headers={"Authorization": f"Bearer {token}"}) as answer:
            assert answer.status == 200 and answer.content_type == "text/plain"
            text = await answer.text()
        assert 'herald_attempts_total{outcome="accepted",platform="mastodon"}' in text
        assert 'herald_due_lag_seconds_count{platform="mastodon"}' in text
        assert 'route="/v1/workspaces/{workspace_id}/posts"' in text and 'status="201"' in text
        assert 'herald_posts{state="queued"}' in text  # as the due index has folded the log so far
        assert 'herald_projection_lag_events{projection="due_index"}' in text  # and how far behind it is
        assert "herald_projection_lag_events{" in text and "herald_quarantined_events" in text
        assert 'herald_projection_lag_seconds{projection="due_index"}' in text  # and how long ago
        assert "herald_api_requests_in_flight 1.0" in text  # the scrape itself is in flight
        assert "# TYPE herald_oldest_waiting_seconds gauge" in text  # nothing waits here: no sample
        for secret in (post["id"], api.workspace, "acme"):
            assert secret not in text  # no tenant in any label

    run_api(store_url, scenario)


def test_a_429_moves_the_pause_counter_and_holds_the_account_back(sqlite_url: str) -> None:
    from prometheus_client import REGISTRY

    def pauses() -> float:
        return REGISTRY.get_sample_value("herald_rate_limit_pauses_total", {"platform": "mastodon"}) or 0.0

    def held_back() -> float | None:
        return REGISTRY.get_sample_value("herald_accounts_held_back")

    async def scenario(api: Api) -> None:
        await api.call("POST", "/posts", post_body(mode="now", scheduled_at=None))
        runner, port = await start(Simulator(faults={"http_429": 1.0}))
        before = pauses()
        try:
            async with aiohttp.ClientSession() as session:
                router = api.ctx.herald.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2)
                dispatcher = api.ctx.herald.dispatcher(router, DispatchSettings("w"))
                await dispatcher.tick()
                assert held_back() == 0  # nothing held back when the first tick looked
                await dispatcher.tick()  # the next tick sees the account paused until its reset
        finally:
            await runner.cleanup()
        assert pauses() == before + 1
        assert held_back() == 1

    run_api(sqlite_url, scenario)
