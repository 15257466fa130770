"""CopyData lines of COPY TO STDOUT: PostgreSQL's text and CSV layouts."""

from __future__ import annotations

from gateway.sql.commands.copy_out import CopyOptions

_TEXT_ESCAPES = {ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}


def copy_line(values: list[bytes | None], options: CopyOptions) -> bytes:
    """Return one row as a COPY line ending in a newline, from its text-format values."""
    fields = [_field(value, options) for value in values]
    return (options.delimiter.join(fields) + "\n").encode()


def header_line(names: list[str], options: CopyOptions) -> bytes:
    return copy_line([name.encode() for name in names], options)


def _field(value: bytes | None, options: CopyOptions) -> str:
    if value is None:
        return options.null
    text = value.decode()
    if not options.csv:
        escaped = text.translate(_TEXT_ESCAPES)
        return escaped.replace(options.delimiter, "\\" + options.delimiter) if options.delimiter != "\t" else escaped
    if text == "" or text == options.null or any(ch in text for ch in (options.delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text
