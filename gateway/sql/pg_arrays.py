"""PostgreSQL's text form of one-dimensional arrays: ``{a,"b c",NULL}``."""

from __future__ import annotations

from gateway.errors import InvalidTextRepresentation


def parse_array_text(text: str) -> list[str | None]:
    """Split PostgreSQL's one-dimensional array text ``{a,"b c",NULL}`` into items."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise InvalidTextRepresentation(f'malformed array literal: "{text}"',
                                        detail='array value must start with "{"')
    items: list[str | None] = []
    current, quoted, was_quoted, escaped = "", False, False, False
    for char in body[1:-1]:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted, was_quoted = not quoted, True
        elif char == "," and not quoted:
            items.append(_array_item(current, was_quoted))
            current, was_quoted = "", False
        else:
            current += char
    if body[1:-1].strip():
        items.append(_array_item(current, was_quoted))
    return items


def _array_item(text: str, quoted: bool) -> str | None:
    if quoted:
        return text
    return None if text.strip().upper() == "NULL" else text.strip()
