"""Meta's containers, as Threads and Instagram document them: a container is made first (for
text, an image or video fetched from a public URL, or a carousel of child containers), is
IN_PROGRESS while the file is fetched and processed, FINISHED once it can be published,
PUBLISHED once it was, ERROR when its file could not be used, EXPIRED after 24 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

EXPIRES_AFTER = timedelta(hours=24)
MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", "REELS", "CAROUSEL")


class ContainerRefused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MetaContainers:
    def __init__(self, sim: Simulator, platform: str, max_children: int) -> None:
        self.sim = sim
        self.platform = platform
        self.max_children = max_children

    async def create(self, user: str, params: dict[str, Any], default_type: str) -> str:
        """A new container's id, or `ContainerRefused` with the Graph API's error code."""
        kind = str(params.get("media_type") or default_type).upper()
        if kind not in MEDIA_TYPES:
            raise ContainerRefused(100, f"Invalid parameter: media_type {kind}")
        container: dict[str, Any] = {
            "user": user,
            "platform": self.platform,
            "kind": kind,
            "text": params.get("text") or params.get("caption") or "",
            "reply_to": params.get("reply_to_id"),
            "alt": params.get("alt_text"),
            "item": str(params.get("is_carousel_item", "")).lower() == "true",
            "published": None,
            "created": self.sim.now(),
            "file": None,
            "children": [],
            "error": None,
        }
        if kind in ("IMAGE", "VIDEO", "REELS"):
            url = params.get("image_url") if kind == "IMAGE" else params.get("video_url")
            if not url:
                raise ContainerRefused(100, f"Invalid parameter: {'image_url' if kind == 'IMAGE' else 'video_url'}")
            fault = self.sim.files.fault()
            fetched = await self.sim.files.fetch(self.platform, user, str(url), "image/jpeg", fault)
            if isinstance(fetched, str):
                raise ContainerRefused(9004, f"The media could not be fetched from this uri: {fetched}")
            if fault == "upload_500":
                container["error"] = "ERROR"  # the file is there, and processing it failed
            container["file"] = fetched.id
        if kind == "CAROUSEL":
            ids = [c for c in str(params.get("children", "")).split(",") if c]
            if not 2 <= len(ids) <= self.max_children:
                raise ContainerRefused(100, f"Invalid parameter: a carousel takes 2 to {self.max_children} children")
            for child in ids:
                known = self.sim.containers.get(child)
                if known is None or known["user"] != user or not known["item"]:
                    raise ContainerRefused(100, f"Invalid parameter: children ({child} is not a carousel item)")
            container["children"] = ids
        container_id = f"c{self.sim.next_id()}"
        self.sim.containers[container_id] = container
        return container_id

    def state(self, container: dict[str, Any], look: bool = True) -> str:
        """Its status now (a look also moves processing along)."""
        if container["published"]:
            return "PUBLISHED"
        if self.sim.now() - container["created"] > EXPIRES_AFTER:
            return "EXPIRED"
        if container["error"]:
            return "ERROR"
        files = [container["file"]] if container["file"] else []
        for child in container["children"]:
            state = self.state(self.sim.containers[child], look)
            if state != "FINISHED":
                return state if state in ("ERROR", "EXPIRED") else "IN_PROGRESS"
        for file_id in files:
            item = self.sim.files.items[file_id]
            current = self.sim.files.look(item) if look else item.state
            if current != "succeeded":
                return "IN_PROGRESS"
        return "FINISHED"

    def media(self, container: dict[str, Any]) -> list[dict[str, Any]]:
        """What reached the platform: each file's hash and alt text, carousel children in order."""
        if container["children"]:
            return [m for child in container["children"] for m in self.media(self.sim.containers[child])]
        if container["file"]:
            return [{**self.sim.files.items[container["file"]].truth(), "alt": container["alt"]}]
        return []


def error(status: int, code: int, message: str, subcode: int | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        body["error_subcode"] = subcode
    return web.json_response({"error": body}, status=status)


def fault_answer(fault: str | None) -> web.Response | None:
    if fault == "http_401":
        return error(401, 190, "Error validating access token: The session has been invalidated")
    if fault == "http_403":
        return error(400, 100, "Invalid parameter")
    if fault == "http_429":
        return error(429, 4, "Application request limit reached")
    if fault == "http_500":
        return error(500, 2, "An unexpected error has occurred. Please retry your request later.")
    return None
