"""The support console in a real browser: Playwright driving Debian's Chromium against
`herald serve`, as support staff use it.

They sign in with a support key, find a post by words of its text, move the as-of control
back to see the post as it stood, and redrive a failed post, whose Redriven event then
shows in the timeline naming the key. Another workspace's post cannot be reached by URL,
a form without its CSRF token is refused, and axe-core finds no serious or critical
accessibility violation on any page. Screenshots go to test-artifacts/console/.

Needs `scripts/setup --browser` (Chromium and axe-core). Elsewhere the tests are skipped,
loudly; with CI=true they fail instead, since CI installs both.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.content import Content, Platform
from domain.decisions import RetryPolicy
from domain.outcomes import Observation, Observed
from domain.post import Post
from infrastructure.bootstrap import bootstrap
from projections.due_index import BOOKED
from tests.conftest import STORES, postgres_schema
from tests.processes import HERALD, create_workspace, herald_env, reaped, start_serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".venv/axe/node_modules/axe-core/axe.min.js"
SHOTS = ROOT / "test-artifacts/console"


def _browser_ready() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (scripts/setup --browser)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (scripts/setup --browser)"
    if not AXE.exists():
        return "axe-core is not installed (scripts/setup --browser)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_ready()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def _key(env: dict[str, str], workspace: str, scopes: str) -> dict[str, str]:
    made = subprocess.run(
        [*HERALD, "keys", "create", "--workspace", workspace, "--scopes", scopes],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(made.stdout))


def _rate_limited_post(url: str, workspace: str) -> None:
    """acme's platform answered 429 five minutes ago: the post waits for the reset."""
    service = bootstrap(url)
    at = datetime.now(UTC) - timedelta(minutes=5)
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace=workspace,
        account="acme",
        platform=Platform.MASTODON,
        content=Content(text="slowed down"),
        external_id=None,
        grace=timedelta(hours=2),
        freeze=timedelta(0),
        now=at,
    )
    post.schedule(at, now=at, publish_now=True)
    post.claim(worker="w", lease=timedelta(seconds=30), now=at)
    limited = Observed(kind=Observation.RATE_LIMITED, http_status=429, retry_at=at + timedelta(minutes=15))
    post.record_outcome(attempt=post.attempt, observed=limited, policy=RetryPolicy(), seed=1, now=at)
    service.events.save(post)
    service.close()


def _failed_post(url: str, workspace: str, text: str) -> tuple[uuid.UUID, datetime]:
    """A post the platform refused before accepting it: failed, proved not live."""
    service = bootstrap(url)
    drafted = datetime.now(UTC) - timedelta(minutes=30)
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace=workspace,
        account="acme",
        platform=Platform.MASTODON,
        content=Content(text=text),
        external_id=f"crm-{uuid.uuid4().hex[:6]}",
        grace=timedelta(hours=1),
        freeze=timedelta(0),
        now=drafted,
    )
    sent = drafted + timedelta(minutes=10)
    post.schedule(sent, now=sent, publish_now=True)
    post.claim(worker="w", lease=timedelta(seconds=30), now=sent)
    refused = Observed(kind=Observation.REJECTED, http_status=422, message="Validation failed: Text too spicy")
    post.record_outcome(attempt=post.attempt, observed=refused, policy=RetryPolicy(), seed=1, now=sent)
    service.events.save(post)
    service.close()
    return post.id, drafted


def _account_with_queue(url: str, env: dict[str, str], workspace: str) -> None:
    """acme, connected on Mastodon, with a queue of 09:00 and 17:00 every day in Paris."""
    before = os.environ.get("HERALD_SECRET_KEY")
    os.environ["HERALD_SECRET_KEY"] = env["HERALD_SECRET_KEY"]  # the server's, so it can open them
    try:
        service = bootstrap(url)
        service.accounts.connect(
            name="acme",
            platform=Platform.MASTODON,
            handle="@acme@example.social",
            remote_user_id="1",
            credentials={"access_token": "t"},
            token_expires_at=datetime.now(UTC) + timedelta(days=2),
            base_url="http://127.0.0.1:9",
            workspace=workspace,
        )
        slots = [(day, time(9, 0)) for day in range(7)] + [(day, time(17, 0)) for day in range(7)]
        service.queues.configure(workspace, "acme", zone="Europe/Paris", slots=slots, daily_cap=3)
        service.close()
    finally:
        if before is None:
            os.environ.pop("HERALD_SECRET_KEY", None)
        else:
            os.environ["HERALD_SECRET_KEY"] = before


