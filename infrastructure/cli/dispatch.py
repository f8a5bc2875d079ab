"""`herald dispatch`, `herald reconcile` and `herald simulate-platform`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from datetime import timedelta
from typing import Any

from domain.errors import InvalidSetting


def register(commands: Any) -> None:
    dispatch = commands.add_parser(
        "dispatch",
        help="publish due posts and reconcile ambiguous ones (runs until SIGTERM)",
        description="Claims due posts, sends them, records every outcome as an event. "
        "SIGTERM or Ctrl-C: stop claiming, finish and record what is in flight, exit.",
    )
    _platform_argument(dispatch)
    dispatch.add_argument("--worker", default=f"{socket.gethostname()}-{os.getpid()}", help="this worker's id")
    dispatch.add_argument("--batch-size", type=int, default=100, help="posts claimed per transaction")
    dispatch.add_argument("--in-flight", type=int, default=64, help="requests in flight at most")
    dispatch.add_argument("--timeout", type=float, default=10.0, help="seconds before a request is ambiguous")
    dispatch.add_argument(
        "--claim-ahead",
        type=float,
        metavar="SECONDS",
        help="claim posts due within this many seconds (0-5), then send each at its instant (default: 1)",
    )
    dispatch.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once no post is queued, in flight or being reconciled (held posts, and those "
        "waiting for support, wait on)",
    )
    dispatch.set_defaults(run=_dispatch, log_level="info")

    reconcile = commands.add_parser(
        "reconcile",
        help="settle ambiguous posts and expired leases, then exit",
        description="Asks the platform about each ambiguous post; never publishes.",
    )
    _platform_argument(reconcile)
    reconcile.add_argument("--timeout", type=float, default=10.0, help="seconds per platform look-up")
    reconcile.set_defaults(run=_reconcile, log_level="info")

    simulate = commands.add_parser(
        "simulate-platform",
        help="run the platform simulator on 127.0.0.1",
        description="Faults by ratio, e.g. --faults accept_drop=0.1,http_500=0.05,http_429=0.05,"
        "http_401=0.01,http_403=0.01,slow=0.01,latency_ms=20",
    )
    simulate.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free)")
    simulate.add_argument("--faults", default="", help="comma-separated name=ratio pairs")
    simulate.add_argument("--seed", type=int, default=0, help="seed for the fault draws")
    simulate.set_defaults(run=_simulate)


def _platform_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--platform-url",
        default=os.environ.get("HERALD_PLATFORM_URL"),
        help="the generic platform simulator, for posts whose account is not connected "
        "(default: HERALD_PLATFORM_URL; without it such posts are held as account_unknown)",
    )


class StopRequested(Exception):
    """SIGTERM or SIGINT before the dispatcher was running."""


def _stop_early(*_: Any) -> None:
    raise StopRequested


class StopWatchdog:
    """After SIGTERM the dispatcher finishes and records what is in flight. If that takes
    longer than a lease (a store that stopped answering, a call that hangs), the process
    exits anyway, non-zero: what it still held is then exactly what a SIGKILL leaves behind,
    claims whose leases expire and the reconciler settles. A stop never hangs."""

    def __init__(self, seconds: float, worker: str) -> None:
        import threading

        self.timer = threading.Timer(seconds, self._expire, args=(seconds, worker))
        self.timer.daemon = True

    def start(self) -> None:
        if not self.timer.is_alive() and not self.timer.finished.is_set():
            self.timer.start()

    def cancel(self) -> None:
        self.timer.cancel()

    @staticmethod
    def _expire(seconds: float, worker: str) -> None:
        print(
            f"dispatcher {worker}: not stopped {seconds:g}s after the signal; exiting: "
            "its claims expire with their leases and the reconciler settles them",
            file=sys.stderr,
            flush=True,
        )
        os._exit(3)


def _dispatch(args: argparse.Namespace) -> int:
    # a stop asked for while the dispatcher starts is a clean stop, exit 0: nothing was claimed yet
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop_early)
    try:
        return _start_dispatching(args)
    except StopRequested:
        print(f"dispatcher {args.worker}: stopped while starting; nothing was claimed")
        return 0


def _start_dispatching(args: argparse.Namespace) -> int:
    from domain.post import CLAIM_AHEAD_MOST
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out
    from infrastructure.targets import outbound_session
    from services.dispatcher import CLAIM_AHEAD, DispatchSettings

    herald = bootstrap()
    settings = DispatchSettings(
        worker=args.worker,
        batch_size=args.batch_size,
        in_flight=args.in_flight,
        send_margin=timedelta(seconds=args.timeout + 2),
        claim_ahead=CLAIM_AHEAD if args.claim_ahead is None else timedelta(seconds=args.claim_ahead),
    )
    if not timedelta(0) <= settings.claim_ahead <= CLAIM_AHEAD_MOST:
        raise InvalidSetting(
            f"--claim-ahead {args.claim_ahead:g}: give 0 to {CLAIM_AHEAD_MOST.total_seconds():g} seconds",
            field="claim_ahead",
        )
    if settings.send_margin >= herald.settings.lease:
        raise InvalidSetting(
            f"--timeout {args.timeout:g}s leaves no time to send within the "
            f"{herald.settings.lease.total_seconds():g}s lease; raise HERALD_LEASE_SECONDS",
            field="HERALD_LEASE_SECONDS",
        )

    async def main() -> None:
        async with outbound_session(trusted=args.platform_url) as session:
            router = herald.account_router(session, timeout=args.timeout, fallback_url=args.platform_url)
            listener = herald.listener()
            dispatcher = herald.dispatcher(
                router,
                settings,
                listen=listener.heard if listener else None,
                partitions=herald.partitions(listener, args.worker),
            )
            loop = asyncio.get_running_loop()
            watchdog = StopWatchdog(herald.settings.lease.total_seconds() + 5, args.worker)

            def stop() -> None:  # stop claiming; and if what it holds is not sent in time, exit
                dispatcher.stop()
                watchdog.start()

            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop)
            print(f"dispatcher {args.worker}: running; SIGTERM stops it once what it holds is sent", flush=True)
            await dispatcher.run(until_idle=args.until_idle)
            watchdog.cancel()
            out.print(f"dispatcher {args.worker}: {dispatcher.sent} attempts sent; stopped cleanly")

    try:
        asyncio.run(main())
    finally:
        herald.close()
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out
    from infrastructure.targets import outbound_session
    from projections.due_index import DueIndex

    herald = bootstrap()

    async def main() -> int:
        async with outbound_session(trusted=args.platform_url) as session:
            reconciler = herald.reconciler(
                herald.account_router(session, timeout=args.timeout, fallback_url=args.platform_url)
            )
            runner = herald.runner(DueIndex())
            rounds = 0
            await asyncio.to_thread(runner.catch_up)
            while await reconciler.tick():
                rounds += 1
                await asyncio.to_thread(runner.catch_up)
            return rounds

    try:
        rounds = asyncio.run(main())
    finally:
        herald.close()
    out.print(f"reconciler: {rounds} rounds with changes")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from infrastructure.cli.render import out
    from infrastructure.platforms.simulator import BadFaults, Simulator, parse_faults, start

    try:
        faults = parse_faults(args.faults)
    except BadFaults as problem:
        raise InvalidSetting(str(problem), field="--faults") from None

    async def main() -> None:
        runner, port = await start(Simulator(faults=faults, seed=args.seed), args.port)
        out.print(f"platform simulator on http://127.0.0.1:{port} faults={faults or 'none'}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    return 0
