"""One lifecycle table: every post event is in it, and every projection decides about every
event (folds it or deliberately leaves it out). Adding an event and forgetting a projection
fails here, naming the projection."""

from __future__ import annotations

from domain.post import DESCRIPTION, LIFECYCLE, STATE_AFTER, Post
from infrastructure.cli.projections import PROJECTION_NAMES
from projections.catalog import PROJECTIONS
from projections.webhook_outbox import WebhookOutbox

EVENTS = {  # the event classes the post declares (the library adds its own bases, Event and Created)
    value
    for name, value in vars(Post).items()
    if isinstance(value, type) and issubclass(value, Post.Event) and name not in ("Event", "Created")
}


def test_every_post_event_is_in_the_lifecycle_table_with_a_description() -> None:
    assert EVENTS == set(LIFECYCLE) == set(STATE_AFTER) == set(DESCRIPTION)
    assert all(text.strip() for text in DESCRIPTION.values())


def test_every_projection_handles_or_ignores_every_event() -> None:
    projections = [*(cls() for cls in PROJECTIONS.values()), WebhookOutbox(lambda workspace: [])]
    for projection in projections:
        decided = projection.handles | projection.ignores
        assert not projection.handles & projection.ignores, projection.name
        assert decided == EVENTS, f"{projection.name} forgot {sorted(e.__name__ for e in EVENTS - decided)}"


def test_the_command_line_names_every_projection() -> None:
    assert tuple(PROJECTIONS) == PROJECTION_NAMES
