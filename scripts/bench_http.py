"""The dispatcher's send path alone: client CPU per request against the simulator.

Run: .venv/bin/python scripts/bench_http.py [--requests 20000] [--in-flight 128] [--alternatives]

Compares, on the same simulator and the same pre-encoded JSON body (orjson): aiohttp as the
dispatcher uses it (a reused session with Herald's private-address guard: a resolver and a
client middleware), aiohttp without the guard, and a bare HTTP/1.1 keep-alive client on asyncio
streams (the floor: what any client must spend on this machine). Prints CPU microseconds per
request of this process (time.process_time, every thread: a client written in Rust spends its
CPU on threads of its own), medians of --repeats.

`--alternatives` also measures the maintained asyncio clients a switch could go to, each one
that is importable (they are not Herald's dependencies; install them into the venv to compare):
httpx, aiosonic, pyreqwest and rnet (the last two are Rust's reqwest under Python).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from tests.processes import reaped, start_simulator  # noqa: E402

BODY = orjson.dumps({"text": "hello from the benchmark", "publish_key": "k" * 32})


async def with_aiohttp(url: str, requests: int, in_flight: int, guarded: bool) -> None:
    import aiohttp

    from infrastructure.targets import outbound_session

    session = (
        outbound_session(allow_private=False, trusted=url)
        if guarded
        else aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight))
    )
    sem = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with (
            sem,
            session.post(
                f"{url}/v1/accounts/a{n % 100}/posts",
                data=BODY,
                headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
            ) as answer,
        ):
            orjson.loads(await answer.read())

    async with session:
        await asyncio.gather(*(one(n) for n in range(requests)))


async def with_streams(url: str, requests: int, in_flight: int) -> None:
    """HTTP/1.1 over asyncio streams, one keep-alive connection per request in flight."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/accounts/a0/posts HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer t\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            queue.get_nowait()
            writer.write(head)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            orjson.loads(await reader.readexactly(length))
        writer.close()

    await asyncio.gather(*(connection() for _ in range(in_flight)))


def post_many(send: Any, requests: int, in_flight: int) -> Any:
    """`send(n)` for each request, `in_flight` at a time."""
    sem = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with sem:
            orjson.loads(await send(n))

    return asyncio.gather(*(one(n) for n in range(requests)))


HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer t"}


async def with_httpx(url: str, requests: int, in_flight: int) -> None:
    import httpx  # type: ignore[import-not-found]

    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits) as client:

        async def send(n: int) -> bytes:
            return bytes(
                (await client.post(f"{url}/v1/accounts/a{n % 100}/posts", content=BODY, headers=HEADERS)).content
            )

        await post_many(send, requests, in_flight)


async def with_aiosonic(url: str, requests: int, in_flight: int) -> None:
    import aiosonic  # type: ignore[import-not-found]

    client = aiosonic.HTTPClient()

    async def send(n: int) -> bytes:
        answer = await client.post(f"{url}/v1/accounts/a{n % 100}/posts", data=BODY, headers=HEADERS)
        return bytes(await answer.content())

    await post_many(send, requests, in_flight)


async def with_pyreqwest(url: str, requests: int, in_flight: int) -> None:
    from pyreqwest.client import ClientBuilder  # type: ignore[import-not-found]

    async with ClientBuilder().max_connections(in_flight).build() as client:

        async def send(n: int) -> bytes:
            request = client.post(f"{url}/v1/accounts/a{n % 100}/posts").body_bytes(BODY)
            answer = (
                await request.header("Content-Type", HEADERS["Content-Type"])
                .header("Authorization", HEADERS["Authorization"])
                .build()
                .send()
            )
            return bytes(await answer.bytes())

        await post_many(send, requests, in_flight)


async def with_rnet(url: str, requests: int, in_flight: int) -> None:
    import rnet  # type: ignore[import-not-found]

    client = rnet.Client()

    async def send(n: int) -> bytes:
        answer = await client.post(f"{url}/v1/accounts/a{n % 100}/posts", body=BODY, headers=HEADERS)
        return bytes(await answer.bytes())

    await post_many(send, requests, in_flight)


ALTERNATIVES = {"httpx": with_httpx, "aiosonic": with_aiosonic, "pyreqwest": with_pyreqwest, "rnet": with_rnet}


def measure(run: Any, requests: int) -> float:
    began = time.process_time()
    asyncio.run(run())
    return (time.process_time() - began) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--in-flight", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alternatives", action="store_true", help="also the other asyncio clients installed")
    args = parser.parse_args()
    simulator, url = start_simulator("")
    with reaped(simulator):
        kinds = {
            "aiohttp, as the dispatcher (guarded)": lambda: with_aiohttp(url, args.requests, args.in_flight, True),
            "aiohttp, no guard": lambda: with_aiohttp(url, args.requests, args.in_flight, False),
            "asyncio streams, bare HTTP/1.1": lambda: with_streams(url, args.requests, args.in_flight),
        }
        for name, client in ALTERNATIVES.items() if args.alternatives else ():
            if importlib.util.find_spec(name) is None:
                print(f"{name}: not installed (.venv/bin/pip install {name} to compare)")
                continue
            kinds[name] = partial(client, url, args.requests, args.in_flight)
        for name, run in kinds.items():
            cpu = statistics.median(measure(run, args.requests) for _ in range(args.repeats))
            print(f"{name}: {cpu:.0f} us of client CPU per request")


if __name__ == "__main__":
    main()
