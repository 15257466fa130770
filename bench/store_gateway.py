"""``lakegate serve`` over a store that the benchmark keeps: the store outlives the process.

bench/gateway.py deletes its store with the process. The suites of
``python -m bench`` load a store once and then start fresh gateways on it,
so the memory of one case does not carry into the next.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.config import Settings
from tests.e2e.gateway_process import GatewayProcess, start_gateway


@contextmanager
def gateway_on(settings: Settings, log_path: Path) -> Iterator[GatewayProcess]:
    """Start a gateway with ``settings`` for the block and stop it afterwards; print its log tail on errors."""
    process = start_gateway(settings, log_path)
    try:
        yield process
    except BaseException:
        print(f"gateway log {log_path} (last 4000 characters):\n{process.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        process.stop()
