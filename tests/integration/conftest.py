from __future__ import annotations

from collections.abc import Iterator

import pytest

from infrastructure.bootstrap import Herald, bootstrap
from tests.clock import ManualClock


@pytest.fixture
def service(store_url: str, clock: ManualClock) -> Iterator[Herald]:
    app = bootstrap(store_url, clock=clock)
    yield app
    app.close()
