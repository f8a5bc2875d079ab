"""Named domain errors. Each carries a stable `code` support can search for, and the field at fault."""

from __future__ import annotations


class HeraldError(Exception):
    """Base of every refusal Herald makes on purpose. Never a bug: a clear answer to bad input."""

    code: str = "herald_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class NaiveDatetime(HeraldError):
    code = "naive_datetime"


class InstantOutOfRange(HeraldError):
    code = "invalid_instant"


class DueOutOfRange(HeraldError):
    code = "scheduled_at_out_of_range"
    field = "scheduled_at"


class DueTimeInPast(HeraldError):
    code = "due_time_in_past"
    field = "scheduled_at"


class EmptyContent(HeraldError):
    code = "empty_content"
    field = "content.text"


class InvalidTransition(HeraldError):
    """The command does not apply to the post's current state."""

    code = "invalid_transition"
    field = "state"


class RedriveRefused(InvalidTransition):
    code = "redrive_refused"


class PostIsTerminal(InvalidTransition):
    code = "post_terminal"


class PostFrozen(HeraldError):
    """Edits and reschedules are refused once claimed or inside the freeze window."""

    code = "post_frozen"


class AlreadyClaimed(HeraldError):
    code = "already_claimed"


class NotDue(HeraldError):
    code = "not_due"
    field = "scheduled_at"


class ConcurrentChange(HeraldError):
    """Another writer appended to the same post first (the store's version check said so)."""

    code = "concurrent_change"
    field = "version"


class VersionMismatch(HeraldError):
    """The caller's view of the post is stale (If-Match)."""

    code = "version_mismatch"
    field = "If-Match"


class NoOpenClaim(HeraldError):
    """An outcome arrived that does not match the post's open claim."""

    code = "no_open_claim"
    field = "attempt"


class PostNotFound(HeraldError):
    code = "post_not_found"
    field = "post_id"


class InvalidSetting(HeraldError):
    code = "invalid_setting"
