"""Settings read from HERALD_* environment variables, each checked with a clear message."""

from __future__ import annotations

import os
from datetime import timedelta

from domain.decisions import RetryPolicy
from domain.errors import InvalidSetting
from infrastructure.platforms.media_steps import Polling
from services.results import PostSettings

LONGEST = 366 * 24 * 3600.0  # no setting of seconds is longer than a year


def _seconds(environ: dict[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= LONGEST:  # NaN fails both
        raise InvalidSetting(
            f"{name}={text!r} must be a number of seconds from 0 to {LONGEST:.0f} (a year)", field=name
        )
    return value


def media_polling(environ: dict[str, str] | None = None) -> Polling:
    """How often adapters look at a platform's processing of a file or container
    (HERALD_MEDIA_POLL_SECONDS, 2 s) and how many looks before the attempt is retried later
    (HERALD_MEDIA_POLL_TRIES, 30)."""
    environ = dict(os.environ) if environ is None else environ
    every = _seconds(environ, "HERALD_MEDIA_POLL_SECONDS", Polling.every) or Polling.every
    tries = int(_seconds(environ, "HERALD_MEDIA_POLL_TRIES", Polling.tries)) or 1
    return Polling(every=every, tries=tries)


def settings_from_env(environ: dict[str, str] | None = None) -> PostSettings:
    """Post settings from HERALD_* variables (seconds), each checked with a clear message."""
    environ = dict(os.environ) if environ is None else environ

    def seconds(name: str, default: float) -> float:
        return _seconds(environ, name, default)

    defaults = PostSettings()
    policy = defaults.retry_policy
    return PostSettings(
        grace=timedelta(seconds=seconds("HERALD_GRACE_SECONDS", defaults.grace.total_seconds())),
        freeze=timedelta(seconds=seconds("HERALD_FREEZE_SECONDS", defaults.freeze.total_seconds())),
        lease=timedelta(seconds=seconds("HERALD_LEASE_SECONDS", defaults.lease.total_seconds())),
        retry_policy=RetryPolicy(
            base_seconds=seconds("HERALD_RETRY_BASE_SECONDS", policy.base_seconds) or policy.base_seconds,
            cap_seconds=seconds("HERALD_RETRY_CAP_SECONDS", policy.cap_seconds) or policy.cap_seconds,
            max_attempts=int(seconds("HERALD_RETRY_MAX_ATTEMPTS", policy.max_attempts)) or 1,
            jitter=min(1.0, seconds("HERALD_RETRY_JITTER", policy.jitter)),
            ambiguity_bound=int(seconds("HERALD_AMBIGUITY_BOUND", policy.ambiguity_bound)) or 1,
        ),
    )


def whole_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InvalidSetting(f"{name}={text!r} must be a whole number, 1 or more", field=name)
    return int(text)
