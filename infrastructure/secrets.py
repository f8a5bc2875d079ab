"""Credentials sealed at rest with AES-GCM; the key comes from HERALD_SECRET_KEY.

A sealed value is `v1.` + base64url(nonce ‖ ciphertext ‖ tag); the account id is the
associated data, so a sealed blob cannot be moved onto another account.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import HeraldError

SETTING = "HERALD_SECRET_KEY"
GENERATE = 'python -c "import os, base64; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'


class SecretKeyMissing(HeraldError):
    code = "secret_key_missing"
    field = SETTING


class SealBroken(HeraldError):
    code = "credentials_unreadable"
    field = SETTING


def secret_key(environ: dict[str, str] | None = None, purpose: str = "account credentials cannot be sealed") -> bytes:
    """HERALD_SECRET_KEY's 32 bytes; a clear refusal when it is missing or malformed."""
    text = (dict(os.environ) if environ is None else environ).get(SETTING, "").strip()
    if not text:
        raise SecretKeyMissing(f"{SETTING} is not set, so {purpose}; make one with {GENERATE}")
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretKeyMissing(f"{SETTING} must be 32 random bytes in base64 (44 characters); make one with {GENERATE}")
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Sealer:
        """The sealer for HERALD_SECRET_KEY; refuses clearly when it is missing or malformed."""
        return cls(secret_key(environ))

    def seal(self, credentials: dict[str, Any], bound_to: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, orjson.dumps(credentials), bound_to.encode())
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, bound_to: str) -> dict[str, Any]:
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix("v1."))
            plain = self._aead.decrypt(raw[:12], raw[12:], bound_to.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SealBroken(f"these credentials were sealed with another {SETTING}, or were altered") from None
        credentials: dict[str, Any] = orjson.loads(plain)
        return credentials
