"""Schemathesis hooks for tests/fuzz.py (loaded through SCHEMATHESIS_HOOKS).

A real client makes a fresh Idempotency-Key for each new request. Generated keys repeat
("0", "a"…), and a repeated key with the same body is a retry: Herald replays the first
answer, as Stripe does, even after the resource it created was removed. That is right, but
the stateful checks then see a "created" resource that is gone. So a well-formed generated key
gets a unique suffix; empty, blank and over-long keys (the negative cases) are left as they are.
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_fresh = itertools.count()


@schemathesis.hook
def map_headers(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    if not headers:
        return headers
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and key.strip() and len(key) < 200:
        headers = {**headers, "Idempotency-Key": f"{key}-{next(_fresh)}"}
    return headers
