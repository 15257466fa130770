"""Runs periodic jobs (retention, continuous queries) inside ``lakegate serve``.

Each job runs every ``interval`` on one background thread, the first time
one interval after start. A job that raises is logged and runs again at its
next turn; it never stops the thread or the server. Tests call ``run_due``
with a ManualClock instead of starting the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, system_clock

logger = logging.getLogger(__name__)

#: The maximum sleep between checks in seconds, so that a stop or a changed clock is noticed soon.
MAX_SLEEP = 30.0


@dataclass
class Job:
    """A named callable run every ``interval``; it receives the scheduled time."""

    name: str
    interval: timedelta
    run: Callable[[datetime], None]
    next_run: datetime | None = None


class Scheduler:
    """Periodic jobs on one daemon thread."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.jobs: list[Job] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, interval: timedelta, run: Callable[[datetime], None]) -> None:
        """Register a job; it first runs one interval from now."""
        if interval <= timedelta(0):
            raise ValueError(f"interval of job {name} must be positive")
        self.jobs.append(Job(name, interval, run, self.clock() + interval))

    def run_due(self) -> list[str]:
        """Run every job whose time has come, in order; return the names of those run."""
        now = self.clock()
        ran = []
        for job in self.jobs:
            if job.next_run is not None and job.next_run > now:
                continue
            try:
                job.run(now)
            except Exception:  # a failing job must not stop the others or the server
                logger.exception("scheduled job %s failed; it runs again in %s", job.name, job.interval)
            job.next_run = now + job.interval
            ran.append(job.name)
        return ran

    def start(self) -> None:
        """Run the jobs on a daemon thread until ``stop``."""
        if self._thread is None and self.jobs:
            self._thread = threading.Thread(target=self._loop, name="lakegate-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the job running now, if any, returns."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            upcoming = [job.next_run for job in self.jobs if job.next_run is not None]
            wait = (min(upcoming) - self.clock()).total_seconds() if upcoming else MAX_SLEEP
            self._stop.wait(min(max(wait, 0.05), MAX_SLEEP))
