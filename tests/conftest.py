"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelclient.testing import block_network


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Unit tests may talk to 127.0.0.1 (stub servers) but never to the network."""
    with block_network():
        yield
