"""A description of the machine and software a benchmark ran on, for the results page."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

_REPOSITORY = Path(__file__).resolve().parent.parent

_PACKAGES = ("lakegate", "duckdb", "pyarrow", "sqlglot", "psycopg")


def processor_count() -> int:
    """Return what ``nproc`` prints: the processors this process may run on."""
    output = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    return int(output.strip())


def memory_total_gib() -> float:
    """Return MemTotal from /proc/meminfo in GiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / (1024 * 1024)
    raise RuntimeError("/proc/meminfo has no MemTotal line")


def processor_model() -> str:
    """Return the first ``model name`` of /proc/cpuinfo, or the architecture if there is none."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.machine()


def machine_description() -> str:
    """Return a one-line description: processors, processor model, memory, kernel."""
    return (f"{processor_count()} processors (nproc), {processor_model()}, "
            f"{memory_total_gib():.1f} GiB RAM (MemTotal), Linux {platform.release()}")


def software_versions() -> str:
    """Return Python's version and those of the packages that do the work on the gateway and client side."""
    versions = [f"Python {platform.python_version()}"]
    versions += [f"{name} {importlib.metadata.version(name)}" for name in _PACKAGES]
    return ", ".join(versions)


def source_revision() -> str:
    """Return the checked-out commit, noting uncommitted changes, or "unknown" outside a git work tree."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changes = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} with uncommitted changes" if changes else commit


def _git(*arguments: str) -> str:
    return subprocess.run(["git", "-C", str(_REPOSITORY), *arguments], capture_output=True, text=True,
                          check=True).stdout.strip()


def load_average() -> float:
    """Return the 1-minute load average: how many processes were running or waiting for a processor."""
    return os.getloadavg()[0]
