"""Shared fixtures of the hardening tests: real ``lakegate serve`` processes on a fresh local store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway, store_gateway
from tests.emulators import StorageTarget


@pytest.fixture
def gateway_launcher(local_storage_url: StorageTarget, tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateways on the test's local store with extra ``lakegate serve`` flags; all stop at teardown."""
    started: list[GatewayProcess] = []

    def launch(*flags: str) -> GatewayProcess:
        process = start_gateway(local_storage_url.settings, tmp_path / f"gateway-{len(started)}.log", *flags)
        started.append(process)
        return process

    yield launch
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def module_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway on a fresh local store, shared by the tests of a module (hypothesis examples included)."""
    yield from store_gateway(tmp_path_factory, "module-gateway")
