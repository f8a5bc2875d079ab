"""Files kept by the SHA-256 of their bytes, in a folder: the same bytes are stored once.

The embedded default is a folder beside the SQLite file (`herald.db` → `herald.db.media/`);
with PostgreSQL, `HERALD_MEDIA_DIR` (default `./herald-media`). Another store implements the
`MediaStore` port (services/ports.py) with the same three methods.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from domain.errors import HeraldError

SETTING = "HERALD_MEDIA_DIR"


class MediaMissing(HeraldError):
    code = "media_file_missing"
    field = "media_id"


class FolderMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def beside(cls, database_url: str) -> FolderMediaStore:
        """The store for a Herald on `database_url`: HERALD_MEDIA_DIR, else beside the SQLite file."""
        configured = os.environ.get(SETTING, "").strip()
        if configured:
            return cls(Path(configured))
        parts = urlsplit(database_url)
        if parts.scheme == "sqlite":
            return cls(Path(parts.path[1:] + ".media"))
        return cls(Path("herald-media"))

    def put(self, data: bytes) -> str:
        """Keep `data`; its SHA-256 (hex). Written under a temporary name, then renamed, so a
        crash never leaves half a file under a real name."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
            part.write(data)
            part.flush()
            os.fsync(part.fileno())
        os.replace(part.name, path)
        return digest

    def read(self, digest: str) -> bytes:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise MediaMissing(f"the file {digest[:12]}… is missing from {self.root}") from None

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise MediaMissing(f"{digest[:70]!r} is not a SHA-256")
        return self.root / digest[:2] / digest
