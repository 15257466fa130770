"""Starting ``lakegate serve`` as a real subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import Settings
from tests.emulators import free_port

START_TIMEOUT = 60.0


@dataclass
class GatewayProcess:
    """A running gateway: its port, process and log file."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    http_port: int = 0

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=tester"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def environment_for(settings: Settings) -> dict[str, str]:
    """Return the environment that gives ``lakegate serve`` the emulator credentials of ``settings``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "AZURE_STORAGE_"))}
    # A process time zone other than UTC, so every end-to-end test also checks
    # that sessions read and write timestamps in UTC whatever the host's zone.
    env["TZ"] = "America/New_York"
    s3 = settings.s3
    if s3.endpoint_url:
        env.update({"AWS_ENDPOINT_URL": s3.endpoint_url, "AWS_REGION": s3.region or "us-east-1",
                    "AWS_ACCESS_KEY_ID": s3.access_key_id or "", "AWS_SECRET_ACCESS_KEY": s3.secret_access_key or ""})
    azure = settings.azure
    if azure.endpoint:
        env.update({"AZURE_STORAGE_CONNECTION_STRING":
                    f"DefaultEndpointsProtocol=http;AccountName={azure.account_name};"
                    f"AccountKey={azure.account_key};BlobEndpoint={azure.endpoint}"})
    return env


def start_gateway(settings: Settings, log_path: Path, *extra: str) -> GatewayProcess:
    """Start the gateway on a free loopback port and wait until it accepts connections."""
    port = free_port()
    # The kernel may hand out a port just released again, so the two must be checked apart.
    http_port = free_port()
    while http_port == port:
        http_port = free_port()
    if "--wal-dir" not in extra:
        # Each process its own write-ahead log, next to its log file; a test
        # that restarts a gateway passes the same --wal-dir to both.
        extra = (*extra, "--wal-dir", str(log_path.parent / f"wal-{port}"))
    command = [sys.executable, "-m", "gateway", "serve", "--storage", settings.storage_url,
               "--host", "127.0.0.1", "--port", str(port), "--http-port", str(http_port), *extra]
    log = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment_for(settings))
    gateway = GatewayProcess(port, process, log_path, http_port)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lakegate serve exited with {process.returncode}:\n{gateway.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return gateway
        except OSError:
            time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"lakegate serve did not listen within {START_TIMEOUT} s:\n{gateway.log()}")


def store_gateway(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Iterator[GatewayProcess]:
    """Run one gateway with ``flags`` on a fresh local store in a new temporary directory named ``name``."""
    directory = tmp_path_factory.mktemp(name)
    root = directory / "store"
    root.mkdir()
    process = start_gateway(Settings(storage_url=str(root)), directory / "gateway.log", *flags)
    yield process
    process.stop()
