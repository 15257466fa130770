"""Memory and CPU time of another process, read from Linux's /proc.

psutil is not a dependency of the project, so the values come straight from
``/proc/PID/status`` (VmRSS, VmHWM) and ``/proc/PID/stat`` (utime, stime).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Self

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """Return the process's VmRSS (resident now) and VmHWM (highest resident so far) in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """Return the CPU time the process has used so far, user plus system, all threads, in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces, so fields are counted from its closing bracket.
    fields = text[text.rindex(")") + 2:].split()
    user_ticks, system_ticks = int(fields[11]), int(fields[12])
    return (user_ticks + system_ticks) / _CLOCK_TICKS


class RssSampler:
    """A background thread that samples a process's VmRSS and keeps the largest value in ``peak_kib``.

    Sampling misses spikes shorter than the interval, so callers also read
    VmHWM, which the kernel keeps exactly.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, memory_kib(self.pid)["VmRSS"])
            self.samples += 1
            self._stop.wait(self.interval)
