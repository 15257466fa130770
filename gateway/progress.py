"""The progress display of ``lakegate ingest``: one line per file, rewritten in place on a terminal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TextIO

#: Width used when the stream's terminal size cannot be read.
DEFAULT_COLUMNS = 80

_ERASE_TO_END_OF_LINE = "\033[K"


@dataclass(frozen=True)
class FileProgress:
    """How far the import of one file has got.

    ``bytes_read`` counts bytes of the file read so far, of ``total_bytes``.
    ``rows`` counts the rows of this file handed to the writer so far.
    ``done`` is True on the last report of the file.
    """

    name: str
    bytes_read: int
    total_bytes: int
    rows: int
    done: bool = False


class ProgressLine:
    """Shows each file's progress on one terminal line, updated with carriage returns.

    On a stream that is not a terminal it writes nothing, so redirected
    output contains no control characters.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self._line_open = False

    def __call__(self, progress: FileProgress) -> None:
        if not self.enabled:
            return

        text = _fit(describe(progress), _columns(self.stream))
        self.stream.write(f"\r{text}{_ERASE_TO_END_OF_LINE}")
        # A finished file keeps its line, and the next file starts a new one.
        if progress.done:
            self.stream.write("\n")
        self._line_open = not progress.done
        self.stream.flush()

    def close(self) -> None:
        """End a line left open by an import that stopped early, so that later output starts on a new line."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


def describe(progress: FileProgress) -> str:
    """Return the progress as text, e.g. ``cpu.lp: 1.5 MiB / 3.0 MiB (50%), 12,000 rows``."""
    read = format_bytes(progress.bytes_read)
    total = format_bytes(progress.total_bytes)
    percent = 100 if progress.total_bytes == 0 else progress.bytes_read * 100 // progress.total_bytes
    return f"{progress.name}: {read} / {total} ({percent}%), {progress.rows:,} rows"


def format_bytes(count: int) -> str:
    """Return a byte count in B, KiB, MiB, GiB or TiB, with one decimal above bytes."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _columns(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return DEFAULT_COLUMNS
    # A terminal whose size was never set reports 0 columns.
    return columns or DEFAULT_COLUMNS


def _fit(text: str, columns: int) -> str:
    # A line as wide as the terminal wraps, and the carriage return would
    # then rewrite only its last row.
    width = max(columns - 1, 1)
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."
