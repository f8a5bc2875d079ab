"""The one place where Herald is wired: which store, which clock, which settings, which parts.

`bootstrap(url)` builds a `Herald`: one event store with one pool of connections, the read
models over that pool, and every service, each given its ports through its constructor.
Every kind of process (the API, a dispatcher, the projection runner, `serve`, each CLI
command) starts here, and takes from it the parts it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from infrastructure.media.inspect import inspect as inspect_media
from infrastructure.media.store import FolderMediaStore
from infrastructure.persistence.connections import PostgresReadStore, ReadStore, SQLiteReadStore
from infrastructure.persistence.due_index import SqlDueIndex
from infrastructure.persistence.events import HeraldEvents
from infrastructure.persistence.opening import opened
from infrastructure.persistence.post_list import SqlPostList
from infrastructure.persistence.projection_store import SqlProjectionStore
from infrastructure.persistence.stats import SqlStats
from infrastructure.persistence.timeline import SqlTimeline
from infrastructure.persistence.webhook_outbox import SqlOutbox
from infrastructure.secrets import Sealer
from infrastructure.settings import settings_from_env, whole_number
from infrastructure.store import database_url, store_env
from infrastructure.targets import TargetPolicy
from infrastructure.zones import parse_instant, zone
from projections.due_index import DueIndex
from projections.post_list import PostList
from projections.runner import Projection, ProjectionRunner
from projections.webhook_outbox import WebhookOutbox
from services.account_service import AccountService
from services.booking import Booking, IndexBookings
from services.content_rules import ContentRules
from services.dispatching import DispatchCommands
from services.evergreen import EvergreenService
from services.fanout import FanOut
from services.imports import Importer
from services.media import MediaService
from services.ports import Clock, system_clock
from services.post_repository import PostRepository
from services.posts import PostCommands
from services.queues import QueueService
from services.reconciler import Reconciler
from services.recurring import RuleService
from services.results import PostSettings
from services.webhook_sender import WebhookSender
from services.webhooks import WebhookService
from services.workspace_service import WorkspaceService

if TYPE_CHECKING:
    import aiohttp

    from infrastructure.api.context import Context
    from infrastructure.media.source import LibraryFiles
    from infrastructure.persistence.listener import Listener
    from infrastructure.persistence.partitions import Partitions
    from infrastructure.platforms.media_steps import Polling
    from services.dispatcher import Dispatcher, DispatchSettings
    from services.engagement import EngagementFetcher
    from services.pacing import Pacer
    from services.routing import AccountRouter, FixedRouter, Router


@dataclass
class Herald:
    """Every part of one Herald process, on one store. Close it when done."""

    events: HeraldEvents
    clock: Clock
    settings: PostSettings
    read_store: ReadStore
    projections: SqlProjectionStore
    due_index: SqlDueIndex
    timeline: SqlTimeline
    stats: SqlStats
    post_list: SqlPostList
    outbox: SqlOutbox
    rules: ContentRules
    booking: Booking
    posts: PostCommands
    dispatch: DispatchCommands
    accounts: AccountService
    workspaces: WorkspaceService
    webhooks: WebhookService
    media: MediaService
    recurring: RuleService
    plans: FanOut
    queues: QueueService
    evergreen: EvergreenService
    imports: Importer
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.events.env)

    def runner(self, projection: Projection, batch_size: int = 1000, suffix: str = "") -> ProjectionRunner:
        """A runner that folds `projection` from the log into its tables."""
        return ProjectionRunner(self.projections, projection, batch_size=batch_size, suffix=suffix)

    def failed_posts(self, workspace: str, reason: str, since: datetime | None = None) -> Iterator[UUID]:
        """Failed posts of `workspace` with `reason` (due at or after `since`), not sent again
        yet, oldest first, as the post list holds them (caught up first)."""
        from projections.post_list import PostList

        self.runner(PostList()).catch_up()
        after = 0
        filters = {"state": "failed", "reason": reason, "scheduled_from": since}
        while page := self.post_list.page(workspace, after, 500, filters):
            for view, _ in page:
                if view.get("failure_reason") == reason and not view.get("redriven_as"):
                    yield UUID(view["id"])
            after = page[-1][1]

    def reconciler(self, router: Router) -> Reconciler:
        return Reconciler(self.dispatch, self.due_index, router, self.clock)

    def dispatcher(
        self,
        router: Router,
        settings: DispatchSettings,
        *,
        listen: Any = None,
        pacer: Pacer | None = None,
        partitions: Partitions | None = None,
    ) -> Dispatcher:
        """A dispatcher with its reconciler and its due-index runner."""
        from infrastructure.metrics import PrometheusMetrics
        from services.dispatcher import Dispatcher

        runner = self.runner(DueIndex())
        reconciler = self.reconciler(router)
        return Dispatcher(
            self.dispatch,
            self.due_index,
            runner,
            reconciler,
            router,
            settings,
            clock=self.clock,
            pacer=pacer,
            listen=listen,
            metrics=PrometheusMetrics(),
            partitions=partitions,
        )

    def engagement_fetcher(self, router: Router) -> EngagementFetcher:
        """Fetches the platforms' counts of delivered posts at +1 h, +24 h and +7 d."""
        from infrastructure.persistence.engagement import SqlEngagementView
        from projections.engagement import EngagementProjection
        from services.engagement import EngagementFetcher

        view = SqlEngagementView(self.read_store)
        return EngagementFetcher(self.events, view, self.runner(EngagementProjection()), router, self.clock)

    def account_router(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 10.0,
        fallback_url: str | None = None,
        polling: Polling | None = None,
    ) -> AccountRouter:
        """Each post to its account's platform adapter; unknown accounts to `fallback_url` if given."""
        from infrastructure.platforms.catalog import adapters
        from infrastructure.platforms.http import Http
        from infrastructure.platforms.simulated import SimulatedPlatform
        from infrastructure.settings import media_polling
        from services.routing import AccountRouter

        http = Http(session, timeout=timeout)
        fallback = SimulatedPlatform(fallback_url, session, self.clock, timeout=timeout) if fallback_url else None
        return AccountRouter(
            self.accounts,
            self.dispatch,
            adapters(http, self.clock, self.files(), polling or media_polling()),
            clock=self.clock,
            fallback=fallback,
        )

    def files(self) -> LibraryFiles:
        """The media library as adapters read it; its signed links (HERALD_PUBLIC_URL, keyed by
        HERALD_SECRET_KEY) are made on first use."""
        from infrastructure.media.signed import MediaLinks, public_base
        from infrastructure.media.source import LibraryFiles
        from infrastructure.secrets import secret_key

        def links() -> MediaLinks:
            return MediaLinks(secret_key(purpose="media links cannot be signed"), public_base(), self.clock)

        return LibraryFiles(self.media, links)

    def simulator_router(self, base_url: str, session: aiohttp.ClientSession, timeout: float) -> FixedRouter:
        """Every post to the generic platform simulator at `base_url`, whatever its account."""
        from infrastructure.platforms.simulated import SimulatedPlatform
        from services.routing import FixedRouter

        return FixedRouter(SimulatedPlatform(base_url, session, self.clock, timeout=timeout))

    def webhook_sender(self) -> WebhookSender:
        endpoints_of = lambda workspace: [  # noqa: E731
            (e.endpoint_id, e.url, e.events) for e in self.workspaces.endpoints(workspace)
        ]
        from infrastructure.metrics import PrometheusMetrics

        runner = self.runner(WebhookOutbox(endpoints_of))
        sealer = lambda: self.accounts.sealer  # noqa: E731
        return WebhookSender(self.webhooks, self.workspaces, sealer, self.outbox, runner, metrics=PrometheusMetrics())

    def api_context(self, creations_per_minute: int | None = None, *, generic_platform: bool = False) -> Context:
        """Everything the HTTP API needs. With `generic_platform` (a dispatcher sends posts of
        unconnected accounts to a generic platform: --platform-url), a post may name an
        account that is not connected; otherwise it is refused (404 account_not_found)."""
        from infrastructure.api.context import Context
        from infrastructure.api.strangers import Strangers
        from infrastructure.persistence.idempotency import IdempotencyStore
        from infrastructure.persistence.rate_limit import RateLimiter

        limit = creations_per_minute or whole_number("HERALD_API_CREATIONS_PER_MINUTE", 120)
        if self.booking.bookings is not None:  # a long-lived process: copies in memory, kept by the log's tail
            from infrastructure.persistence.booked import KeptBookings
            from infrastructure.persistence.log_tail import LogTail, SeenVersions

            tail = LogTail(self.projections)
            self.booking.bookings = KeptBookings(self.read_store, tail, self.clock)
            self.accounts.seen = self.queues.seen = SeenVersions(tail, kinds=("Account", "AccountQueue"))
        return Context(
            herald=self,
            idempotency=IdempotencyStore(self.read_store, self.clock, sealer=lambda: self.accounts.sealer),
            limiter=RateLimiter(limit=limit, clock=self.clock, store=self.read_store),
            strangers=Strangers(limit=whole_number("HERALD_API_FAILED_AUTH_PER_MINUTE", 60), clock=self.clock),
            generic_platform=generic_platform,
        )

    def listener(self) -> Listener | None:
        """A LISTEN on new events (PostgreSQL), holding one connection of the pool; None on SQLite."""
        from infrastructure.persistence.listener import Listener

        if self.events.pool is None:
            return None
        listener = Listener(self.events.pool, self.events.recorder.channel_name)  # type: ignore[attr-defined]
        self._closers.append(listener.close)
        return listener

    def partitions(self, listener: Listener | None, worker: str) -> Partitions | None:
        """A dispatcher's place among the live ones (PostgreSQL, on its LISTEN connection), so
        dispatchers split the accounts instead of racing; None where there is no listener."""
        from infrastructure.persistence.partitions import Partitions

        if listener is None or listener.conn is None:
            return None
        schema = self.events.factory.datastore.schema  # type: ignore[attr-defined]
        return Partitions(listener.conn, self.events.pool, schema, worker)

    def close(self) -> None:
        """Close what was opened: listeners, the read store, the pool."""
        while self._closers:
            self._closers.pop()()
        self.read_store.close()
        self.events.close()


