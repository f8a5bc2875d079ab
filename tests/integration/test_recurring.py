"""Recurring rules on both stores: occurrences become ordinary posts a lead time before they
fall due, once each, at their local time across daylight saving; a paused rule makes none;
a target that refuses is named, never dropped silently; and a materialiser SIGKILLed
mid-run, then run again, makes no post twice."""

from __future__ import annotations

import signal
import subprocess
import time as clock_time
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from domain.content import Content, Platform
from domain.recurrence import Recurrence
from domain.rule import InvalidLead, Rule, Target
from domain.validation import ContentInvalid
from infrastructure.bootstrap import Herald, bootstrap
from tests.clock import ManualClock
from tests.conftest import POSTGRES_URL
from tests.processes import HERALD, herald_env, reaped

PARIS = ZoneInfo("Europe/Paris")
TARGETS = [Target(account="acme", platform=Platform.MASTODON), Target(account="acme-x", platform=Platform.X)]


def daily(service: Herald, at: time, starts: date, count: int = 10, **extra: object) -> object:
    return service.recurring.create(
        "default",
        name="daily",
        zone="Europe/Paris",
        recurrence=Recurrence(rrule=f"FREQ=DAILY;COUNT={count}", starts=starts, at=at),
        content=Content(text="Good morning"),
        targets=TARGETS,
        **extra,  # type: ignore[arg-type]
    )


def test_occurrences_become_posts_a_day_ahead_once_each(service: Herald, clock: ManualClock) -> None:
    clock.now = datetime(2027, 3, 25, 12, tzinfo=UTC)
    rule = daily(service, time(9), date(2027, 3, 26))
    made = service.recurring.materialise()
    assert [m.local_date for m in made] == [date(2027, 3, 26)]  # within 24 h: tomorrow's only
    assert service.recurring.materialise() == []  # again: nothing more
    clock.advance(days=2)
    made = service.recurring.materialise()
    assert [m.local_date for m in made] == [date(2027, 3, 27), date(2027, 3, 28)]
    for item in made:
        for post_id in item.post_ids:
            post = service.posts.get_post(post_id)
            assert post.state == "queued" and post.due_at.astimezone(PARIS).time() == time(9)  # type: ignore[union-attr]
            assert post.external_id == f"rule:{rule.id}:{item.local_date}"  # type: ignore[attr-defined]
    view = service.recurring.get("default", rule.id)  # type: ignore[attr-defined]
    assert view.materialised == 3 and view.next_due == datetime(2027, 3, 29, 7, tzinfo=UTC)


def test_a_time_the_clock_skips_moves_to_the_end_of_the_gap_and_says_so(service: Herald, clock: ManualClock) -> None:
    clock.now = datetime(2027, 3, 27, 3, tzinfo=UTC)
    rule = daily(service, time(2, 30), date(2027, 3, 27))
    [made] = service.recurring.materialise()
    assert (made.local_date, made.due_at, made.adjustment) == (
        date(2027, 3, 28),
        datetime(2027, 3, 28, 1, tzinfo=UTC),  # 03:00 in Paris, the first instant after the gap
        "moved_out_of_gap",
    )
    events = [e for e in service.events.history(rule.id) if isinstance(e, Rule.Materialised)]  # type: ignore[attr-defined]
    assert events[-1].adjustment == "moved_out_of_gap"


def test_a_paused_rule_makes_nothing_until_resumed(service: Herald, clock: ManualClock) -> None:
    clock.now = datetime(2027, 1, 10, 12, tzinfo=UTC)
    rule = daily(service, time(9), date(2027, 1, 11))
    service.recurring.pause("default", rule.id)  # type: ignore[attr-defined]
    assert service.recurring.materialise() == []
    service.recurring.resume("default", rule.id)  # type: ignore[attr-defined]
    assert len(service.recurring.materialise()) == 1


