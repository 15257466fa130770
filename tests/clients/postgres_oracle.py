"""A throwaway PostgreSQL 15 server that the client tests use as the reference.

The server runs from a fresh ``initdb`` in a temporary directory, listens on
a free 127.0.0.1 port and a Unix socket in that directory, trusts every
client and writes nothing durably (``fsync=off``). PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` system user that
the Debian packages create.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.emulators import free_port

MAJOR_VERSION = "15"
DEBIAN_BINDIR = Path(f"/usr/lib/postgresql/{MAJOR_VERSION}/bin")
SERVER_USER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class OracleStartError(RuntimeError):
    """The PostgreSQL reference server could not be set up or did not start."""


@dataclass
class PostgresProcess:
    """A running PostgreSQL server, its port and the directory that contains its data and log."""

    port: int
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Shut the server down (SIGINT is PostgreSQL's fast shutdown) and delete its directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres(superuser: str) -> PostgresProcess:
    """Initialise a cluster whose superuser is ``superuser`` and start it; raise OracleStartError on failure."""
    bindir = _bindir()
    account = _server_account()
    directory = Path(tempfile.mkdtemp(prefix="lakegate-postgres-"))
    if account is not None:
        os.chown(directory, account.pw_uid, account.pw_gid)
    data = directory / "data"
    try:
        _run_as(account, [str(bindir / "initdb"), "--pgdata", str(data), "--username", superuser,
                          "--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync",
                          "--no-instructions"], directory)
    except OracleStartError:
        shutil.rmtree(directory, ignore_errors=True)
        raise

    port = free_port()
    command = [str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
               "-k", str(directory), "-c", "fsync=off", "-c", "TimeZone=UTC"]
    with (directory / "postgres.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=directory, **_user_arguments(account))  # type: ignore[call-overload]
    server = PostgresProcess(port, process, directory)
    _wait_until_ready(server, superuser)
    return server


def _bindir() -> Path:
    if (DEBIAN_BINDIR / "postgres").exists():
        return DEBIAN_BINDIR
    found = shutil.which("postgres")
    if found is None:
        raise OracleStartError(
            f"PostgreSQL {MAJOR_VERSION} is not installed: install the Debian package "
            f"postgresql-{MAJOR_VERSION} (.ci/run does) or put its bin directory on PATH")
    bindir = Path(found).resolve().parent
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    if f" {MAJOR_VERSION}." not in version:
        raise OracleStartError(f"{found} is {version.strip()}, the tests compare against PostgreSQL {MAJOR_VERSION}")
    return bindir


def _server_account() -> pwd.struct_passwd | None:
    """Return the account to run PostgreSQL as, or None to run it as the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise OracleStartError(
            f"PostgreSQL does not run as root and there is no {SERVER_USER!r} user to run it as; "
            f"install postgresql-{MAJOR_VERSION}, which creates it") from None


def _user_arguments(account: pwd.struct_passwd | None) -> dict[str, object]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _run_as(account: pwd.struct_passwd | None, command: list[str], directory: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                            cwd=directory, **_user_arguments(account))  # type: ignore[call-overload]
    if result.returncode != 0:
        raise OracleStartError(f"{command[0]} failed with status {result.returncode}:\n{result.stderr}")


def _wait_until_ready(server: PostgresProcess, user: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = server.log()
            server.stop()
            raise OracleStartError(f"postgres exited with status {server.process.returncode}:\n{log}")
        try:
            with psycopg.connect(host="127.0.0.1", port=server.port, user=user, dbname="postgres",
                                 connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    log = server.log()
    server.stop()
    raise OracleStartError(f"postgres did not accept connections within {START_TIMEOUT:.0f} s:\n{log}")
