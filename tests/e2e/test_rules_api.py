"""Recurring rules over HTTP on both stores: created with an RRULE at a local time, read
with their next occurrence, materialised into ordinary posts, paused, resumed and deleted;
refusals with their codes; another workspace sees nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import Api, run_api


def rule_body(**extra: object) -> dict[str, object]:
    return {
        "name": "Friday notes",
        "timezone": "Europe/Paris",
        "at": "09:00",
        "starts": "2026-11-27",
        "rrule": "FREQ=WEEKLY;BYDAY=FR;UNTIL=20270331",
        "content": {"text": "Friday notes"},
        "targets": [{"account": "acme", "platform": "mastodon"}, {"account": "acme-bsky", "platform": "bluesky"}],
        **extra,
    }


def test_a_rule_is_created_materialised_paused_and_deleted(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, rule, headers = await api.call("POST", "/rules", rule_body())
        assert status == 201, rule
        assert rule["next_due"] == "2026-11-27T08:00:00Z" and rule["version"] == 1 and not rule["paused"]
        assert headers["Location"].endswith(f"/rules/{rule['id']}")
        api.clock.now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        [made] = api.ctx.herald.recurring.materialise()  # what the planner part does every minute
        status, page, _ = await api.call("GET", "/posts?external_id=" + f"rule:{rule['id']}:2026-11-27")
        assert status == 200 and len(page["items"]) == 2 == len(made.post_ids)
        assert {p["due_at"] for p in page["items"]} == {"2026-11-27T08:00:00Z"}
        status, read, _ = await api.call("GET", f"/rules/{rule['id']}")
        assert read["materialised"] == 1 and read["next_due"] == "2026-12-04T08:00:00Z"
        status, paused, _ = await api.call("POST", f"/rules/{rule['id']}/pause", {})
        assert status == 200 and paused["paused"] and paused["next_due"] is None
        status, resumed, _ = await api.call("POST", f"/rules/{rule['id']}/resume", {})
        assert status == 200 and not resumed["paused"]
        status, _, _ = await api.call("DELETE", f"/rules/{rule['id']}")
        assert status == 200
        status, gone, _ = await api.call("GET", f"/rules/{rule['id']}")
        assert (status, gone["code"]) == (404, "rule_not_found")
        status, listing, _ = await api.call("GET", "/rules")
        assert listing["items"] == []

    run_api(store_url, scenario)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"rrule": "FREQ=DAILY"}, "invalid_rrule", "rrule"),
        ({"rrule": "FREQ=MINUTELY;COUNT=3"}, "invalid_rrule", "rrule"),
        ({"timezone": "Europe"}, "invalid_timezone", "timezone"),
        ({"at": "25:00"}, "invalid_field", "at"),
        ({"targets": []}, "invalid_field", "targets"),
        ({"lead_seconds": 10}, "invalid_lead", "lead_seconds"),
        ({"content": {"text": "a" * 600}}, "content_invalid", "content"),
    ],
)
def test_a_rule_that_cannot_be_kept_is_refused_with_its_code(
    store_url: str, changes: dict[str, object], code: str, field: str
) -> None:
    async def scenario(api: Api) -> None:
        status, body, _ = await api.call("POST", "/rules", rule_body(**changes))
        assert (status, body["code"], body["field"]) == (422, code, field), body

    run_api(store_url, scenario)


def test_another_workspace_cannot_see_or_pause_a_rule(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, rule, _ = await api.call("POST", "/rules", rule_body())
        other, key = api.ctx.workspaces.create("Rival")
        status, body, _ = await api.call("GET", f"/rules/{rule['id']}", key=key, workspace=str(other))
        assert (status, body["code"]) == (404, "rule_not_found")
        status, body, _ = await api.call("POST", f"/rules/{rule['id']}/pause", {}, key=key, workspace=str(other))
        assert status == 404

    run_api(store_url, scenario)


def test_an_edit_reaches_posts_already_made_only_when_asked(store_url: str) -> None:
    """Editing a rule makes a new version. Posts already materialised keep the old one unless
    the edit says apply_to=future_materialised; then those not yet sent follow it (new text,
    new time), a target the rule dropped has its posts canceled, and the answer says which."""

    async def scenario(api: Api) -> None:
        _, rule, _ = await api.call("POST", "/rules", rule_body())
        api.clock.now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        [made] = api.ctx.herald.recurring.materialise()
        by_platform = {(await api.call("GET", f"/posts/{i}"))[1]["platform"]: str(i) for i in made.post_ids}

        status, edited, _ = await api.call("PATCH", f"/rules/{rule['id']}", {"content": {"text": "New notes"}})
        assert status == 200 and edited["version"] == 2 and edited["applied"] is None, edited
        _, post, _ = await api.call("GET", f"/posts/{by_platform['mastodon']}")
        assert post["content"]["text"] == "Friday notes"  # made before the edit: untouched

        change = {
            "at": "10:30",
            "targets": [{"account": "acme", "platform": "mastodon"}],
            "apply_to": "future_materialised",
        }
        status, edited, _ = await api.call("PATCH", f"/rules/{rule['id']}", change)
        assert status == 200 and edited["version"] == 3, edited
        assert edited["applied"]["changed"] == [by_platform["mastodon"]]
        assert edited["applied"]["canceled"] == [by_platform["bluesky"]]
        _, post, _ = await api.call("GET", f"/posts/{by_platform['mastodon']}")
        assert post["content"]["text"] == "New notes" and post["due_at"] == "2026-11-27T09:30:00Z"
        _, dropped, _ = await api.call("GET", f"/posts/{by_platform['bluesky']}")
        assert dropped["state"] == "canceled"
        _, history, _ = await api.call("GET", f"/posts/{by_platform['mastodon']}/timeline")
        assert "rule 'Friday notes' edited" in history["events"][-1]["explanation"]
        assert edited["next_due"] == "2026-12-04T09:30:00Z"

        status, refusal, _ = await api.call("PATCH", f"/rules/{rule['id']}", {"apply_to": "everything"})
        assert (status, refusal["field"]) == (422, "apply_to")
        status, refusal, _ = await api.call("PATCH", f"/rules/{rule['id']}", {"rrule": "FREQ=DAILY"})
        assert (status, refusal["code"]) == (422, "invalid_rrule")

    run_api(store_url, scenario)
