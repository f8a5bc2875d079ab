"""An evergreen filler SIGKILLed mid-run, then run again, on PostgreSQL: every post it made
has its pool's record and every record its post (they are saved in one transaction), no
account gets two posts in one slot, and each reuse is its own post."""

from __future__ import annotations

import signal
import subprocess
import time as clock_time
from datetime import time, timedelta

import psycopg
import pytest

from domain.content import Content, Platform
from domain.evergreen import EvergreenItem
from domain.rule import Target
from infrastructure.bootstrap import bootstrap
from tests.conftest import POSTGRES_URL
from tests.processes import HERALD, herald_env, reaped


@pytest.mark.postgres
def test_a_filler_killed_mid_run_and_run_again_leaves_every_reuse_whole(postgres_url: str) -> None:
    herald = bootstrap(postgres_url)
    targets = [Target(account=f"acct-{n}", platform=Platform.MASTODON) for n in range(10)]
    hourly = [(day, time(hour)) for day in range(7) for hour in range(24)]
    for target in targets:
        herald.queues.configure("default", target.account, zone="Europe/Paris", slots=hourly)
    items = [EvergreenItem(key=f"tip-{n}", variants=(Content(text=f"Tip {n}"),)) for n in range(30)]
    pool = herald.evergreen.create(
        "default", name="tips", targets=targets, items=items, min_interval=timedelta(hours=1)
    )
    herald.close()
    schema = postgres_url.rpartition("schema=")[2]
    drafted = f"SELECT count(*) FROM \"{schema}\".herald_events WHERE topic LIKE '%Post.Drafted'"
    env = herald_env(postgres_url)
    worker = subprocess.Popen([*HERALD, "evergreen", "fill"], env=env, stdout=subprocess.DEVNULL)
    with reaped(worker), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        deadline = clock_time.monotonic() + 60
        while conn.execute(drafted).fetchone()[0] < 60:  # type: ignore[index]
            assert clock_time.monotonic() < deadline and worker.poll() is None, "it ended before it was killed"
            clock_time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        again = subprocess.run([*HERALD, "evergreen", "fill"], env=env, capture_output=True, text=True, timeout=180)
        assert again.returncode == 0, again.stderr
        posts = conn.execute(drafted).fetchone()[0]  # type: ignore[index]
    herald = bootstrap(postgres_url)
    stored = herald.events.get(pool.id)
    records = [e for e in herald.events.history(pool.id) if type(e).__name__ == "Recycled"]
    assert posts >= 230 and len(records) == posts  # a post for every record, a record for every post
    made = [herald.events.get(record.post_id) for record in records]
    assert len({post.id for post in made}) == posts
    slots = [(post.account, post.due_at) for post in made]
    assert len(set(slots)) == posts  # never two in one slot
    assert all(post.content.text.startswith("Tip ") for post in made) and stored.uses
    herald.close()
