"""One crash trial: prepare a store, kill the gateway during an operation, restart it and check."""

from __future__ import annotations

import random
from typing import Protocol

import psycopg

from reliability.outcome import RowCheck, TrialResult
from reliability.process import kill, kill_during, start
from reliability.store import TrialStore, check_files
from tests.e2e.gateway_process import GatewayProcess

DATABASE = "telemetry"


class CrashOperation(Protocol):
    """An operation under test. One instance serves one trial.

    ``prefix`` is the store prefix whose files the trial checks, ``flags``
    the extra ``lakegate serve`` flags of both gateway processes.
    """

    name: str
    prefix: str
    flags: tuple[str, ...]

    def prepare(self, gateway: GatewayProcess) -> None:
        """Write the data the operation works on, and wait until it is in Parquet files where needed."""

    def run(self, gateway: GatewayProcess) -> None:
        """Run the operation that the kill interrupts, raising when the gateway goes away."""

    def check_after_crash(self, gateway: GatewayProcess) -> RowCheck:
        """Compare the rows the restarted gateway returns with the states allowed after a crash."""

    def rerun(self, gateway: GatewayProcess) -> RowCheck:
        """Run the operation again to its end on the restarted gateway and check its rows."""

    def incomplete(self, gateway: GatewayProcess) -> int:
        """Return the partitions or windows that are not in their final state after ``rerun``."""


class KillWindow:
    """The range the kill delays are drawn from, widened to the longest operation seen to end.

    Drawing delays from 0 up to about the operation's duration spreads the
    kills over its whole run, however long it takes on the machine.
    """

    def __init__(self, initial: float) -> None:
        self.seconds = initial

    def draw(self, chooser: random.Random) -> float:
        return chooser.uniform(0.0, self.seconds)

    def observe(self, duration: float | None) -> None:
        if duration is not None:
            self.seconds = max(self.seconds, duration * 1.2)


def connect(gateway: GatewayProcess) -> psycopg.Connection:
    """Open an autocommit connection to the trial's database."""
    return psycopg.connect(f"{gateway.dsn} dbname={DATABASE}", autocommit=True, connect_timeout=30)


def run_trial(operation: CrashOperation, store: TrialStore, chooser: random.Random,
              window: KillWindow) -> TrialResult:
    """Prepare, run and kill, then restart on the same store and write-ahead log, and check everything."""
    first = start(store, "first.log", operation.flags)
    try:
        operation.prepare(first)
        outcome = kill_during(first, lambda: operation.run(first), window.draw(chooser))
    finally:
        kill(first)
    window.observe(outcome.duration)
    at_rest = check_files(store, operation.prefix)

    restarted = start(store, "second.log", operation.flags)
    try:
        after_crash = operation.check_after_crash(restarted)
        after_rerun = operation.rerun(restarted)
        incomplete = operation.incomplete(restarted)
    finally:
        restarted.stop()
    final = check_files(store, operation.prefix)

    return TrialResult(
        operation=operation.name,
        interrupted=outcome.interrupted,
        after_crash=after_crash,
        after_rerun=after_rerun,
        incomplete=incomplete,
        files_listed=at_rest.listed,
        unreadable=len(at_rest.unreadable) + len(final.unreadable),
        temporary_listed=len(at_rest.temporary_listed) + len(final.temporary_listed),
        temporary_left=at_rest.temporary_left,
    )
