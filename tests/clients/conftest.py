"""Fixtures of the client tests: the gateway and the PostgreSQL oracle, loaded with the same data.

- ``gateway``: a ``Server``, ``lakegate serve`` on a local store under the
  session's temporary directory, started once per session.
- ``oracle``: a ``Server``, PostgreSQL 15 from a fresh ``initdb``, started
  once per session. If it cannot start, every test that needs it errors.
- ``scratch_table``: ``scratch.<new name>`` for a test that inserts. The
  oracle has the table ``(time timestamptz, v bigint)`` in schema
  ``scratch``; on the gateway, the first INSERT creates database ``scratch``
  and the measurement.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.config import Settings
from tests.clients.postgres_oracle import start_postgres
from tests.clients.servers import (
    GATEWAY_LONG_QUERY,
    ORACLE_LONG_QUERY,
    USER,
    Server,
    create_scratch_table,
    load_gateway,
    load_oracle,
)
from tests.e2e.gateway_process import start_gateway


# The gateway's store is per session, unlike the per-test local_storage_url
# fixture, so that one gateway start and one data load serve every client test.
@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("client-gateway")
    root = directory / "store"
    root.mkdir()
    process = start_gateway(Settings(storage_url=str(root)), directory / "gateway.log")
    server = Server("gateway", process.port, GATEWAY_LONG_QUERY)
    try:
        load_gateway(server)
        yield server
    finally:
        process.stop()


@pytest.fixture(scope="session")
def oracle() -> Iterator[Server]:
    process = start_postgres(USER)
    server = Server("postgresql", process.port, ORACLE_LONG_QUERY)
    try:
        load_oracle(server)
        yield server
    finally:
        process.stop()


@pytest.fixture
def scratch_table(oracle: Server) -> str:
    return create_scratch_table(oracle)
