"""The API benchmark's baseline: the least an aiohttp + psycopg handler can do to store what a
Herald schedule request stores, so Herald's requests/s get a same-run ratio.

Per request, like Herald: check the bearer key (constant time), record the idempotency key,
count the workspace's creation, insert the post's two events (drafted, scheduled) under the
events table's lock with a NOTIFY, and store the answer under the idempotency key. One
async psycopg pool of 4 connections (Herald's budget per process). No validation beyond
JSON, no domain, no projections.

    python scripts/benchmarks/raw_api.py --port P --dsn postgresql://…?options=-csearch_path%3Dschema --key K
"""

from __future__ import annotations

import argparse
import hmac
import time
import uuid

import orjson
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

TABLES = (
    "CREATE TABLE IF NOT EXISTS raw_events (id BIGSERIAL PRIMARY KEY, originator_id UUID NOT NULL,"
    " originator_version INTEGER NOT NULL, topic TEXT NOT NULL, state BYTEA NOT NULL,"
    " UNIQUE (originator_id, originator_version))",
    "CREATE TABLE IF NOT EXISTS raw_idempotency (workspace TEXT NOT NULL, key TEXT NOT NULL,"
    " request_hash TEXT NOT NULL, status INTEGER, body TEXT, created_at TEXT NOT NULL, PRIMARY KEY (workspace, key))",
    "CREATE TABLE IF NOT EXISTS raw_rate (workspace TEXT NOT NULL, minute BIGINT NOT NULL, used INTEGER NOT NULL,"
    " PRIMARY KEY (workspace, minute))",
)


def make_app(pool: AsyncConnectionPool, key: str) -> web.Application:
    expected = f"Bearer {key}".encode()

    async def create(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return web.json_response({"code": "unauthorized"}, status=401)
        workspace = request.match_info["workspace"]
        raw = await request.read()
        body = orjson.loads(raw)
        idem = request.headers.get("Idempotency-Key", "")
        post_id = uuid.uuid4()
        now = time.time()
        async with pool.connection() as conn:
            await conn.execute(
                "INSERT INTO raw_idempotency (workspace, key, request_hash, created_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [workspace, idem, str(hash(raw)), str(now)],
            )
            await conn.execute(
                "INSERT INTO raw_rate (workspace, minute, used) VALUES (%s, %s, 1) ON CONFLICT (workspace, minute)"
                " DO UPDATE SET used = raw_rate.used + 1",
                [workspace, int(now // 60)],
            )
            drafted = orjson.dumps({"account": body["account"], "content": body["content"]})
            scheduled = orjson.dumps({"due_at": body["scheduled_at"]})
            async with conn.transaction():
                await conn.execute("LOCK TABLE raw_events IN EXCLUSIVE MODE")
                await conn.execute(
                    "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                    " SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::bytea[])",
                    [[post_id, post_id], [1, 2], ["Drafted", "Scheduled"], [drafted, scheduled]],
                )
                await conn.execute("NOTIFY raw_events")
            answer = orjson.dumps({"id": str(post_id), "state": "queued", **body})
            await conn.execute(
                "UPDATE raw_idempotency SET status = 201, body = %s WHERE workspace = %s AND key = %s",
                [answer.decode(), workspace, idem],
            )
        return web.Response(body=answer, status=201, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/workspaces/{workspace}/posts", create)
    return app


async def serve(dsn: str, port: int, key: str) -> web.Application:
    pool = AsyncConnectionPool(dsn, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False)
    await pool.open()
    async with pool.connection() as conn:
        for statement in TABLES:
            await conn.execute(statement)  # type: ignore[arg-type]
    app = make_app(pool, key)
    app.on_cleanup.append(lambda _: pool.close())
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    web.run_app(serve(args.dsn, args.port, args.key), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
