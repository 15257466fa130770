"""Checks on raw COPY data that tell whether Arrow's CSV reader reads it as Python's parser does.

Each check looks at one byte value at a time with numpy, a slice of
SCAN_BYTES at a time, so it runs at memory speed and its index arrays stay
small.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gateway.sql.commands.copy_out import CopyOptions

SCAN_BYTES = 1024 * 1024

_LINE_FEED = ord("\n")
_CARRIAGE_RETURN = ord("\r")
_BACKSLASH = ord("\\")
_DOT = ord(".")


def arrow_readable_bytes(data: bytes, end: int, options: CopyOptions) -> bool:
    """Tell whether ``data[:end]`` has only what Arrow's reader reads as Python's parser does.

    Such data has no empty line, no carriage return outside a CRLF line end
    and no ``\\.`` (an end-of-data marker before the end). In CSV, its quotes
    are as _quotes_well_formed describes.
    """
    content = np.frombuffer(data, dtype=np.uint8, count=end)
    if not _lines_not_empty(content):
        return False
    if data.find(b"\r", 0, end) >= 0 and not _carriage_returns_end_lines(content):
        return False
    if data.find(b"\\", 0, end) >= 0 and not _no_end_marker(content):
        return False
    if options.csv and data.find(options.quote.encode(), 0, end) >= 0:
        return _quotes_well_formed(content, ord(options.quote), ord(options.delimiter))
    return True


def _byte_positions(content: np.ndarray, value: int) -> Iterator[np.ndarray]:
    """Yield the ascending positions of ``value`` in ``content``, a slice at a time to bound memory."""
    for offset in range(0, len(content), SCAN_BYTES):
        positions = np.flatnonzero(content[offset:offset + SCAN_BYTES] == value)
        if positions.size:
            yield positions + offset


def _lines_not_empty(content: np.ndarray) -> bool:
    previous = -1
    for positions in _byte_positions(content, _LINE_FEED):
        if positions[0] == previous + 1 or np.any(np.diff(positions) == 1):
            return False
        previous = positions[-1]
    return True


def _carriage_returns_end_lines(content: np.ndarray) -> bool:
    """Tell whether each carriage return is followed by a line feed and preceded by other text on its line."""
    for positions in _byte_positions(content, _CARRIAGE_RETURN):
        if positions[0] == 0 or positions[-1] == len(content) - 1:
            return False
        if not np.all(content[positions + 1] == _LINE_FEED) or np.any(content[positions - 1] == _LINE_FEED):
            return False
    return True


def _no_end_marker(content: np.ndarray) -> bool:
    for positions in _byte_positions(content, _BACKSLASH):
        following = positions[positions < len(content) - 1] + 1
        if np.any(content[following] == _DOT):
            return False
    return True


def _quotes_well_formed(content: np.ndarray, quote: int, delimiter: int) -> bool:
    """Tell whether every quote opens a field, closes it, or doubles a quote inside it.

    Counting quotes from the start, an even-numbered one opens a field: it
    must follow a delimiter, a line feed, the start or a quote (then the two
    stand for one quote). An odd-numbered one closes the field: it must
    precede a delimiter, a line end, the end or a quote. Python's csv reader
    in strict mode accepts exactly such data, while Arrow's would also
    accept a quote inside an unquoted field or text after a closing quote.
    """
    seen = 0
    for positions in _byte_positions(content, quote):
        opening = positions[seen % 2::2]
        closing = positions[(seen + 1) % 2::2]
        seen += positions.size
        if opening.size and opening[0] == 0:
            opening = opening[1:]
        if closing.size and closing[-1] == len(content) - 1:
            closing = closing[:-1]
        before = content[opening - 1]
        after = content[closing + 1]
        if not np.all((before == delimiter) | (before == _LINE_FEED) | (before == quote)):
            return False
        if not np.all((after == delimiter) | (after == _LINE_FEED) | (after == _CARRIAGE_RETURN) | (after == quote)):
            return False
    return seen % 2 == 0
