"""Connection limits of the listening server: the session slots and the errors that close a session."""

from __future__ import annotations

import threading

from gateway.errors import GatewayError


class TooManyConnections(GatewayError):
    """All ``--max-connections`` slots are taken (SQLSTATE 53300)."""

    sqlstate = "53300"
    severity = "FATAL"


class IdleSessionTimeout(GatewayError):
    """A session stayed idle outside a transaction longer than idle_session_timeout (SQLSTATE 57P05)."""

    sqlstate = "57P05"
    severity = "FATAL"


class ConnectionSlots:
    """A counter of the client sessions served at once, bounded by ``limit``; thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take a slot and return True, or return False when all ``limit`` slots are taken."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def release(self) -> None:
        """Give back a slot taken by ``acquire``."""
        with self._lock:
            self.used -= 1
