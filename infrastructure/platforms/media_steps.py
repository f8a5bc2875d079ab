"""What every adapter does with a post's files: upload each once per attempt (an upload is
not the irreversible step, so it may be repeated), record it, and reuse it on a retry until
it expires; and wait, boundedly, while a platform processes a file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from domain.content import MediaRef
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, Upload
from services.ports import Clock, Progress


@dataclass(frozen=True)
class Polling:
    """How long to wait for a platform's processing: `tries` looks, `every` seconds apart."""

    every: float = 2.0
    tries: int = 30


def not_sent(what: str, seen: Observed) -> Observed:
    """A step before the post (an upload, a container) that failed: nothing is visible, so it
    is safe to try again; the post's outcome says so, not 'maybe sent'."""
    kind: Observation = (
        seen.kind if seen.kind in (Observation.RATE_LIMITED, Observation.AUTH_REVOKED) else Observation.CONNECT_ERROR
    )
    if seen.kind is Observation.REJECTED:
        kind = Observation.REJECTED  # the platform refuses the file itself: no retry makes it take it
    return seen.model_copy(update={"kind": kind, "message": f"{what}: {seen.message or seen.kind.value}"[:300]})


async def uploaded(
    intent: PublishIntent,
    part: int,
    index: int,
    progress: Progress,
    clock: Clock,
    upload: Callable[[], Awaitable[Upload | Observed]],
    *,
    again: bool = False,
) -> str | Observed:
    """The platform's id for file `index` of `part`: the earlier upload while it lasts, else a
    new one (recorded at once). `again`: the platform refused the earlier id; upload anew."""
    earlier = intent.upload(part, index)
    if earlier is not None and earlier.usable(clock()) and not again:
        return earlier.remote_id
    made = await upload()
    if isinstance(made, Observed):
        return not_sent(f"upload of file {index + 1} of part {part}", made)
    await progress.uploaded(part, index, made)
    return made.remote_id


@dataclass(frozen=True)
class PartFiles:
    """One part's files, and how the adapter uploads one of them."""

    intent: PublishIntent
    part: int
    media: tuple[MediaRef, ...]
    progress: Progress
    clock: Clock
    upload: Callable[[MediaRef], Awaitable[Upload | Observed]]

    async def ids(self, *, again: bool = False) -> list[str] | Observed:
        """The platform's id of every file, in order (see `uploaded`); or why not."""
        ids = []
        for index, item in enumerate(self.media):
            upload = partial(self.upload, item)
            made = await uploaded(self.intent, self.part, index, self.progress, self.clock, upload, again=again)
            if isinstance(made, Observed):
                return made
            ids.append(made)
        return ids


async def sent_with_files(
    files: PartFiles, send: Callable[[list[str]], Awaitable[Observed]], stale: Callable[[Observed], bool]
) -> Observed:
    """Upload (or reuse) a part's files, then send the part with their ids. When the platform
    refuses the files as unknown or expired, upload them anew and send once more; refused
    again, the part is retryable (nothing went live), never `failed` for a file the platform
    let lapse. Every outcome but acceptance names the part."""
    outcome = await _sent(files, send, again=False)
    if files.media and stale(outcome):
        outcome = await _sent(files, send, again=True)
        if stale(outcome):
            message = f"the platform refused freshly uploaded files: {outcome.message or ''}"[:300]
            outcome = outcome.model_copy(update={"kind": Observation.CONNECT_ERROR, "message": message})
    if outcome.kind is not Observation.ACCEPTED and outcome.part is None:
        outcome = outcome.model_copy(update={"part": files.part})
    return outcome


async def _sent(files: PartFiles, send: Callable[[list[str]], Awaitable[Observed]], *, again: bool) -> Observed:
    ids = await files.ids(again=again)
    return ids if isinstance(ids, Observed) else await send(ids)


async def until_ready(
    look: Callable[[], Awaitable[str | Observed]], ready: set[str], failed: set[str], polling: Polling, what: str
) -> Observed | None:
    """Look at a processing state until it is in `ready` (None), fails, or the wait runs out
    (a retryable refusal: nothing is visible yet)."""
    state = ""
    for attempt in range(polling.tries):
        seen = await look()
        if isinstance(seen, Observed):
            return not_sent(f"{what} status", seen)
        state = seen
        if state in ready:
            return None
        if state in failed:
            return Observed(kind=Observation.REJECTED, platform_code=state.lower(), message=f"{what} is {state}")
        if attempt < polling.tries - 1:
            await asyncio.sleep(polling.every)
    return Observed(
        kind=Observation.SERVER_ERROR,
        platform_code="still_processing",
        message=f"{what} still {state or 'processing'} after {polling.tries} looks",
    )
