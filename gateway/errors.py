"""Errors that reach clients, each carrying its PostgreSQL SQLSTATE.

The wire layer only serialises these. Library errors (sqlglot, duckdb,
s3fs, adlfs) are translated into them once, at the boundary that calls the
library, with the original kept as ``__cause__``.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class: a message for the client plus SQLSTATE, detail and hint."""

    sqlstate = "XX000"
    severity = "ERROR"

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint


class SyntaxErrorOrAccessRule(GatewayError):
    sqlstate = "42000"


class SqlSyntaxError(GatewayError):
    sqlstate = "42601"


class InvalidName(GatewayError):
    sqlstate = "42602"


class UndefinedTable(GatewayError):
    sqlstate = "42P01"


class UndefinedColumn(GatewayError):
    sqlstate = "42703"


class UndefinedFunction(GatewayError):
    sqlstate = "42883"


class UndefinedObject(GatewayError):
    sqlstate = "42704"


class DuplicateObject(GatewayError):
    sqlstate = "42710"


class InvalidObjectDefinition(GatewayError):
    """A definition breaks a rule of its kind, such as a continuous query without a time column (42P17)."""

    sqlstate = "42P17"


class DuplicateSchema(GatewayError):
    sqlstate = "42P06"


class InvalidCatalogName(GatewayError):
    """An unknown database (SQLSTATE 3D000)."""

    sqlstate = "3D000"


class DatatypeMismatch(GatewayError):
    sqlstate = "42804"


class InsufficientPrivilege(GatewayError):
    sqlstate = "42501"


class FeatureNotSupported(GatewayError):
    sqlstate = "0A000"


class NotNullViolation(GatewayError):
    sqlstate = "23502"


class DataException(GatewayError):
    sqlstate = "22000"


class InvalidTextRepresentation(GatewayError):
    sqlstate = "22P02"


class InvalidDatetimeFormat(GatewayError):
    sqlstate = "22007"


class DatetimeFieldOverflow(GatewayError):
    sqlstate = "22008"


class NumericValueOutOfRange(GatewayError):
    sqlstate = "22003"


class DivisionByZero(GatewayError):
    sqlstate = "22012"


class InvalidParameterValue(GatewayError):
    sqlstate = "22023"


class LockNotAvailable(GatewayError):
    """Another holder has the lock or lease the statement needs (SQLSTATE 55P03)."""

    sqlstate = "55P03"


class ProtocolViolation(GatewayError):
    sqlstate = "08P01"


class QueryCanceled(GatewayError):
    sqlstate = "57014"


class ProgramLimitExceeded(GatewayError):
    sqlstate = "54000"


class StorageError(GatewayError):
    """A storage operation failed (SQLSTATE 58030, io_error)."""

    sqlstate = "58030"


class ConfigurationError(Exception):
    """Invalid settings or an unreachable store, detected at start-up."""


class InternalError(GatewayError):
    sqlstate = "XX000"
