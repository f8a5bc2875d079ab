from __future__ import annotations

from collections.abc import Iterator

import pytest

from infrastructure.bootstrap import open_service
from services.post_service import PostService
from tests.clock import ManualClock


@pytest.fixture
def service(store_url: str, clock: ManualClock) -> Iterator[PostService]:
    app = open_service(store_url, clock=clock)
    yield app
    app.close()
