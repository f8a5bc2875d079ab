"""Files for media tests, made in memory with Pillow: images of a chosen size and format, an
animated GIF, and (where ffmpeg is installed) a short H.264 video."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image


def image(width: int = 800, height: int = 800, fmt: str = "PNG", shade: int = 0) -> bytes:
    """An image whose bytes differ with `shade` (so each is its own media)."""
    picture = Image.new("RGB", (width, height), ((40 + shade * 37) % 256, (90 + shade * 11) % 256, 160))
    out = io.BytesIO()
    picture.save(out, format=fmt, quality=85) if fmt == "JPEG" else picture.save(out, format=fmt)
    return out.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    pictures = [Image.new("RGB", (120, 80), (n * 60 % 256, 30, 90)) for n in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=200, loop=0)
    return out.getvalue()


def video(seconds: float = 1.0) -> bytes | None:
    """A small MP4 (H.264), or None where ffmpeg is missing."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "clip.mp4"
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc=size=320x240:rate=10:duration={seconds}",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                str(target),
            ],
            check=True,
            timeout=60,
        )
        return target.read_bytes()