def bootstrap(
    url: str | None = None,
    *,
    clock: Clock = system_clock,
    settings: PostSettings | None = None,
    pool_size: int | None = None,
) -> Herald:
    """Herald on the store named by `url` (default: HERALD_DATABASE_URL).

    Raises `StoreUnavailable` with one readable line if the store cannot be used."""
    url = url or database_url()
    env = store_env(url)
    if pool_size is not None and env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["POSTGRES_POOL_SIZE"] = str(max(int(env["POSTGRES_POOL_SIZE"]), pool_size))
    settings = settings or settings_from_env()
    events = opened(url, env, lambda: HeraldEvents(env))
    read_store: ReadStore = (
        PostgresReadStore(events.pool, env) if events.pool is not None else SQLiteReadStore(env["SQLITE_DBNAME"])
    )
    due_index = SqlDueIndex(read_store)
    projections = SqlProjectionStore(read_store, events.mapper)
    targets = TargetPolicy()
    accounts = AccountService(events, sealer=Sealer.from_env, clock=clock, targets=targets)
    post_list = SqlPostList(read_store)

    def posts_using(workspace: str, media_id: str) -> int:
        ProjectionRunner(projections, PostList()).catch_up()  # what was scheduled a moment ago counts
        return post_list.using(workspace, media_id)

    media = MediaService(
        events, store=FolderMediaStore.beside(url), inspect=inspect_media, usage=posts_using, clock=clock
    )
    rules = ContentRules(accounts.settings_of, media.infos)
    booking = Booking(IndexBookings(lambda: ProjectionRunner(projections, DueIndex()), due_index), rules)
    repository = PostRepository(events)
    posts = PostCommands(repository, booking=booking, rules=rules, clock=clock, settings=settings, media=media.resolve)
    queues = QueueService(events, posts=posts, booking=booking, zones=zone, clock=clock)
    posts.booked = queues.make_room  # a timed post pushes queued ones to later slots
    workspaces = WorkspaceService(events, clock=clock, targets=targets)
    posts.workspace_approval = workspaces.approval_of
    return Herald(
        events=events,
        clock=clock,
        settings=settings,
        read_store=read_store,
        projections=projections,
        due_index=due_index,
        timeline=SqlTimeline(read_store, events.mapper),
        stats=SqlStats(read_store),
        post_list=post_list,
        outbox=SqlOutbox(read_store),
        rules=rules,
        booking=booking,
        posts=posts,
        dispatch=DispatchCommands(
            repository, rules=rules, account_settings=accounts.settings_of, clock=clock, settings=settings
        ),
        accounts=accounts,
        workspaces=workspaces,
        webhooks=WebhookService(events, clock=clock),
        media=media,
        recurring=RuleService(events, posts=posts, zones=zone, clock=clock),
        plans=FanOut(events, posts=posts, clock=clock),
        queues=queues,
        evergreen=EvergreenService(events, posts=posts, queues=queues, clock=clock),
        imports=Importer(events, posts=posts, instant=parse_instant),
    )
