"""One background thread that runs callables after a delay, in order of their due time.

DELETE removes the file versions it superseded only after a grace period.
A timer thread per DELETE made the process hold one sleeping thread, with
its stack and allocator caches, for every DELETE of the last grace period:
over 100 extra threads under the load run. All delayed calls now share
this one thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class DelayedCalls:
    """Runs each added callable once, ``delay`` seconds after it was added; a callable that raises is logged."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, delay: float, call: Callable[[], None]) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify()

    def pending(self) -> int:
        """Return how many calls have not run yet."""
        with self._changed:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(None if not self._due else self._due[0][0] - time.monotonic())
                _, _, call = heapq.heappop(self._due)
            try:
                call()
            except Exception:  # noqa: BLE001 (one failed call must not stop the later ones)
                logger.exception("a delayed call of %s failed", self._name)
