"""Prometheus metrics (`prometheus-client`): what each process counts, and `GET /metrics`.

Labels are routes, methods, statuses, platforms, outcomes and states: never a post, an
account or a workspace, so the number of series stays fixed however many there are.

Counted as things happen: API latency by route and status, requests in flight, attempts by
platform and outcome, the due lag of first attempts (due → sent), 429 pauses, webhook
deliveries by outcome. Read from the store at each scrape: posts by state (from the due
index), each projection's lag behind the log in events, quarantined events.

Several processes (`herald serve --only …` in each): point `PROMETHEUS_MULTIPROC_DIR` at one
empty directory for all of them (cleared before they start); the API's `/metrics` then sums
every process's counts (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

API_SECONDS = Histogram(
    "herald_api_request_seconds",
    "API requests by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge("herald_api_requests_in_flight", "API requests being answered", multiprocess_mode="livesum")
ATTEMPTS = Counter("herald_attempts_total", "Attempts answered, by platform and outcome", ["platform", "outcome"])
DUE_LAG = Histogram(
    "herald_due_lag_seconds",
    "Seconds from a post's due time to its first attempt",
    ["platform"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PAUSES = Counter("herald_rate_limit_pauses_total", "Accounts paused after a 429, by platform", ["platform"])
HELD_BACK = Gauge(
    "herald_accounts_held_back",
    "Accounts the dispatchers' pacers hold back now: a full posting window, or a 429's pause",
    multiprocess_mode="livesum",
)
REFUSED = Counter(
    "herald_claims_refused_total",
    "Claims refused, by code: another worker had the post, or a lagging due index listed one already done",
    ["code"],
)
WEBHOOKS = Counter("herald_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"])
TOKEN = "HERALD_METRICS_TOKEN"  # the bearer token a scraper sends; /metrics is off without it


class PrometheusMetrics:
    """The services' `Metrics` port, counted in this process."""

    def attempted(self, platform: str, outcome: str, due_lag: float | None) -> None:
        ATTEMPTS.labels(platform, outcome).inc()
        if due_lag is not None:
            DUE_LAG.labels(platform).observe(max(0.0, due_lag))

    def paused(self, platform: str) -> None:
        PAUSES.labels(platform).inc()

    def held_back(self, accounts: int) -> None:
        HELD_BACK.set(accounts)

    def claim_refused(self, code: str) -> None:
        REFUSED.labels(code).inc()

    def webhook_delivered(self, outcome: str) -> None:
        WEBHOOKS.labels(outcome).inc()


class StoreCollector(Collector):
    """Gauges read from the store when scraped: posts by state, projection lag, quarantine."""

    def __init__(self, herald: Callable[[], Herald]) -> None:
        self.herald = herald

    def collect(self) -> Iterator[GaugeMetricFamily]:
        herald = self.herald()
        posts = GaugeMetricFamily("herald_posts", "Posts in the due index, by state", labels=["state"])
        for state, count in sorted(herald.due_index.counts().items()):
            posts.add_metric([state], count)
        yield posts
        last = herald.projections.last_position()
        lag = GaugeMetricFamily(
            "herald_projection_lag_events", "Events in the log a projection has not folded yet", labels=["projection"]
        )
        seconds = GaugeMetricFamily(
            "herald_projection_lag_seconds",
            "How long ago the oldest event a projection has not folded happened (0 when caught up)",
            labels=["projection"],
        )
        now = datetime.now(UTC)
        for name, position in sorted(herald.projections.positions().items()):
            lag.add_metric([name], max(0, last - position))
            seconds.add_metric([name], _age_of_event(herald, position + 1, now) if position < last else 0.0)
        yield lag
        yield seconds
        waiting = GaugeMetricFamily(
            "herald_oldest_waiting_seconds",
            "Age of the oldest post waiting, by state (ambiguous, attention, held), since its last change",
            labels=["state"],
        )
        for state, at in sorted(herald.due_index.oldest_changes().items()):
            waiting.add_metric([state], max(0.0, (now - datetime.fromisoformat(at)).total_seconds()))
        yield waiting
        yield GaugeMetricFamily(
            "herald_quarantined_events", "Events a projection set aside", value=len(herald.projections.quarantined())
        )


def _age_of_event(herald: Herald, position: int, now: datetime) -> float:
    """Seconds since the event at `position` in the log happened."""
    found = herald.events.recorder.select_notifications(position, 1)
    if not found:
        return 0.0
    event = herald.events.mapper.to_domain_event(found[0])
    happened: datetime = event.timestamp  # type: ignore[attr-defined]
    return max(0.0, (now - happened).total_seconds())


def exposition(herald: Callable[[], Herald]) -> tuple[bytes, str]:
    """The text a scraper reads: this process's counts (or every process's, in multiprocess
    mode) and the store's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (API_SECONDS, IN_FLIGHT, ATTEMPTS, DUE_LAG, PAUSES, WEBHOOKS):
            registry.register(collector)
    registry.register(StoreCollector(herald))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def token_ok(header: str) -> bool:
    """Whether `Authorization` carries the operator's metrics token (compared in constant time)."""
    wanted = os.environ.get(TOKEN, "")
    given = header.removeprefix("Bearer ").strip()
    return bool(wanted) and hmac.compare_digest(given.encode(), wanted.encode())


def route_of(request: Any) -> str:
    """The route template a request matched (`/v1/workspaces/{workspace_id}/posts/{post_id}`),
    never its concrete path; `unmatched` for anything else."""
    info = getattr(request, "match_info", None)
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = getattr(resource, "canonical", None)
    return str(canonical) if canonical else "unmatched"


@web.middleware
async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request by its route template and status (outermost: it sees the answer
    the client gets)."""
    started = time.perf_counter()
    IN_FLIGHT.inc()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as http:
        status = http.status
        raise
    finally:
        IN_FLIGHT.dec()
        API_SECONDS.labels(route_of(request), request.method, str(status)).observe(time.perf_counter() - started)


async def metrics_page(request: web.Request) -> web.Response:
    """`GET /metrics`, for a scraper that sends the operator's token; 404 when none is set."""
    from infrastructure.api.errors import error_body, json_response
    from infrastructure.api.keys import CTX

    if not os.environ.get(TOKEN):
        return json_response(error_body("metrics_off", f"set {TOKEN} to serve metrics", None), 404)
    if not token_ok(request.headers.get("Authorization", "")):
        return json_response(
            error_body("unauthenticated", f"send Authorization: Bearer <{TOKEN}>", "Authorization"), 401
        )
    herald = request.app[CTX].herald
    body, content_type = await asyncio.to_thread(exposition, lambda: herald)
    return web.Response(body=body, headers={"Content-Type": content_type})