@pytest.fixture(scope="module", params=STORES)
def console_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every page on both stores: the console's own queries (an account's 429s, the calendar)
    run as written on each."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('console')}/herald.db"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="module")
def console(console_url: str) -> Iterator[dict[str, Any]]:
    env = herald_env(console_url)
    mine = create_workspace(env, "Support desk")
    theirs = create_workspace(env, "Someone else")
    support = _key(env, mine["workspace_id"], "read,support")
    failed, drafted = _failed_post(console_url, mine["workspace_id"], "Our spicy launch announcement")
    other, _ = _failed_post(console_url, theirs["workspace_id"], "Their private post")
    _account_with_queue(console_url, env, mine["workspace_id"])
    _rate_limited_post(console_url, mine["workspace_id"])
    server, root = start_serve(env, "--only", "api")
    with reaped(server):
        yield {"root": root, "key": support, "failed": failed, "drafted": drafted, "other": other}


@pytest.fixture
def page(browser: Any, console: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


def _sign_in(page: Any, console: dict[str, Any]) -> None:
    page.goto(console["root"] + "/console")
    page.get_by_label("API key").fill(console["key"]["api_key"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/find")


def _no_serious_violations(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.evaluate(AXE.read_text() + "\n;0")
    found = page.evaluate(
        "async () => (await axe.run()).violations.map(v => ({id: v.id, impact: v.impact, help: v.help}))"
    )
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], (name, serious)


def test_support_finds_a_post_looks_back_and_redrives_it(page: Any, console: dict[str, Any]) -> None:
    _sign_in(page, console)
    _no_serious_violations(page, "find")
    page.get_by_label("Post id, external id, account or words of its text").fill("spicy launch")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=str(console["failed"])[:8] + "…").click()
    page.wait_for_url(f"**/console/posts/{console['failed']}")
    assert page.locator(".facts").get_by_text("failed", exact=True).is_visible()
    assert page.get_by_text("content_rejected").first.is_visible()
    _no_serious_violations(page, "post")

    # as it stood five minutes after its draft, in Paris: a draft, one event
    page.get_by_label("Time zone").fill("Europe/Paris")
    then = (console["drafted"] + timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Paris"))
    page.get_by_label("As of (in that zone)").fill(then.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**as_of=**")
    assert page.locator(".facts").get_by_text("draft", exact=True).is_visible()
    assert page.locator("table.timeline tbody tr").count() == 1
    assert "CET" in page.locator("table.timeline tbody tr").first.inner_text()
    _no_serious_violations(page, "post-as-of")

    page.get_by_role("link", name="now").click()
    page.get_by_role("button", name="Send again as a new post").click()
    page.wait_for_url("**redriven_as=**")
    assert page.get_by_role("status").get_by_text("Sent again as").is_visible()
    assert page.locator("table.timeline").get_by_text("Redriven").is_visible()
    assert page.get_by_role("button", name="Send again as a new post").count() == 0  # once only
    page.get_by_role("link", name="The raw events").click()
    assert f"key {console['key']['key_id']} (console)" in page.locator("pre.raw").inner_text()

    page.goto(console["root"] + "/console/attention")
    assert page.get_by_text("content_rejected").first.is_visible()
    _no_serious_violations(page, "attention")


def test_another_workspaces_post_cannot_be_reached(page: Any, console: dict[str, Any]) -> None:
    _sign_in(page, console)
    answer = page.goto(f"{console['root']}/console/posts/{console['other']}")
    assert answer.status == 404 and page.get_by_text("No post with id").is_visible()
    answer = page.goto(f"{console['root']}/console/posts/{console['other']}/events")
    assert answer.status == 404 and "Their private post" not in page.content()
    page.goto(console["root"] + "/console/find?q=Their+private")
    assert page.get_by_text("0 found").is_visible()


def test_a_form_without_its_csrf_token_is_refused(page: Any, console: dict[str, Any]) -> None:
    _sign_in(page, console)
    target = f"{console['root']}/console/posts/{console['failed']}/cancel"
    forged = page.request.post(target, form={"csrf": "not-the-token"}, max_redirects=0)
    assert forged.status == 403 and "stale or forged" in forged.text()
    bare = page.request.post(target, form={}, max_redirects=0)
    assert bare.status == 403


def test_signing_in_needs_a_support_key_and_the_cookie_is_strict(page: Any, console: dict[str, Any]) -> None:
    page.goto(console["root"] + "/console")
    page.get_by_label("API key").fill("hk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").get_by_text("not valid").is_visible()
    _no_serious_violations(page, "login")
    _sign_in(page, console)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "herald_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console")
    assert page.goto(console["root"] + "/console/attention").url.endswith("/console")  # signed out


def _free_slots_shown(page: Any) -> dict[str, tuple[int, int]]:
    """Each day of the shown week: its free slots, and its posts that hold a place in the day."""
    shown = {}
    for day in page.locator("section.day").all():
        holding = sum(day.locator(f"li.booked .state-{state}").count() for state in BOOKED)
        shown[day.get_attribute("aria-label").split()[-1]] = (day.locator("li.free").count(), holding)
    return shown


def _free_slots_expected(counted_from: datetime, holding: dict[str, int]) -> dict[str, int]:
    """09:00 and 17:00 in Paris from that instant to Sunday, no more a day than the cap of 3
    leaves beside the day's posts (on a Sunday evening: none)."""
    paris = ZoneInfo("Europe/Paris")
    today = counted_from.astimezone(paris).date()
    monday = today - timedelta(days=today.weekday())
    expected = {}
    for day in (monday + timedelta(days=n) for n in range(7)):
        ahead = sum(datetime.combine(day, time(hour), paris) >= counted_from for hour in (9, 17))
        expected[day.isoformat()] = min(ahead, max(0, 3 - holding.get(day.isoformat(), 0)))
    return expected


def test_accounts_calendar_and_analytics(page: Any, console: dict[str, Any]) -> None:
    _sign_in(page, console)
    page.get_by_role("link", name="Accounts").click()
    row = page.locator("tbody tr").filter(has_text="acme")
    assert "connected" in row.inner_text() and "in 4" in row.inner_text()  # the token expires in ~48 h
    assert " of " in row.inner_text()  # the posting window's use
    assert "1 in the last hour" in row.inner_text()  # the platform's 429, as the timeline has it
    _no_serious_violations(page, "accounts")

    row.get_by_role("link", name="calendar").click()
    assert page.get_by_text("Times in Europe/Paris").is_visible()
    # this week's free queue slots still ahead, counted from the instant the page names (the
    # test's clock may read a minute, or a week's edge, away); today's redriven post and the
    # rate-limited one count against the day's cap, so before 09:00 in Paris today shows one
    counted_from = datetime.fromisoformat(page.locator("time.counted-from").get_attribute("datetime"))
    assert abs(counted_from - datetime.now(UTC)) < timedelta(minutes=5)
    shown = _free_slots_shown(page)
    expected = _free_slots_expected(counted_from, {day: holding for day, (_, holding) in shown.items()})
    assert {day: free for day, (free, _) in shown.items()} == expected, (counted_from, shown)
    _no_serious_violations(page, "calendar")
    page.get_by_role("link", name="next week").click()
    assert page.locator("li.free").count() == 14  # 09:00 and 17:00 on each of seven days

    page.get_by_role("link", name="Analytics").click()
    images = page.locator("figure img")
    assert images.count() == 5
    page.wait_for_load_state("networkidle")
    widths = page.evaluate("() => [...document.querySelectorAll('figure img')].map(i => i.naturalWidth)")
    assert widths == [1000] * 5
    _no_serious_violations(page, "analytics")
    stranger = page.context.browser.new_context()  # no session: no plot
    answer = stranger.new_page().goto(console["root"] + "/console/analytics/cadence.png")
    assert answer.url.endswith("/console") and "image/png" not in (answer.headers.get("content-type") or "")
    stranger.close()
