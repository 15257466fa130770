"""COPY FROM STDIN data read into text columns by Arrow's multithreaded CSV reader.

``read_text_columns`` reads only data on which Arrow's reader and the
row-by-row Python parser in copy_in_rows.py agree, and returns None for
everything else, so the caller can parse that data in Python and get the
same values and the same errors. The two differ on data with an empty line,
a lone carriage return, a ``\\.`` line before the end, a byte order mark or
a closing quote followed by other text. They also differ on a CSV field
longer than Python's csv field size limit and on text-format backslash
escapes. read_text_columns returns None for all such data.
"""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from gateway.sql.commands.copy_in_bytes import arrow_readable_bytes
from gateway.sql.commands.copy_out import CopyOptions

# Arrow parses the data in blocks of this size, one block per thread at a time.
BLOCK_BYTES = 4 * 1024 * 1024
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def read_text_columns(data: bytes, options: CopyOptions, names: list[str]) -> list[pa.ChunkedArray] | None:
    """Return one string column per name (None values for NULL), or None where Python must parse the data.

    Arrow reads the bytes in place, without a copy. A header line is skipped,
    and an end-of-data line ``\\.`` is accepted only as the last line.
    """
    if not _readable_options(options, names):
        return None
    end = _data_end(data, options.csv)
    if end == 0 or not arrow_readable_bytes(data, end, options):
        return None
    start = _header_end(data, end, options) if options.header else 0
    if start is None or start == end or data.startswith(_BYTE_ORDER_MARK, start):
        return None

    quoted = options.csv and data.find(options.quote.encode(), start, end) >= 0
    columns = _arrow_columns(data, start, end, options, names, quoted)
    if columns is None:
        return None
    if options.csv:
        return columns if _within_field_size_limit(columns) else None
    return columns if _escapes_only_in_nulls(data, start, end, options, columns) else None


def _readable_options(options: CopyOptions, names: list[str]) -> bool:
    special = {options.delimiter, "\n", "\r"}
    if options.csv:
        if options.quote in special or not options.quote.isascii():
            return False
        special.add(options.quote)
    if not names or len(set(names)) != len(names) or not options.delimiter.isascii():
        return False
    return options.delimiter not in "\n\r" and not any(character in options.null for character in special)


def _data_end(data: bytes, csv_format: bool) -> int:
    """Return where the data ends: before a final ``\\.`` line if there is one."""
    endings = (b"\n\\.\n", b"\n\\.", b"\n\\.\r\n") if csv_format else (b"\n\\.\n", b"\n\\.")
    for ending in endings:
        if data.endswith(ending):
            return len(data) - len(ending) + 1
    return len(data)


def _header_end(data: bytes, end: int, options: CopyOptions) -> int | None:
    """Return where the line after the header starts, or None when the header is not a plain UTF-8 line."""
    line_feed = data.find(b"\n", 0, end)
    if line_feed < 0:
        return None
    if options.csv and data.count(options.quote.encode(), 0, line_feed) % 2:
        return None
    try:
        data[:line_feed].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return line_feed + 1


def _arrow_columns(data: bytes, start: int, end: int, options: CopyOptions, names: list[str],
                   quoted: bool) -> list[pa.ChunkedArray] | None:
    source = pa.BufferReader(pa.py_buffer(data).slice(start, end - start))
    read_options = pa_csv.ReadOptions(column_names=names, use_threads=True, block_size=BLOCK_BYTES)
    parse_options = pa_csv.ParseOptions(
        delimiter=options.delimiter, quote_char=options.quote if options.csv else False, double_quote=True,
        escape_char=False, newlines_in_values=quoted, ignore_empty_lines=False)
    # Like the Python parser, a field equal to the NULL spelling is NULL even when it was quoted.
    convert_options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), null_values=[options.null], strings_can_be_null=True,
        quoted_strings_can_be_null=True, check_utf8=True)
    try:
        table = pa_csv.read_csv(source, read_options=read_options, parse_options=parse_options,
                                convert_options=convert_options)
    except pa.ArrowInvalid:
        return None
    columns: list[pa.ChunkedArray] = table.columns
    return columns


def _within_field_size_limit(columns: list[pa.ChunkedArray]) -> bool:
    """Tell whether no field has more bytes than Python's csv reader accepts characters."""
    limit = csv.field_size_limit()
    for column in columns:
        longest = pc.max(pc.binary_length(column)).as_py()
        if longest is not None and longest > limit:
            return False
    return True


def _escapes_only_in_nulls(data: bytes, start: int, end: int, options: CopyOptions,
                           columns: list[pa.ChunkedArray]) -> bool:
    """Tell whether every backslash of text-format data belongs to a NULL field, so no escape needs decoding."""
    backslashes = data.count(b"\\", start, end)
    if backslashes == 0:
        return True
    nulls = sum(column.null_count for column in columns)
    return bool(backslashes == nulls * options.null.count("\\"))
