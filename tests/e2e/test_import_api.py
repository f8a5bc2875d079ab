"""Bulk import over HTTP on both stores: the file is the body (CSV or JSON); every row is
checked first and each bad one named with its line and field; a dry run writes nothing; a
commit is all or none (or the good rows, when asked); the same file again makes nothing
twice; the same Idempotency-Key with another query is refused, never replayed."""

from __future__ import annotations

import os
from typing import Any

import orjson

from tests.e2e.conftest import Api, run_api

CSV = (
    "account,platform,text,scheduled_at,timezone,key\n"
    "acme,mastodon,First,2026-12-01T09:00,Europe/Paris,r1\n"
    "acme,mastodon,Second,2026-12-01T09:00,Europe/Paris,r2\n"
    "acme-bsky,bluesky,Third,2026-12-02T09:00,Europe/Paris,r3\n"
)


async def send(api: Api, data: bytes, kind: str, query: str = "", idem: str | None = None) -> tuple[int, Any]:
    headers = {
        "Authorization": f"Bearer {api.key}",
        "Idempotency-Key": idem or os.urandom(8).hex(),
        "Content-Type": kind,
    }
    async with api.session.post(api.url(f"/plans/import{query}"), data=data, headers=headers) as answer:
        return answer.status, await answer.json(content_type=None)


def test_a_file_is_checked_dry_run_then_committed_once(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, report = await send(api, CSV.encode(), "text/csv", "?dry_run=true")
        assert status == 200, report
        assert (report["rows"], report["good"], report["made"], report["dry_run"]) == (3, 3, 0, True)
        assert report["plan"]["earliest"] == "2026-12-01T08:00:00Z"
        assert report["plan"]["per_platform"] == {"mastodon": 2, "bluesky": 1}
        assert [c["index"] for c in report["plan"]["collisions"]] == [1]  # two at one instant for acme
        _, page, _ = await api.call("GET", "/posts")
        assert page["items"] == []  # a dry run writes nothing

        key = os.urandom(8).hex()
        status, done = await send(api, CSV.encode(), "text/csv", idem=key)
        assert status == 200 and (done["made"], done["skipped"]) == (3, 0), done
        status, again = await send(api, CSV.encode(), "text/csv", "?dry_run=true", idem=key)
        assert (status, again["code"]) == (422, "idempotency_key_reused")  # another query: not a replay
        status, again = await send(api, CSV.encode(), "text/csv")
        assert (again["made"], again["skipped"]) == (0, 3)  # the same rows: nothing twice

        rows = [
            {"account": "acme", "platform": "mastodon", "text": "From JSON", "scheduled_at": "2026-12-03T10:00:00Z"}
        ]
        status, done = await send(api, orjson.dumps(rows), "application/json")
        assert status == 200 and done["made"] == 1, done
        _, page, _ = await api.call("GET", "/posts?limit=100")
        assert len(page["items"]) == 4

    run_api(store_url, scenario)


def test_bad_rows_are_named_and_nothing_is_written_unless_partial(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        bad = CSV + "acme,myspace,Fourth,2026-12-02T09:00,Europe/Paris,r4\nacme,mastodon,Fifth,yesterday,,r5\n"
        status, refusal = await send(api, bad.encode(), "text/csv")
        assert (status, refusal["code"]) == (422, "import_invalid"), refusal
        assert [(b["line"], b["field"]) for b in refusal["bad"]] == [(5, "platform"), (6, "scheduled_at")]
        _, page, _ = await api.call("GET", "/posts")
        assert page["items"] == []  # all or none
        status, done = await send(api, bad.encode(), "text/csv", "?partial=true")
        assert status == 200 and (done["made"], done["bad_count"]) == (3, 2), done

        for data, kind, code in [
            (b"\xff\xfe", "text/csv", "file_unreadable"),
            (b"{}", "application/json", "file_unreadable"),
            (b"account,platform\n", "text/csv", "no_rows"),
            (b"a,b", "text/plain", "unsupported_media_type"),
        ]:
            status, refusal = await send(api, data, kind)
            assert status in (415, 422) and refusal["code"] == code, (data, refusal)
        status, refusal = await send(api, orjson.dumps([{}] * 10_001), "application/json")
        assert (status, refusal["code"]) == (422, "too_many_rows")  # as the schema's maxItems says
        status, refusal = await send(api, CSV.encode(), "text/csv", "?dry_run=maybe")
        assert (status, refusal["field"]) == (400, "dry_run")

    run_api(store_url, scenario)
