"""Starting ``lakegate serve`` on a trial's store, and killing it with SIGKILL while an operation runs."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reliability.store import TrialStore
from tests.e2e.gateway_process import GatewayProcess, start_gateway

#: Maximum wait for an operation's thread after the kill, in seconds.
JOIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class KillOutcome:
    """Whether the operation was still running at the kill, and how long it took if it had ended."""

    interrupted: bool
    duration: float | None


def start(store: TrialStore, log_name: str, flags: tuple[str, ...]) -> GatewayProcess:
    """Start a gateway on the trial's store and write-ahead-log directory, on free loopback ports."""
    return start_gateway(store.settings, store.directory / log_name, "--wal-dir", str(store.wal_dir), *flags)


def kill(gateway: GatewayProcess) -> None:
    """Kill the gateway with SIGKILL, unless it has already exited, and wait for it."""
    if gateway.process.poll() is None:
        gateway.process.send_signal(signal.SIGKILL)
    gateway.process.wait(timeout=JOIN_TIMEOUT)


def kill_during(gateway: GatewayProcess, operation: Callable[[], None], delay: float) -> KillOutcome:
    """Run ``operation`` on a thread, SIGKILL the gateway ``delay`` seconds after it started, and wait for both.

    The operation is expected to raise once its connection breaks. An error
    it raises before the kill is raised again here, because then the trial
    tested nothing.
    """
    ended: list[float] = []
    errors: list[BaseException] = []
    started = time.monotonic()

    def run() -> None:
        try:
            operation()
            ended.append(time.monotonic())
        except BaseException as error:  # noqa: BLE001 (kept and inspected after the kill)
            errors.append(error)
            ended.append(time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=delay)
    killed_at = time.monotonic()
    kill(gateway)
    thread.join(timeout=JOIN_TIMEOUT)

    if ended and ended[0] <= killed_at:
        if errors:
            raise RuntimeError(f"the operation failed before the kill: {errors[0]!r}") from errors[0]
        return KillOutcome(interrupted=False, duration=ended[0] - started)
    return KillOutcome(interrupted=True, duration=None)
