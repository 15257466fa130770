"""A running gateway per storage backend: ``gateway`` is parametrised over local, S3 and Azure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

BACKENDS = ["local", "s3", "azure"]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest) -> StorageTarget:
    target: StorageTarget = request.getfixturevalue(f"{request.param}_storage_url")
    return target


@pytest.fixture
def gateway(storage: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    process = start_gateway(storage.settings, tmp_path / "gateway.log")
    yield process
    process.stop()


@pytest.fixture
def local_gateway(local_storage_url: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway on a fresh local store only, for tests whose subject is not the storage backend."""
    process = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    yield process
    process.stop()
