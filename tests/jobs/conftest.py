"""Fixtures of the scheduled-job tests: the store, on each of the three backends."""

from __future__ import annotations

import pytest

from tests.emulators import StorageTarget


@pytest.fixture(params=["local", "s3", "azure"])
def storage(request: pytest.FixtureRequest) -> StorageTarget:
    target: StorageTarget = request.getfixturevalue(f"{request.param}_storage_url")
    return target
