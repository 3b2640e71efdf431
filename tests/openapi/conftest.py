"""The walk's examples, checked against the contract's, or recorded into it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.openapi.recorded import Examples


@pytest.fixture(scope="session")
def examples() -> Iterator[Examples]:
    found = Examples()
    yield found
    found.write()
