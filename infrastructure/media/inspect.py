"""What a file is: Pillow for images (format, size, animation), ffprobe for video (codec,
duration, size). A file neither recognises is refused with a clear error; video without
ffprobe on the machine is refused saying how to install it."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
from typing import Any

from domain.errors import HeraldError
from domain.media import MediaInfo

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
VIDEO_TYPES = {"mov,mp4,m4a,3gp,3g2,mj2": None}  # ffprobe's name for the MP4 family
MAX_BYTES = 1024 * 1024 * 1024  # nothing larger is taken into the library (1 GiB)


class MediaUnreadable(HeraldError):
    code = "media_unreadable"
    field = "file"


def inspect(data: bytes) -> MediaInfo:
    """The facts of `data`, or `MediaUnreadable` saying what it is not."""
    if not data:
        raise MediaUnreadable("the file is empty")
    if len(data) > MAX_BYTES:
        raise MediaUnreadable(f"the file is {len(data):,} bytes; the library takes files up to {MAX_BYTES:,}")
    digest = hashlib.sha256(data).hexdigest()
    image = _image(data, digest)
    if image is not None:
        return image
    return _video(data, digest)


def _image(data: bytes, digest: str) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind = str(picture.format or "")
            width, height = picture.size
            frames = int(getattr(picture, "n_frames", 1) or 1)
            duration = None
            if frames > 1:
                duration = sum(_frame_ms(picture, n) for n in range(min(frames, 2000))) / 1000
            picture.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if kind not in IMAGE_TYPES:
        raise MediaUnreadable(f"{kind or 'this'} images are not taken; use JPEG, PNG, GIF or WebP")
    animated = kind == "GIF" and frames > 1
    return MediaInfo(
        sha256=digest,
        size=len(data),
        mime=IMAGE_TYPES[kind],
        kind="gif" if animated else "image",
        width=width,
        height=height,
        duration=duration if animated else None,
        frames=frames,
    )


def _frame_ms(picture: Any, n: int) -> float:
    picture.seek(n)
    return float(picture.info.get("duration", 100) or 100)


def _video(data: bytes, digest: str) -> MediaInfo:
    probe = shutil.which("ffprobe")
    if probe is None:
        raise MediaUnreadable(
            "this is not an image Herald recognises, and video cannot be checked here: "
            "ffprobe is missing (apt-get install ffmpeg, or scripts/setup)"
        )
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        file.write(data)
        file.flush()
        done = subprocess.run(
            [probe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", file.name],
            capture_output=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise MediaUnreadable("the file is neither an image nor a video Herald recognises")
    facts = json.loads(done.stdout or b"{}")
    container = str(facts.get("format", {}).get("format_name", ""))
    video = next((s for s in facts.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None or ("mp4" not in container and "mov" not in container):
        raise MediaUnreadable(f"videos are taken as MP4 or MOV; this is {container or 'unknown'}")
    codec = str(video.get("codec_name", ""))
    if codec not in ("h264", "hevc"):
        raise MediaUnreadable(f"videos are taken in H.264 or HEVC; this one is {codec or 'unknown'}")
    major = str(facts.get("format", {}).get("tags", {}).get("major_brand", "")).strip()
    return MediaInfo(
        sha256=digest,
        size=len(data),
        mime="video/quicktime" if major == "qt" else "video/mp4",
        kind="video",
        width=int(video.get("width", 0)),
        height=int(video.get("height", 0)),
        duration=float(facts.get("format", {}).get("duration", 0) or 0),
    )
