"""COPY (query) TO STDOUT and COPY [db.]m [(cols)] TO STDOUT, in text or CSV format, and the COPY options.

The rows run as an ordinary query, and the wire layer sends them as
CopyData lines (see server/copy_format.py). COPY FROM STDIN is in copy_in.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from gateway.errors import FeatureNotSupported, SqlSyntaxError


@dataclass(frozen=True)
class CopyOptions:
    """Layout options of COPY TO STDOUT: format, header line, delimiter and NULL spelling."""

    csv: bool = False
    header: bool = False
    delimiter: str = "\t"
    null: str = "\\N"
    quote: str = '"'


def copy_source(tree: exp.Copy) -> tuple[exp.Expression, CopyOptions]:
    """Return the query whose rows COPY sends, and its options; raise for unsupported forms."""
    source = tree.this
    if isinstance(source, exp.Subquery):
        query = source.this
    elif isinstance(source, exp.Schema) and isinstance(source.this, exp.Table):
        query = exp.select(*[exp.column(column.name, quoted=True) for column in source.expressions]).from_(
            source.this.copy())
    elif isinstance(source, exp.Table):
        query = exp.select(exp.Star()).from_(source.copy())
    else:
        raise SqlSyntaxError("COPY needs a measurement or a parenthesized query",
                             hint="COPY (SELECT ...) TO STDOUT or COPY measurement TO STDOUT")
    return query, copy_options(tree.args.get("params") or [])


def copy_options(params: list[exp.Expression], *, copy_in: bool = False) -> CopyOptions:
    """Return the options of a COPY; QUOTE is accepted for CSV input only."""
    csv = header = False
    delimiter: str | None = None
    null: str | None = None
    quote = '"'
    for param in params:
        name = param.this.name.upper() if param.this is not None else ""
        value = param.expression
        text = value.name if value is not None else ""
        if name == "FORMAT":
            csv = _format_is_csv(text)
        elif name == "CSV":
            csv = True
            header = header or text.upper() == "HEADER"
        elif name == "HEADER":
            header = text.lower() not in ("false", "off", "0")
        elif name == "DELIMITER":
            delimiter = text
        elif name == "NULL":
            null = text
        elif name == "QUOTE" and copy_in:
            quote = text
        else:
            raise FeatureNotSupported(f'COPY option "{name.lower()}" is not supported')
    if delimiter is not None and len(delimiter) != 1:
        raise FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if delimiter is None:
        delimiter = "," if csv else "\t"
    if null is None:
        null = "" if csv else "\\N"
    if len(quote) != 1:
        raise FeatureNotSupported("COPY quote must be a single one-byte character")
    return CopyOptions(csv=csv, header=header, delimiter=delimiter, null=null, quote=quote)


def _format_is_csv(text: str) -> bool:
    lowered = text.lower()
    if lowered == "binary":
        raise FeatureNotSupported("COPY binary format is not supported", hint="use FORMAT csv or text")
    if lowered not in ("csv", "text"):
        raise SqlSyntaxError(f'COPY format "{text}" not recognized')
    return lowered == "csv"
