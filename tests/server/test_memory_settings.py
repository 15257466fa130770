"""The process's memory choices: pyarrow's pool, and DuckDB's cache of file contents per store.

Their effect on memory under load is measured by ``python -m
reliability.load`` (docs/reliability.md). These tests check that each
choice is in force.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.engine import Engine
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget

# Writes and reads a Parquet file in pyarrow's C++ code, then prints the
# pool pyarrow's Python calls use and what the bundled mimalloc allocated.
_PROBE = """
import io
import gateway
import pyarrow as pa
import pyarrow.parquet as pq
table = pa.table({"n": list(range(100_000)), "s": [str(i) for i in range(100_000)]})
sink = io.BytesIO()
pq.write_table(table, sink, compression="zstd")
pq.read_table(io.BytesIO(sink.getvalue())).sort_by("s")
print(pa.default_memory_pool().backend_name, pa.mimalloc_memory_pool().max_memory())
"""


def _probe(pool_variable: str | None) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    if pool_variable is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool_variable
    completed = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                               check=True, timeout=60)
    return completed.stdout.split()


def test_pyarrow_allocates_with_malloc() -> None:
    assert _probe(None) == ["system", "0"]


def test_pool_chosen_by_operator_stays() -> None:
    pool, mimalloc_bytes = _probe("mimalloc")

    assert pool == "mimalloc"
    assert int(mimalloc_bytes) > 0


def _file_cache(engine: Engine) -> bool:
    cursor = engine.cursor()
    try:
        row = cursor.execute("SELECT current_setting('enable_external_file_cache')").fetchone()
    finally:
        cursor.close()
    assert row is not None
    return bool(row[0])


def test_local_store_leaves_file_contents_to_the_os(local_storage_url: StorageTarget) -> None:
    engine = Engine(open_backend(local_storage_url.url, local_storage_url.settings))
    try:
        assert _file_cache(engine) is False
    finally:
        engine.close()


@pytest.mark.parametrize("target_name", ["s3_storage_url", "azure_storage_url"])
def test_object_store_keeps_file_contents(target_name: str, request: pytest.FixtureRequest) -> None:
    target: StorageTarget = request.getfixturevalue(target_name)
    engine = Engine(open_backend(target.url, target.settings))
    try:
        assert _file_cache(engine) is True
    finally:
        engine.close()

