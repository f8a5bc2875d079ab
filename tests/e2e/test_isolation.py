"""One bad event stops only itself: a projection that cannot fold an event sets it aside and
goes on, and every workspace's API keeps answering; text the stores cannot hold is refused at
the door, naming the field."""

from __future__ import annotations

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from tests.e2e.conftest import Api, post_body, run_api


def append_broken_post(api: Api, workspace: str, *, nul: bool) -> str:
    """A post's first event written straight into the store, as no command would write it:
    with a NUL in its external id (PostgreSQL's text cannot hold one), or missing its account."""
    herald = api.ctx.herald
    post = herald.posts.new_post("acme", "mastodon", Content(text="broken"), "ext-ok", workspace, None)
    (drafted,) = post.collect_events()
    stored = herald.events.mapper.to_stored_event(drafted)
    data = orjson.loads(stored.state)
    if nul:
        data["external_id"] = "bad\x00id"
    else:
        del data["account"]
    broken = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(data))
    herald.events.recorder.insert_events([broken])
    return str(post.id)


def test_an_unfoldable_event_in_one_workspace_leaves_every_workspace_answering(store_url: str) -> None:
    unfoldable_event_leaves_every_workspace_answering(store_url, nul=False)


@pytest.mark.postgres
def test_a_nul_written_past_the_checks_leaves_every_workspace_answering_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL's text cannot hold a NUL (SQLite's can): the projections set that event aside."""
    unfoldable_event_leaves_every_workspace_answering(postgres_url, nul=True)


def unfoldable_event_leaves_every_workspace_answering(store_url: str, *, nul: bool) -> None:
    async def scenario(api: Api) -> None:
        other_workspace, other_key = api.ctx.workspaces.create("Bystander")
        status, _, _ = await api.call("POST", "/posts", post_body(external_id="before"))
        assert status == 201
        broken = append_broken_post(api, api.workspace, nul=nul)
        for key, workspace in ((api.key, api.workspace), (other_key, str(other_workspace))):
            status, page, _ = await api.call("GET", "/posts", key=key, workspace=workspace)
            assert status == 200, page
            status, made, _ = await api.call(
                "POST", "/posts", post_body(external_id="after"), key=key, workspace=workspace
            )
            assert status == 201, made
        status, page, _ = await api.call("GET", "/posts")
        assert [p["external_id"] for p in page["items"]] == ["before", "after"]  # the broken post is set aside
        held = api.ctx.herald.projections.quarantined()
        assert {q.projection for q in held} >= {"post_list"} and {q.aggregate_id for q in held} == {broken}

    run_api(store_url, scenario)


def test_text_the_stores_cannot_hold_is_refused_naming_the_field(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        for body, field in (
            (post_body(external_id="crm\x00-1"), "external_id"),
            (post_body(content={"text": "hello\x00"}), "content.text"),
            (post_body(account="ac\x00me"), "account"),
            (
                post_body(content={"text": "hi", "media": [{"ref": "m1", "alt_text": "a\x07b"}]}),
                "content.media[0].alt_text",
            ),
        ):
            status, error, _ = await api.call("POST", "/posts", body)
            assert (status, error["code"], error["field"]) == (422, "invalid_characters", field), error
        # a query parameter at fault is a 400
        status, error, _ = await api.call("GET", "/posts?external_id=a%00b")
        assert (status, error["code"], error["field"]) == (400, "invalid_characters", "external_id")
        status, page, _ = await api.call("GET", "/posts")
        assert status == 200 and page["items"] == []  # nothing was stored

    run_api(store_url, scenario)


def test_projections_status_counts_the_set_aside_event_and_a_retry_folds_it(sqlite_url: str) -> None:
    herald = bootstrap(sqlite_url)
    from projections.catalog import PROJECTIONS

    post = herald.posts.new_post("acme", "mastodon", Content(text="x"), None, "w", None)
    (drafted,) = post.collect_events()
    stored = herald.events.mapper.to_stored_event(drafted)
    data = orjson.loads(stored.state)
    account = data.pop("account")
    herald.events.recorder.insert_events([StoredEvent(stored.originator_id, 1, stored.topic, orjson.dumps(data))])
    runners = [herald.runner(cls()) for cls in PROJECTIONS.values()]
    for runner in runners:
        runner.catch_up()
    assert {q.projection for q in herald.projections.quarantined()} == set(PROJECTIONS)  # each set it aside
    assert all(position == 1 for position in herald.projections.positions().values())  # moved past it
    # mend the event where it is stored (as support would, by hand), then fold it again
    data["account"] = account
    with herald.read_store.transaction() as cursor:
        cursor.execute("UPDATE stored_events SET state = %s WHERE rowid = 1", [orjson.dumps(data)])
    item = next(q for q in herald.projections.quarantined() if q.projection == "due_index")
    assert herald.projections.retry(PROJECTIONS["due_index"](), item) is None
    assert herald.due_index.counts() == {"draft": 1}
    assert "due_index" not in {q.projection for q in herald.projections.quarantined()}
    herald.close()