def test_a_template_a_target_would_refuse_is_refused_when_the_rule_is_made(service: Herald) -> None:
    with pytest.raises(ContentInvalid) as refusal:
        service.recurring.create(
            "default",
            name="long",
            zone="Europe/Paris",
            recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=2", starts=date(2027, 1, 11), at=time(9)),
            content=Content(text="a" * 400),  # too long for X, fine on Mastodon
            targets=TARGETS,
        )
    assert "X allows 280" in str(refusal.value)


def test_an_occurrence_the_planner_missed_is_named_not_dropped(service: Herald, clock: ManualClock) -> None:
    clock.now = datetime(2027, 1, 10, 12, tzinfo=UTC)
    daily(service, time(9), date(2027, 1, 11), count=2)
    clock.now = datetime(2027, 1, 11, 9, tzinfo=UTC)  # the planner was down past the first one (08:00Z)
    made = service.recurring.materialise()
    assert [(m.local_date, len(m.post_ids)) for m in made] == [(date(2027, 1, 11), 0), (date(2027, 1, 12), 2)]
    assert len(made[0].refused) == 2 and all("due_time_in_past" in r for r in made[0].refused)
    assert service.recurring.materialise() == []  # recorded: not tried again and again


def test_the_lead_must_outlast_the_freeze_window(service: Herald) -> None:
    with pytest.raises(InvalidLead):
        daily(service, time(9), date(2027, 1, 11), lead=timedelta(seconds=30))


def test_an_earlier_run_that_made_the_posts_but_not_the_record_is_not_repeated(
    service: Herald, clock: ManualClock
) -> None:
    clock.now = datetime(2027, 1, 10, 12, tzinfo=UTC)
    rule = daily(service, time(9), date(2027, 1, 11))
    stored = service.events.get(rule.id)  # type: ignore[attr-defined]
    [occurrence] = list(stored.recurrence.occurrences(PARIS, after=clock.now, until=clock.now + timedelta(days=1)))
    first = stored.post_ids(occurrence)[0]
    service.posts.schedule(  # what a run killed after its first post left behind
        account="acme",
        platform="mastodon",
        content=Content(text="Good morning"),
        scheduled_at=occurrence.due_at,
        post_id=first,
    )
    [made] = service.recurring.materialise()
    assert first in made.post_ids and len(made.post_ids) == 2


@pytest.mark.postgres
def test_a_materialiser_killed_mid_run_and_run_again_makes_no_post_twice(postgres_url: str) -> None:
    herald = bootstrap(postgres_url)
    targets = [Target(account=f"acct-{n}", platform=Platform.MASTODON) for n in range(10)]
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    rule = herald.recurring.create(
        "default",
        name="busy",
        zone="Europe/Paris",
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=28", starts=tomorrow, at=time(9)),
        content=Content(text="Daily"),
        targets=targets,
        lead=timedelta(days=30),
    )
    herald.close()
    schema = postgres_url.rpartition("schema=")[2]
    drafted = f"SELECT count(*) FROM \"{schema}\".herald_events WHERE topic LIKE '%Post.Drafted'"
    env = herald_env(postgres_url)
    worker = subprocess.Popen([*HERALD, "rules", "materialise"], env=env, stdout=subprocess.DEVNULL)
    with reaped(worker), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        deadline = clock_time.monotonic() + 60
        while conn.execute(drafted).fetchone()[0] < 40:  # type: ignore[index]
            assert clock_time.monotonic() < deadline and worker.poll() is None
            clock_time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        again = subprocess.run([*HERALD, "rules", "materialise"], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert conn.execute(drafted).fetchone()[0] == 280  # type: ignore[index]
    herald = bootstrap(postgres_url)
    stored = herald.events.get(rule.id)
    assert len(stored.materialised) == 28
    assert sorted(p for ids in stored.materialised.values() for p in ids) == sorted(
        {p for ids in stored.materialised.values() for p in ids}
    )
    herald.close()
