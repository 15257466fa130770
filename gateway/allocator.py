"""The server process's memory allocation: pyarrow's pool and the C library's malloc arenas."""

from __future__ import annotations

import ctypes
import logging
import os
import platform

logger = logging.getLogger(__name__)

#: glibc's mallopt parameter for the most arenas malloc creates.
_M_ARENA_MAX = -8
#: The variable that names pyarrow's memory pool, read once when pyarrow loads.
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> None:
    """Make pyarrow allocate with the C library's malloc instead of its bundled mimalloc.

    Must run before anything imports pyarrow: gateway/__init__.py calls it.
    A pool the operator chose in the environment stays. mimalloc keeps a
    heap per thread, and the server runs a thread per connection. Under the
    load run (docs/reliability.md), the process grew by 338 MiB in the
    120 s after warm-up with mimalloc, and by 46 MiB on malloc. The
    variable reaches pyarrow's C++ code, which reads and writes Parquet.
    ``pyarrow.set_memory_pool`` would reach pyarrow's Python calls only.
    """
    os.environ.setdefault(ARROW_POOL_VARIABLE, "system")


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc at one arena per processor, down from eight.

    Each arena keeps the memory its threads freed for reuse by the same
    arena. With a thread per connection, the 16 arenas of a 2-processor
    machine each kept their own free memory. Under the load run, the process
    grew by 520 MiB in the 60 s after warm-up, and by 284 MiB with 2 arenas
    at the same throughput. Does nothing on a C library other than glibc.
    """
    if platform.libc_ver()[0] != "glibc":
        return
    arenas = max(2, os.cpu_count() or 2)
    if not ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas):
        logger.warning("could not limit malloc to %d arenas", arenas)
