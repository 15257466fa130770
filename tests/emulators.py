"""Processes and clients for the storage emulators the tests run on loopback.

moto's S3 server and Azurite's blob service start on free 127.0.0.1 ports.
Every client built here names the emulator's endpoint explicitly, because
SDKs fall back to public AWS and Azure hosts otherwise.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from azure.storage.blob import BlobServiceClient

from gateway.config import AzureSettings, S3Settings, Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"

# Azurite's built-in development account and its published key.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# moto accepts any credentials unless started with IAM checks on.
MOTO_REGION = "us-east-1"
MOTO_ACCESS_KEY_ID = "AKIALAKEGATETESTING1"
MOTO_SECRET_ACCESS_KEY = "lakegate-test-secret-access-key-0123456789"

SERVICE_START_TIMEOUT = 60.0
_POLL_INTERVAL = 0.2
_LOG_TAIL_CHARACTERS = 4000
_STOP_TIMEOUT = 10.0

# urllib would send requests through a proxy from the environment; the
# readiness polls must go straight to the loopback port.
_DIRECT_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class StorageTarget:
    """A fresh, empty storage root for one test.

    ``url`` is the storage URL as given to ``--storage``; ``settings`` has
    that ``storage_url`` and S3 or Azure settings pointing at the emulator.
    ``bucket`` is the bucket or container and ``prefix`` the key prefix under
    it, both ``""`` for local storage, where ``url`` is the directory.
    """

    url: str
    settings: Settings
    bucket: str = ""
    prefix: str = ""


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago (bound with port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """A service started as a child process, with its output in a log file."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=REPO_ROOT,
            )

    def wait_until_ready(
        self, is_ready: Callable[[], bool], timeout: float = SERVICE_START_TIMEOUT
    ) -> None:
        """Poll ``is_ready`` until it returns True; stop the service and fail the run on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(
                    f"exited with status {self.process.returncode} before answering"
                )
            if is_ready():
                return
            time.sleep(_POLL_INTERVAL)
        self.stop()
        self._fail(f"did not answer within {timeout:.0f} seconds")

    def stop(self) -> None:
        """Terminate the process (kill it after a grace period) and wait for it."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=_STOP_TIMEOUT)

    def log_tail(self) -> str:
        """Return the end of the service's log."""
        text = self.log_path.read_text(errors="replace")
        return text[-_LOG_TAIL_CHARACTERS:]

    def _fail(self, reason: str) -> None:
        pytest.fail(
            f"{self.name} {reason}; log {self.log_path}:\n{self.log_tail()}",
            pytrace=False,
        )


def answers_http(url: str) -> bool:
    """Tell whether an HTTP server at ``url`` sends any response, error statuses included."""
    try:
        with _DIRECT_OPENER.open(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def start_moto(
    directory: Path, extra_env: Mapping[str, str] | None = None
) -> tuple[ServiceProcess, str]:
    """Start moto's S3 server on a free loopback port; return it and its endpoint URL once it responds."""
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    service = ServiceProcess(
        "moto S3 server", command, directory / f"moto-{port}.log", env
    )
    endpoint = f"http://127.0.0.1:{port}"
    service.wait_until_ready(lambda: answers_http(f"{endpoint}/moto-api/"))
    return service, endpoint


def start_azurite(directory: Path) -> tuple[ServiceProcess, str]:
    """Start Azurite's blob service on a free loopback port; return it and the account's blob endpoint once it responds."""
    if not AZURITE_BLOB.exists():
        pytest.fail(
            f"Azurite is not installed at {AZURITE_BLOB}; run make install-test",
            pytrace=False,
        )
    port = free_port()
    data = directory / f"azurite-{port}"
    data.mkdir()
    command = [
        str(AZURITE_BLOB),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--location", str(data),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
    ]  # fmt: skip
    service = ServiceProcess(
        "Azurite blob service", command, directory / f"azurite-{port}.log"
    )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    service.wait_until_ready(lambda: answers_http(f"{endpoint}?comp=list"))
    return service, endpoint


def moto_s3_settings(endpoint: str) -> S3Settings:
    """Return S3 settings for the moto server at ``endpoint``."""
    return S3Settings(
        endpoint_url=endpoint,
        region=MOTO_REGION,
        access_key_id=MOTO_ACCESS_KEY_ID,
        secret_access_key=MOTO_SECRET_ACCESS_KEY,
        path_style=True,
    )


def azurite_settings(endpoint: str) -> AzureSettings:
    """Return Azure settings (account name and key) for the Azurite blob endpoint ``endpoint``."""
    return AzureSettings(
        account_name=AZURITE_ACCOUNT, account_key=AZURITE_ACCOUNT_KEY, endpoint=endpoint
    )


def s3_client(endpoint: str) -> Any:
    """Return a boto3 S3 client for the moto server at ``endpoint``."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=MOTO_REGION,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
    )


def blob_service_client(endpoint: str) -> BlobServiceClient:
    """Return a Blob service client for the Azurite blob endpoint ``endpoint``."""
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};BlobEndpoint={endpoint}"
    )
    return BlobServiceClient.from_connection_string(connection_string)


def empty_and_delete_bucket(client: Any, bucket: str) -> None:
    """Delete every object of ``bucket`` and then the bucket."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(
                Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
            )
    client.delete_bucket(Bucket=bucket)
