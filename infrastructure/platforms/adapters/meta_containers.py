"""Making a Meta container (Threads, Instagram) for one part: TEXT; IMAGE or VIDEO from the
file's signed public URL; or a CAROUSEL of child containers. Containers are invisible until
published, so making them may be repeated; the parent's id is kept as an event before it is
published. A container with a file is published only once its status reads FINISHED."""

from __future__ import annotations

from collections.abc import Callable

from domain.content import MediaRef
from domain.intent import PublishIntent
from domain.media import MediaInfo
from domain.outcomes import Observation, Observed
from infrastructure.platforms.http import Answer, Http
from infrastructure.platforms.media_steps import Polling, not_sent, until_ready
from services.ports import MediaSource

ErrorOf = Callable[[Answer, int], Observed]


class ContainerMaker:
    def __init__(
        self,
        http: Http,
        files: MediaSource | None,
        polling: Polling,
        *,
        status_field: str,
        video_type: str,
        alt_for_video: bool,
    ) -> None:
        self.http = http
        self.files = files
        self.polling = polling
        self.status_field = status_field  # Threads: status; Instagram: status_code
        self.video_type = video_type  # a lone video: Threads VIDEO, Instagram REELS
        self.alt_for_video = alt_for_video

    async def make(
        self,
        intent: PublishIntent,
        number: int,
        media: tuple[MediaRef, ...],
        root: str,
        base: str,
        params: dict[str, str],
        headers: dict[str, str],
        error: ErrorOf,
    ) -> str | Observed:
        """The id of a FINISHED container for this part (text and reply in `params`): made at
        `base` (…/{user}/threads, …/{user}/media), its status read at `root`/{id}."""
        if not media:
            return await self._create(base, {**params, "media_type": "TEXT"}, headers, error, number)
        if len(media) == 1:
            single = await self._file_params(intent, media[0], lone=True)
            made = await self._create(base, {**params, **single}, headers, error, number)
        else:
            children = []
            for item in media:
                child = {**await self._file_params(intent, item, lone=False), "is_carousel_item": "true"}
                made_child = await self._create(base, child, headers, error, number)
                if isinstance(made_child, Observed):
                    return made_child
                children.append(made_child)
            made = await self._create(
                base, {**params, "media_type": "CAROUSEL", "children": ",".join(children)}, headers, error, number
            )
        if isinstance(made, Observed):
            return made
        waited = await until_ready(
            lambda: self.status(made, root, headers),
            {"FINISHED"},
            {"ERROR", "EXPIRED"},
            self.polling,
            f"container {made}",
        )
        if waited is not None and waited.kind is Observation.REJECTED:
            # ERROR or EXPIRED (a fetch of the file that failed, processing that broke): nothing
            # is visible, and a new container may well take; the retry budget bounds the tries
            waited = waited.model_copy(update={"kind": Observation.CONNECT_ERROR})
        return waited if waited is not None else made

    async def status(self, container: str, root: str, headers: dict[str, str]) -> str | Observed:
        """The container's status: IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED."""
        answer = await self.http.request(
            "GET", f"{root}/{container}", headers=headers, params={"fields": f"id,{self.status_field}"}
        )
        if isinstance(answer, Observed):
            return answer
        if answer.status != 200:
            return Observed(kind=answer_kind(answer.status), http_status=answer.status, message=str(answer.body)[:200])
        return str(answer.body.get(self.status_field) or "")

    async def _file_params(self, intent: PublishIntent, item: MediaRef, *, lone: bool) -> dict[str, str]:
        assert self.files is not None, "this adapter was made without the media library"
        info: MediaInfo = await self.files.info(intent.workspace, item.ref)
        url = self.files.public_url(intent.workspace, item.ref)
        if info.kind == "video":
            found = {"media_type": self.video_type if lone else "VIDEO", "video_url": url}
            if self.alt_for_video and item.alt_text:
                found["alt_text"] = item.alt_text
            return found
        return {"media_type": "IMAGE", "image_url": url, **({"alt_text": item.alt_text} if item.alt_text else {})}

    async def _create(
        self, base: str, params: dict[str, str], headers: dict[str, str], error: ErrorOf, number: int
    ) -> str | Observed:
        made = await self.http.request("POST", base, headers=headers, params=params)
        if isinstance(made, Observed):
            return not_sent("container", made)  # creating one is invisible: nothing was published
        if made.status != 200 or not made.body.get("id"):
            return not_sent("container", error(made, number))
        return str(made.body["id"])


def answer_kind(status: int) -> Observation:
    return Observation.SERVER_ERROR if status >= 500 else Observation.REJECTED
