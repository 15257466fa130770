"""Translating DuckDB exceptions into GatewayErrors with the right SQLSTATE."""

from __future__ import annotations

import re

import duckdb

from gateway import errors

_PREFIX = re.compile(r"^[A-Za-z ]+ Error: ")


def translate(error: duckdb.Error) -> errors.GatewayError:
    """Return the GatewayError for a DuckDB error; the caller raises it ``from error``."""
    text = str(error).strip()
    first, _, rest = text.partition("\n")
    message = _PREFIX.sub("", first).rstrip("!. ")
    message = message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message
    # DuckDB points at a line of the rewritten SQL, which the client never sent.
    detail_lines = []
    for line in rest.splitlines():
        if line.startswith("LINE "):
            break
        detail_lines.append(line)
    detail = "\n".join(detail_lines).strip() or None
    return _error_class(error, message)(message, detail=detail)


#: DuckDB's exception class for each message prefix ("IO Error: ..."), for
#: errors that reach Python through an Arrow reader as OSError text only.
_CLASSES_BY_PREFIX: dict[str, type[duckdb.Error]] = {
    "binder": duckdb.BinderException,
    "catalog": duckdb.CatalogException,
    "conversion": duckdb.ConversionException,
    "http": duckdb.HTTPException,
    "interrupt": duckdb.InterruptException,
    "invalid input": duckdb.InvalidInputException,
    "io": duckdb.IOException,
    "not implemented": duckdb.NotImplementedException,
    "out of range": duckdb.OutOfRangeException,
    "permission": duckdb.PermissionException,
}


def from_reader_error(error: Exception) -> duckdb.Error:
    """Return the DuckDB exception that an Arrow reader of a DuckDB result raised as OSError or ArrowException."""
    if isinstance(error, duckdb.Error):
        return error
    text = str(error)
    match = _PREFIX.match(text)
    prefix = ""
    if match is not None:
        prefix = match.group(0).removesuffix(" Error: ").strip().lower()
    return _CLASSES_BY_PREFIX.get(prefix, duckdb.Error)(text)


def _error_class(error: duckdb.Error, message: str) -> type[errors.GatewayError]:
    lowered = message.lower()
    if isinstance(error, duckdb.InterruptException):
        return errors.QueryCanceled
    if isinstance(error, duckdb.PermissionException):
        return errors.InsufficientPrivilege
    if isinstance(error, duckdb.ParserException):
        return errors.SqlSyntaxError
    if isinstance(error, duckdb.CatalogException):
        if "function" in lowered:
            return errors.UndefinedFunction
        if "schema" in lowered:
            return errors.InvalidCatalogName
        return errors.UndefinedTable
    if isinstance(error, duckdb.BinderException):
        if "column" in lowered and ("not found" in lowered or "does not" in lowered):
            return errors.UndefinedColumn
        if "function" in lowered and "no function matches" in lowered:
            return errors.UndefinedFunction
        if "cannot compare" in lowered or "type" in lowered:
            return errors.DatatypeMismatch
        return errors.SyntaxErrorOrAccessRule
    if isinstance(error, duckdb.ConversionException):
        if "timestamp" in lowered or "date" in lowered or "time" in lowered:
            return errors.InvalidDatetimeFormat
        if "out of range" in lowered or "overflow" in lowered:
            return errors.NumericValueOutOfRange
        return errors.InvalidTextRepresentation
    if isinstance(error, duckdb.OutOfRangeException):
        return errors.NumericValueOutOfRange
    if isinstance(error, duckdb.InvalidInputException):
        return errors.InvalidParameterValue
    if isinstance(error, (duckdb.IOException, duckdb.HTTPException)):
        return errors.StorageError
    if isinstance(error, duckdb.NotImplementedException):
        return errors.FeatureNotSupported
    return errors.InternalError


def names_missing_file(error: Exception) -> bool:
    """Tell whether DuckDB failed because a file named in the query does not exist (any more).

    DuckDB 1.5.5 reports a missing local file while binding the query, or
    as "cannot open file" (or "Cannot open file") when it was removed
    between binding and reading, and a missing S3 or Azure object as an
    HTTP 404 when it first reads it.
    """
    text = str(error)
    return ("No files found that match the pattern" in text or "HTTP 404" in text
            or ("cannot open file" in text.lower() and "No such file or directory" in text))
