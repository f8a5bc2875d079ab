"""Signed, expiring URLs for media files: what Threads, Instagram and Facebook fetch.

A URL names no file: its token carries the workspace, the media id and an expiry, signed
with a key derived from HERALD_SECRET_KEY (HMAC-SHA256, checked in constant time). Anyone
holding the URL may fetch that one file until it expires; nobody can make another.
HERALD_PUBLIC_URL is where `herald serve` is reachable from the platforms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta

import orjson

from domain.errors import HeraldError
from services.ports import Clock

SETTING = "HERALD_PUBLIC_URL"
LIFETIME = timedelta(hours=24)


class LinkInvalid(HeraldError):
    code = "media_link_invalid"
    field = "token"


def public_base(default: str = "http://127.0.0.1:8080") -> str:
    return (os.environ.get(SETTING, "").strip() or default).rstrip("/")


class MediaLinks:
    def __init__(self, secret: bytes, base_url: str, clock: Clock, lifetime: timedelta = LIFETIME) -> None:
        self.key = hmac.new(secret, b"herald media links v1", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.lifetime = lifetime

    def url(self, workspace: str, media_id: str) -> str:
        expires = int((self.clock() + self.lifetime).timestamp())
        claims = _b64(orjson.dumps([workspace, media_id, expires]))
        return f"{self.base_url}/media/{claims}.{_b64(self._sign(claims))}"

    def open(self, token: str) -> tuple[str, str]:
        """(workspace, media id) of a token this Herald signed and that has not expired."""
        refusal = LinkInvalid("no such media link, or it has expired")
        claims, _, signature = token.partition(".")
        try:
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            if not hmac.compare_digest(given, self._sign(claims)):
                raise refusal
            workspace, media_id, expires = orjson.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise refusal from None
        if not isinstance(expires, int) or datetime.fromtimestamp(expires, self.clock().tzinfo) <= self.clock():
            raise refusal
        return str(workspace), str(media_id)

    def _sign(self, claims: str) -> bytes:
        return hmac.new(self.key, claims.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
