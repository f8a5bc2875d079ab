"""Every platform Herald names is known to every table that is keyed by platform: an account
of any of them can be validated, paced, routed and checked, never a `KeyError` at dispatch."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from domain.content import Content, Platform
from domain.media_rules import LIMITS
from domain.quota import QUOTAS
from domain.validation import RULES, validate
from infrastructure.platforms.catalog import adapters
from infrastructure.platforms.http import Http
from infrastructure.targets import KNOWN_HOSTS
from services.account_service import DEFAULT_BASE_URLS
from tests.clock import ManualClock


@pytest.mark.parametrize("platform", list(Platform))
def test_every_platform_is_in_every_table(platform: Platform) -> None:
    assert platform in RULES and platform in LIMITS and platform in QUOTAS
    validate(Content(text="Hello"), RULES[platform])  # names the platform in its messages
    if platform is not Platform.MASTODON:  # Mastodon has no one host: each account names its instance
        assert platform in DEFAULT_BASE_URLS
    if platform not in (Platform.MASTODON, Platform.BLUESKY):  # their instances are any public host
        assert platform in KNOWN_HOSTS


async def _catalog() -> set[Platform]:
    async with aiohttp.ClientSession() as session:
        return set(adapters(Http(session, timeout=1), ManualClock()))


def test_every_platform_has_an_adapter() -> None:
    assert asyncio.run(_catalog()) == set(Platform)
