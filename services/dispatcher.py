"""The dispatcher: claims due posts, sends them, and records every outcome as an event.

One tick: catch the due index up (of several dispatchers, one folds it and the others read
it), reconcile what is ambiguous, fail what passed its deadline, claim a batch of due posts
(one transaction), send them concurrently (bounded), record the outcomes (one transaction).
The service is synchronous, so it runs in threads: the event loop only ever waits on the
network.

Beside the ticks, posts heard of in due hints (`services/due_hints.py`, on PostgreSQL) are
claimed at their instant without waiting for a tick's catch-up: the same claim, the same send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.intent import PublishIntent
from domain.outcomes import Observation
from projections.due_index import DueIndexView, DuePost
from projections.runner import ProjectionRunner
from services.dispatching import DispatchCommands
from services.due_hints import DueHint, heard
from services.pacing import Pacer
from services.ports import Clock, Metrics, NoMetrics, Share
from services.reconciler import Reconciler
from services.results import CommandResult, OutcomeReport
from services.routing import Held, Route, Router

log = logging.getLogger("herald.dispatcher")
Listen = Callable[[float], list[str]]  # blocks until events are appended (their payloads), or [] on timeout


CATCH_UP_BATCHES = 5


FULL_PAUSE = timedelta(minutes=15)  # an account at its platform's publishing limit waits this long
MOST_HINTS = 10_000  # hints held at most; beyond, posts wait for the due index as before


@dataclass(frozen=True)
class DispatchSettings:
    worker: str
    batch_size: int = 100
    in_flight: int = 64
    idle_poll: float = 0.5  # longest sleep when nothing is due (the next due instant wakes sooner)
    send_margin: timedelta = timedelta(seconds=12)  # never start a send this close to the lease's end
    reconcile_every: float = 0.25  # seconds between looks for expired leases, ambiguity, deadlines
    claim_ahead: timedelta = timedelta(0)  # claim posts due this soon, and send each at its instant
    # after a notification wakes the ticks, how long they let more arrive before one catch-up
    # and one due query: the posts that are ready now come with hints and are claimed at once
    settle: float = 0.02


REFUSED_REST = 0.5  # seconds a refused post is left out of claims: a lagging due index catches up
RECORDED_KEPT = 30.0  # seconds a recorded outcome's version is remembered: longer than a due index lags
CLAIM_AHEAD = timedelta(seconds=1)  # what `herald dispatch` and `serve` claim ahead by default


class Dispatcher:
    def __init__(
        self,
        dispatch: DispatchCommands,
        due_index: DueIndexView,
        runner: ProjectionRunner,
        reconciler: Reconciler,
        router: Router,
        settings: DispatchSettings,
        *,
        clock: Clock,
        pacer: Pacer | None = None,
        listen: Listen | None = None,
        metrics: Metrics | None = None,
        partitions: Share | None = None,
    ) -> None:
        self.dispatch = dispatch
        self.due_index = due_index
        self.runner = runner  # keeps the due index folded before each step
        self.reconciler = reconciler
        self.router = router
        self.settings = settings
        self.clock = clock
        self.pacer = pacer or Pacer()
        self.listen = listen  # new events on PostgreSQL (LISTEN), with the saves' due hints
        self.hints: dict[str, DueHint] = {}  # heard, not yet claimed: post id → hint
        self.claiming: set[str] = set()  # posts in a claim under way (ticks and hints run side by side)
        self.claimed: set[str] = set()  # claimed here, outcome not yet recorded (the due index may lag)
        self._woken = asyncio.Event()  # new events: a sleeping tick looks again
        self._hinted = asyncio.Event()  # new hints: the hints' loop looks again
        self.ended = False  # `run` is over: the loop beside it stops
        self.folding: bool | None = None  # whether it folds the due index (None: not looked yet)
        self.metrics = metrics or NoMetrics()
        self.partitions = partitions  # this dispatcher's share of the accounts; None: all of them
        self.stopping = asyncio.Event()
        self.sent = 0
        self.batches: set[asyncio.Task[None]] = set()  # batches being sent and recorded
        self.busy = 0  # posts claimed and not yet answered by the platform
        self._answered = asyncio.Event()
        self.reconciled_at = -1e9
        self.unreadable: set[str] = set()  # posts whose events this process cannot fold: left alone
        self.refused: dict[str, float] = {}  # posts whose claim was just refused → until when they rest
        # post id → (its version once its outcome was recorded here, when): a due index row older
        # than that is stale (its fold lags, above all one another dispatcher folds) and is not claimed
        self.recorded: dict[str, tuple[int, float]] = {}

    async def run(self, *, until_idle: bool = False) -> None:
        """Step until stopped (SIGTERM: stop claiming, finish and record what is in flight), or
        until idle. A batch is sent and recorded in the background while the next is claimed."""
        self.ended = False
        listening, hinted = asyncio.create_task(self._listening()), asyncio.create_task(self._claiming_hints())
        try:
            while not self.stopping.is_set():
                if await self.step():
                    continue
                if until_idle:
                    await self.drain()
                    if await self._idle():
                        return
                await self._sleep_until_next_due()
        finally:
            listening.cancel()
            self.ended = True  # the hints' loop ends too, after any claim it has under way
            self._hinted.set()
            self._answered.set()
            await asyncio.gather(listening, hinted, return_exceptions=True)
            await self.drain()

    async def tick(self) -> bool:
        """One full round, reconciliation included, waiting for its sends to be recorded."""
        self.reconciled_at = self.reconciler.held_looked_at = -1e9
        worked = await self.step()
        await self.drain()
        return worked

    async def drain(self) -> None:
        """Wait until every claimed attempt is sent and its outcome recorded."""
        while self.batches:
            await asyncio.gather(*list(self.batches))

    async def step(self) -> bool:
        # a few batches a step at most: a dispatcher that starts far behind claims while it catches up
        await self._catch_up(CATCH_UP_BATCHES)
        worked = False
        if time.monotonic() - self.reconciled_at >= self.settings.reconcile_every:
            # leases and deadlines are seconds apart: looking a few times a second is plenty,
            # and keeps those queries off the path of every batch
            self.reconciled_at = time.monotonic()
            worked = await self.reconciler.tick()
            worked |= await self.reconciler.fail_past_deadline()
            if worked:  # what it released is due now: fold it in before claiming
                await self._catch_up()
        if self.stopping.is_set():
            return worked
        return await self._dispatch_batch() or worked

    def stop(self) -> None:
        self.stopping.set()
        self._hinted.set()

    async def _rooms(
        self, due: list[Any], routes: dict[tuple[str, str, str], Route | Held]
    ) -> dict[tuple[str, str], int | None]:
        """For each account whose platform says how many posts it may still publish (Instagram),
        that number, read once per batch; posts beyond it wait for the account's window."""
        asked: dict[tuple[str, str], Any] = {}
        for post in due:
            route = routes[(post.workspace, post.account, post.platform)]
            if not isinstance(route, Held) and hasattr(route, "room"):
                asked.setdefault((post.workspace, post.account), route)
        found = await asyncio.gather(*(route.room() for route in asked.values()))
        return dict(zip(asked, found, strict=True))

    async def _dispatch_batch(self) -> bool:
        room = min(self.settings.batch_size, self.settings.in_flight - self.busy)
        if room < max(1, min(self.settings.batch_size, self.settings.in_flight) // 4) and self.busy:
            # claim no more than can be sent at once (a claim's lease is ticking), and not in
            # slivers: wait until a quarter of a batch has been answered
            self._answered.clear()
            await self._answered.wait()
            return True
        now = self.clock()
        blocked = self.pacer.blocked_accounts(now)
        self.metrics.held_back(len(blocked))
        share = self.partitions.share if self.partitions is not None else lambda: None
        soon = now + self.settings.claim_ahead
        due = await asyncio.to_thread(lambda: self.due_index.due(soon, room, blocked, share=share()))
        return await self._send_due(due, now)

    async def _send_due(self, due: list[DuePost], now: datetime) -> bool:
        """Route, pace, claim (one transaction) and send `due`, as far as there is room in flight."""
        looked = time.monotonic()
        self.refused = {post_id: until for post_id, until in self.refused.items() if until > looked}
        self._forget_recorded(looked - RECORDED_KEPT)
        due = [
            post
            for post in due
            if post.post_id not in self.unreadable
            and post.post_id not in self.refused
            and post.post_id not in self.claiming
            and post.post_id not in self.claimed
            and not self._stale(post)
        ]
        routes: dict[str, Route] = {}
        holds: list[tuple[UUID, str, str]] = []
        # reserved before the first wait, so the other loop neither routes nor claims them too:
        # two claims of one post in one process would be refused as a conflict, failing the
        # whole batch's save
        reserved = {post.post_id for post in due}
        self.claiming |= reserved
        try:
            by_account = await self.router.route_many((post.workspace, post.account, post.platform) for post in due)
            rooms = await self._rooms(due, by_account)
        except BaseException:
            self.claiming -= reserved
            raise
        room = self.settings.in_flight - self.busy  # read again: the other loop may have claimed meanwhile
        for post in due:
            route = by_account[(post.workspace, post.account, post.platform)]
            account = (post.workspace, post.account)
            if isinstance(route, Held):
                holds.append((UUID(post.post_id), route.reason, route.detail))  # visibly, as an event
            elif rooms.get(account) == 0:
                self.pacer.pause(account, now + FULL_PAUSE)  # the platform's own limit is reached
            elif len(routes) < room and self.pacer.take(account, post.platform, now):
                routes[post.post_id] = route
                if rooms.get(account) is not None:
                    rooms[account] = int(rooms[account] or 0) - 1
        self.busy += len(routes)  # their room is taken now, before any wait
        try:
            if holds:
                await asyncio.to_thread(self.dispatch.hold_many, holds, now)
            claims = (
                await asyncio.to_thread(
                    self.dispatch.claim_many,
                    [UUID(post_id) for post_id in routes],
                    worker=self.settings.worker,
                    ahead=self.settings.claim_ahead,
                )
                if routes
                else []
            )
        except BaseException:
            self.busy -= len(routes)
            self._give_back(due, routes, sent=set(), now=now)
            raise
        finally:
            self.claiming -= reserved
            for post_id in routes:
                self.hints.pop(post_id, None)
        if not routes:
            return bool(holds)
        for claim in claims:
            if not claim.ok:
                self.metrics.claim_refused(claim.code or "unknown")
            if claim.code == "post_unreadable" and str(claim.post_id) not in self.unreadable:
                self.unreadable.add(str(claim.post_id))  # left queued, and said: support must look
                log.error("ALARM: post %s cannot be read from its events; it is left alone", claim.post_id)
        claimed = [
            (claim.intent, claim.lease_until)
            for claim in claims
            if claim.ok and claim.intent is not None and claim.lease_until is not None
        ]
        self.busy -= len(routes) - len(claimed)  # refused: their room is free again
        sending = {str(intent.post_id) for intent, _ in claimed}
        self._give_back(due, routes, sending, now)
        self.claimed |= sending
        if not claimed:
            return bool(due)

        async def attempt(intent: PublishIntent, lease_until: datetime) -> OutcomeReport | None:
            # claims are bounded by the room left in flight, so every send starts at once (or at
            # its instant, for a post claimed a moment ahead: never before it)
            try:
                await self._until(intent.send_at)
                if self.clock() + self.settings.send_margin >= lease_until:
                    # too close to the lease's end (a reconciler may be looking): never sent, so
                    # it is queued again at once rather than left to expire. A stop that comes
                    # after the claim still sends it: claimed is in flight, and is finished
                    self.pacer.give_back((intent.workspace, intent.account), now)
                    return None
                sent_at = self.clock()
                observed = await routes[str(intent.post_id)].publish(intent)
                lag = (
                    (sent_at - intent.due_at).total_seconds() if intent.attempt == 1 else None
                )  # retries wait on purpose
                self.metrics.attempted(intent.platform.value, observed.kind.value, lag)
                log.info(
                    "attempt answered",
                    extra={
                        **intent.log_fields(),
                        "outcome": observed.kind.value,
                        "http_status": observed.http_status,
                        "due_lag_s": lag,
                    },
                )
            finally:
                self.busy -= 1  # the request is answered: its room is free while it is recorded
                self._answered.set()
            if observed.kind is Observation.RATE_LIMITED and observed.retry_at:
                self.pacer.pause((intent.workspace, intent.account), observed.retry_at)
                self.metrics.paused(intent.platform.value)
            return OutcomeReport(intent.post_id, intent.attempt, observed)

        async def send_and_record() -> None:
            try:
                await send_and_record_all()
            finally:  # recorded (or given up): a post queued again is claimable again
                for intent, _ in claimed:
                    self.claimed.discard(str(intent.post_id))

        async def send_and_record_all() -> None:
            answers = await asyncio.gather(
                *(attempt(intent, lease_until) for intent, lease_until in claimed), return_exceptions=True
            )
            for (intent, _), answer in zip(claimed, answers, strict=True):
                if isinstance(answer, BaseException):  # a bug met by one attempt: the others are recorded
                    log.error(
                        "ALARM: the attempt of post %s broke; its lease runs out", intent.post_id, exc_info=answer
                    )
            reports = [report for report in answers if isinstance(report, OutcomeReport)]
            unsent = [
                (intent.post_id, intent.attempt)
                for (intent, _), report in zip(claimed, answers, strict=True)
                if report is None
            ]
            recorded = await asyncio.to_thread(self.dispatch.record_outcomes, reports)
            self._remember(recorded)
            if unsent:
                await asyncio.to_thread(
                    self.dispatch.abandon_claims,
                    unsent,
                    "not sent: its lease was nearly over",
                )
            self.sent += len(reports)

        task = asyncio.create_task(send_and_record())
        self.batches.add(task)
        task.add_done_callback(self.batches.discard)
        return True

    def _remember(self, results: list[CommandResult]) -> None:
        at = time.monotonic()
        for result in results:
            if result.ok and result.version is not None:
                key = str(result.post_id)
                self.recorded.pop(key, None)  # moved to the end: the dict stays in order of time
                self.recorded[key] = (result.version, at)

    def _forget_recorded(self, before: float) -> None:
        while self.recorded:
            oldest = next(iter(self.recorded))
            if self.recorded[oldest][1] >= before:
                return
            del self.recorded[oldest]

    def _stale(self, post: DuePost) -> bool:
        """Whether the due index lists `post` from before the outcome recorded here: claiming it
        would only be refused (its claim reads the post's events), and take a slot of its
        account's window meanwhile."""
        known = self.recorded.get(post.post_id)
        return known is not None and post.version is not None and post.version < known[0]

    def _give_back(self, due: list[DuePost], routes: dict[str, Route], sent: set[str], now: datetime) -> None:
        """Posts routed here but not claimed send nothing: their claims were refused (another
        worker has the post, or it is done: a due index that lags still lists it), or the claim
        itself failed. Their slots in the accounts' windows are free again, and the posts are
        left alone for a moment rather than claimed again at once."""
        later = time.monotonic() + REFUSED_REST
        for post in due:
            if post.post_id in routes and post.post_id not in sent:
                self.pacer.give_back((post.workspace, post.account), now)
                self.refused[post.post_id] = later

    async def _catch_up(self, batches: int | None = None) -> None:
        """Fold new events into the due index, if this dispatcher is the one that folds it
        (among several on PostgreSQL, the first; the others read the table it keeps)."""

        def fold() -> bool:
            folds = self.partitions is None or self.partitions.folds()
            if folds:
                self.runner.catch_up(batches)
            return folds

        folds = await asyncio.to_thread(fold)
        if folds != self.folding:
            self.folding = folds
            log.info(
                "folding the due index" if folds else "reading the due index another dispatcher folds",
                extra={"worker": self.settings.worker},
            )

    async def _until(self, instant: datetime | None) -> None:
        while instant is not None and (wait := (instant - self.clock()).total_seconds()) > 0:
            await asyncio.sleep(wait)

    async def _idle(self) -> bool:
        await asyncio.to_thread(self.runner.catch_up)
        counts = await asyncio.to_thread(self.due_index.counts)
        return not any(counts.get(state) for state in ("queued", "dispatched", "ambiguous"))

    async def _sleep_until_next_due(self) -> None:
        self._woken.clear()  # before looking: what arrives while it looks ends the sleep
        next_due = await asyncio.to_thread(self.due_index.next_due)
        wait = self.settings.idle_poll
        if next_due is not None:
            wait = min(wait, max(0.0, (next_due - self.settings.claim_ahead - self.clock()).total_seconds()))
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self.stopping.wait())}
        if self.listen is not None:  # new events (PostgreSQL's NOTIFY) end the wait at once
            waiters.add(asyncio.ensure_future(self._woken.wait()))
        _, pending = await asyncio.wait(waiters, timeout=max(wait, 0.01), return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
        if self._woken.is_set() and self.settings.settle > 0 and not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):  # more notifications join this one
                await asyncio.wait_for(self.stopping.wait(), timeout=self.settings.settle)

    async def _listening(self) -> None:
        """Hear new events on a thread of its own: wake the ticks, and keep the due hints."""
        if self.listen is None:
            return
        loop = asyncio.get_running_loop()
        ear = ThreadPoolExecutor(1, thread_name_prefix="herald-listen")
        try:
            while not self.stopping.is_set():
                try:
                    payloads = await loop.run_in_executor(ear, self.listen, 0.5)
                except Exception:  # the LISTEN connection broke: ticks still poll, hints stop
                    log.warning("listening for new events stopped", exc_info=True)
                    return
                if not payloads:
                    continue
                for hint in heard(payloads):
                    if len(self.hints) < MOST_HINTS:
                        self.hints[hint.post_id] = hint
                self._woken.set()
                self._hinted.set()
        finally:
            ear.shutdown(wait=False)

    async def _claiming_hints(self) -> None:
        """Claim the hinted posts of this dispatcher's share at their instant, beside the ticks."""
        while self.listen is not None and not (self.stopping.is_set() or self.ended):
            try:
                await self._claim_hinted()
            except Exception:  # the ticks still find these posts through the due index
                log.exception("claiming hinted posts broke")
                self.hints.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=1.0)

    async def _claim_hinted(self) -> None:
        """One round: claim what is ripe, or wait for the next hint's instant or a new hint."""
        now = self.clock()
        soon = now + self.settings.claim_ahead
        ripe = sorted((hint for hint in self.hints.values() if hint.at <= soon), key=lambda hint: hint.at)
        if not ripe:
            soonest = min((hint.at for hint in self.hints.values()), default=None)
            wait = 1.0 if soonest is None else (soonest - soon).total_seconds()
            self._hinted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hinted.wait(), timeout=max(wait, 0.001))
            return
        if self.busy >= self.settings.in_flight:
            self._answered.clear()
            await self._answered.wait()
            return
        share = await asyncio.to_thread(self.partitions.share) if self.partitions is not None else None
        blocked = set(self.pacer.blocked_accounts(now))
        taken = ripe[: self.settings.batch_size]
        for hint in taken:
            del self.hints[hint.post_id]  # once: a refusal leaves the post to the due index
        due = [
            DuePost(hint.post_id, hint.account, hint.platform, hint.workspace)
            for hint in taken
            if _mine(hint, share) and (hint.workspace, hint.account) not in blocked
        ]
        if due:
            await self._send_due(due, now)


def _mine(hint: DueHint, share: tuple[int, int] | None) -> bool:
    """Whether the hinted post's account is in this dispatcher's share of the partitions."""
    if share is None:
        return True
    index, count = share
    return hint.bucket >= 0 and hint.bucket % count == index
