"""VmRSS of the gateway process, sampled once a second on a background thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

from bench.process_stats import memory_kib


class RssSeries:
    """Samples ``VmRSS`` of ``pid`` every ``interval`` seconds into ``samples`` as (seconds since start, KiB)."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def __enter__(self) -> Self:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # the value at the end, after the last operation

    def at(self, seconds: float) -> int:
        """Return the first sample taken at or after ``seconds``, or the last one if none was."""
        for elapsed, kib in self.samples:
            if elapsed >= seconds:
                return kib
        return self.samples[-1][1]

    def last(self) -> int:
        return self.samples[-1][1]

    def last_within(self, seconds: float) -> int:
        """Return the last sample taken at or before ``seconds``, or the first one if none was."""
        within = [kib for elapsed, kib in self.samples if elapsed <= seconds]
        return within[-1] if within else self.samples[0][1]

    def curve(self, step: float, until: float) -> list[tuple[float, int]]:
        """Return the first sample at or after each multiple of ``step`` seconds up to ``until``, and the last one then."""
        during = [(elapsed, kib) for elapsed, kib in self.samples if elapsed <= until]
        points: list[tuple[float, int]] = []
        mark = 0.0
        for elapsed, kib in during:
            if elapsed >= mark:
                points.append((elapsed, kib))
                mark = (elapsed // step + 1) * step
        if during and points[-1] != during[-1]:
            points.append(during[-1])
        return points

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        try:
            kib = memory_kib(self.pid)["VmRSS"]
        except (OSError, KeyError):
            return  # the process has exited
        self.samples.append((time.monotonic() - self._started, kib))
