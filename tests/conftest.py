"""Fixtures shared by all tests.

Services (session scope, started on first use, stopped at the end):
- ``moto_endpoint``: ``str``, moto's S3 server, ``http://127.0.0.1:<port>``.
- ``azurite_endpoint``: ``str``, Azurite's blob endpoint,
  ``http://127.0.0.1:<port>/devstoreaccount1``.
A service that does not start fails the run with its log; it is never skipped.

Storage roots (function scope, each a fresh ``tests.emulators.StorageTarget``
with ``url`` and ``settings``):
- ``local_storage_url``: a new directory ``<tmp>/outer/root``.
- ``s3_storage_url``: ``s3://<new bucket>/<random multi-level prefix>``.
- ``azure_storage_url``: ``az://<new container>/<random multi-level prefix>``.

``make_settings(url, **fields)`` builds a ``Settings`` whose S3 or Azure
part points at the emulator that ``url`` needs.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import adlfs  # type: ignore[import-untyped]
import fsspec
import pytest
import s3fs  # type: ignore[import-untyped]

from gateway.config import AzureSettings, S3Settings, Settings
from tests.emulators import (
    StorageTarget,
    azurite_settings,
    blob_service_client,
    empty_and_delete_bucket,
    moto_s3_settings,
    s3_client,
    start_azurite,
    start_moto,
)

# ---------------------------------------------------------------- services


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service, endpoint = start_moto(tmp_path_factory.mktemp("moto"))
    yield endpoint
    service.stop()


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service, endpoint = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield endpoint
    service.stop()


# ---------------------------------------------------------------- settings


@pytest.fixture
def make_settings(request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Return ``build(storage_url, **fields) -> Settings``.

    For an ``s3://`` URL the S3 settings point at moto, for ``az://`` the
    Azure settings point at Azurite (starting the service on first use).
    Other ``Settings`` fields, ``s3`` and ``azure`` included, can be given
    as keywords and win.
    """

    def build(storage_url: str, **fields: Any) -> Settings:
        s3 = S3Settings()
        azure = AzureSettings()
        if storage_url.startswith("s3://"):
            s3 = moto_s3_settings(request.getfixturevalue("moto_endpoint"))
        elif storage_url.startswith(("az://", "abfs://")):
            azure = azurite_settings(request.getfixturevalue("azurite_endpoint"))
        settings = Settings(storage_url=storage_url, s3=s3, azure=azure)
        return dataclasses.replace(settings, **fields)

    return build


# ---------------------------------------------------------------- storage roots


def _unique_name() -> str:
    return f"lakegate-{uuid.uuid4().hex[:16]}"


def _random_prefix() -> str:
    return f"run-{uuid.uuid4().hex[:8]}/nested/root"


@pytest.fixture
def local_storage_url(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> StorageTarget:
    root = tmp_path / "outer" / "root"
    root.mkdir(parents=True)
    return StorageTarget(url=str(root), settings=make_settings(str(root)))


@pytest.fixture
def s3_storage_url(
    moto_endpoint: str, make_settings: Callable[..., Settings]
) -> Iterator[StorageTarget]:
    client = s3_client(moto_endpoint)
    bucket = _unique_name()
    prefix = _random_prefix()
    client.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/{prefix}"
    yield StorageTarget(
        url=url, settings=make_settings(url), bucket=bucket, prefix=prefix
    )
    empty_and_delete_bucket(client, bucket)


@pytest.fixture
def azure_storage_url(
    azurite_endpoint: str, make_settings: Callable[..., Settings]
) -> Iterator[StorageTarget]:
    service = blob_service_client(azurite_endpoint)
    container = _unique_name()
    prefix = _random_prefix()
    service.create_container(container)
    url = f"az://{container}/{prefix}"
    yield StorageTarget(
        url=url, settings=make_settings(url), bucket=container, prefix=prefix
    )
    service.delete_container(container)


# ---------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def _clear_fsspec_instance_caches() -> Iterator[None]:
    """Drop cached fsspec filesystems after each test, so no test reuses another's client."""
    yield
    for filesystem_class in (
        fsspec.AbstractFileSystem,
        s3fs.S3FileSystem,
        adlfs.AzureBlobFileSystem,
    ):
        filesystem_class.clear_instance_cache()
