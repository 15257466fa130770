"""Looking at a gateway's store from outside the gateway: objects, their content hashes, their rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from gateway.storage.backend import StorageBackend
from gateway.storage.layout import file_version
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget


def store_backend(storage: StorageTarget) -> StorageBackend:
    """Return a backend of its own on the test's store (not the gateway's)."""
    return open_backend(storage.url, storage.settings)


def file_hashes(storage: StorageTarget, prefix: str) -> dict[str, str]:
    """Return {path: sha256 of the content} of every object under ``prefix``."""
    backend = store_backend(storage)
    return {path: hashlib.sha256(backend.read(path)).hexdigest() for path in backend.list(prefix)}


def data_hashes(storage: StorageTarget) -> dict[str, str]:
    """Return {path: sha256} of every object but the gateway's metadata (``_lakegate/``: leases, policies)."""
    return {path: digest for path, digest in file_hashes(storage, "").items() if not path.startswith("_lakegate/")}


def live_hashes(hashes: dict[str, str]) -> dict[str, str]:
    """Return {base path: hash of its newest version}: what the gateway reads (see layout.file_version)."""
    return {file_version(path)[0]: hashes[path] for path in live_paths(hashes)}


def live_paths(paths: Iterable[str]) -> set[str]:
    """Return the paths that are the newest version of their file: those the gateway reads."""
    newest: dict[str, tuple[str, str]] = {}
    for path in paths:
        base, version = file_version(path)
        if base not in newest or version > newest[base][0]:
            newest[base] = (version, path)
    return {path for _, path in newest.values()}


def parquet_tables(storage: StorageTarget, prefix: str) -> dict[str, pa.Table]:
    """Read every Parquet object under ``prefix`` whole; a file that is not valid Parquet raises."""
    backend = store_backend(storage)
    return {path: pq.read_table(pa.BufferReader(backend.read(path)))
            for path in backend.list(prefix) if path.endswith(".parquet")}
