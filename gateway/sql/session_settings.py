"""Session settings that clients SET and SHOW (client chatter; DuckDB's own config is locked)."""

from __future__ import annotations

import logging
import zoneinfo

from gateway.errors import InsufficientPrivilege, InvalidParameterValue, SqlSyntaxError, UndefinedObject
from gateway.sql.parse import Word
from gateway.sql.results import Result, table_result, text_table

logger = logging.getLogger(__name__)


# DuckDB settings that guard the sandbox or the process; clients may not change them.
LOCKED_SETTINGS = {"enable_external_access", "allowed_directories", "allowed_paths", "lock_configuration",
                   "memory_limit", "max_memory", "threads", "worker_threads", "temp_directory",
                   "autoinstall_known_extensions", "autoload_known_extensions", "allow_unsigned_extensions",
                   "extension_directory", "custom_extension_repository", "home_directory",
                   "secret_directory", "allow_community_extensions", "enable_http_metadata_cache"}


_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
#: The largest timeout PostgreSQL accepts for its time settings: INT_MAX milliseconds, about 24.8 days.
MAX_TIMEOUT_MS = 2_147_483_647
#: Settings whose value is a duration in milliseconds; 0 turns them off.
TIMEOUT_SETTINGS = ("statement_timeout", "idle_session_timeout")


def parse_duration_ms(text: str, name: str = "statement_timeout") -> float:
    """Parse a PostgreSQL time setting such as ``5000``, ``'5s'`` or ``1min`` into milliseconds.

    A bare number is milliseconds. Raises InvalidParameterValue (22023),
    naming the setting ``name``, for a negative value, a value above
    MAX_TIMEOUT_MS or an unknown unit.
    """
    text = text.strip().strip("'").strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
    unit = text[len(number):].strip() or "ms"
    if unit not in _UNITS_MS:
        raise InvalidParameterValue(f'invalid value for parameter "{name}": "{text}"',
                                    hint='valid units are "ms", "s", "min", "h" and "d"')
    try:
        milliseconds = float(number) * _UNITS_MS[unit]
    except ValueError as error:
        raise InvalidParameterValue(f'invalid value for parameter "{name}": "{text}"') from error
    if not 0 <= milliseconds <= MAX_TIMEOUT_MS:
        raise InvalidParameterValue(f'{milliseconds:.0f} ms is outside the valid range for parameter "{name}" '
                                    f"(0 .. {MAX_TIMEOUT_MS})")
    return milliseconds


def format_duration_ms(milliseconds: float) -> str:
    """Spell a timeout as PostgreSQL's SHOW does: ``0``, else in the largest unit that divides it (``90s``)."""
    whole = round(milliseconds)
    if whole == 0:
        return "0"
    for unit, size in sorted(_UNITS_MS.items(), key=lambda item: -item[1]):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}ms"


def _time_zone(value: str) -> str:
    """Validate a TimeZone setting; LOCAL and DEFAULT mean UTC, the gateway's zone."""
    if value.upper() in ("LOCAL", "DEFAULT"):
        return "UTC"
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidParameterValue(f'invalid value for parameter "TimeZone": "{value}"',
                                    hint="use a zone name such as UTC or Europe/Berlin") from error
    return value


class SessionSettings:
    """The run-time parameters of one session, as PostgreSQL reports them."""

    def __init__(self, *, user: str, database: str, server_version: str, statement_timeout: str = "0",
                 idle_session_timeout: str = "0") -> None:
        """Start from PostgreSQL's defaults; the two timeouts take the server's defaults, in setting syntax."""
        self.values: dict[str, str] = {
            "server_version": server_version,
            "server_encoding": "UTF8",
            "client_encoding": "UTF8",
            "datestyle": "ISO, MDY",
            "timezone": "UTC",
            "integer_datetimes": "on",
            "intervalstyle": "postgres",
            "standard_conforming_strings": "on",
            "is_superuser": "on",
            "session_authorization": user,
            "application_name": "",
            "default_transaction_read_only": "off",
            "in_hot_standby": "off",
            "transaction_isolation": "read committed",
            "transaction_read_only": "off",
            "search_path": database,
            "extra_float_digits": "1",
            "max_identifier_length": "63",
            "statement_timeout": statement_timeout,
            "idle_session_timeout": idle_session_timeout,
            "server_version_num": "150000",
        }
        #: What RESET returns a setting to.
        self.defaults = dict(self.values)

    # Parameters reported to the client at start-up, in PostgreSQL's spelling.
    REPORTED = {
        "server_version": "server_version", "server_encoding": "server_encoding",
        "client_encoding": "client_encoding", "datestyle": "DateStyle", "timezone": "TimeZone",
        "integer_datetimes": "integer_datetimes", "intervalstyle": "IntervalStyle",
        "standard_conforming_strings": "standard_conforming_strings", "is_superuser": "is_superuser",
        "session_authorization": "session_authorization", "application_name": "application_name",
        "default_transaction_read_only": "default_transaction_read_only", "in_hot_standby": "in_hot_standby",
    }

    def reported(self) -> dict[str, str]:
        """Return the ParameterStatus values sent after authentication."""
        return {wire: self.values[name] for name, wire in self.REPORTED.items()}

    def show(self, words: list[Word]) -> Result:
        """Run ``SHOW name`` (including ``SHOW TRANSACTION ISOLATION LEVEL`` and ``SHOW ALL``)."""
        name = "_".join(word.text.lower() for word in words[1:])
        if name == "transaction_isolation_level":
            name = "transaction_isolation"
        if name == "all":
            rows: list[list[str | None]] = [[key, value] for key, value in sorted(self.values.items())]
            return table_result("SHOW", text_table(["name", "setting"], rows))
        if name not in self.values:
            raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
        label = self.REPORTED.get(name, name)
        return table_result("SHOW", text_table([label], [[self.values[name]]]))

    def set(self, words: list[Word]) -> Result:
        """Run ``SET [SESSION | LOCAL] name {TO | =} value`` or ``RESET name``; returns tag SET or RESET."""
        parts = [word for word in words[1:] if word.upper not in ("SESSION", "LOCAL")]
        if words[0].upper == "RESET":
            return self._reset(parts)
        if len(parts) >= 2 and parts[0].upper == "TIME" and parts[1].upper == "ZONE":
            parts = [Word("timezone", "TIMEZONE", False, 0), Word("=", "=", False, 0), *parts[2:]]
        if len(parts) < 3 or parts[1].text.upper() not in ("TO", "="):
            if parts and parts[0].upper == "CHARACTERISTICS":
                return Result(tag="SET")
            raise SqlSyntaxError("syntax error in SET statement", hint="SET name TO value")
        name = parts[0].text.lower()
        timeout = None
        if name in TIMEOUT_SETTINGS:
            timeout = parse_duration_ms(" ".join(word.text for word in parts[2:]), name)
        if name in LOCKED_SETTINGS:
            raise InsufficientPrivilege(f'setting "{name}" is locked', hint="the gateway sets it at start-up")
        value = " ".join(word.text for word in parts[2:] if word.text != ",")
        value = value.strip("'")
        if name == "timezone":
            value = _time_zone(value)
        if timeout is not None:
            value = format_duration_ms(timeout)
        self.values[name] = value
        reported = self.REPORTED.get(name)
        return Result(tag="SET", parameter_status={reported: value} if reported else {})

    def _reset(self, parts: list[Word]) -> Result:
        """Return one setting, or every one (RESET ALL), to its value at connection start.

        Names this gateway does not keep (RESET SESSION AUTHORIZATION, a
        DuckDB-only setting) are accepted and change nothing.
        """
        name = "_".join(word.text.lower() for word in parts)
        if name == "time_zone":
            name = "timezone"
        if name in LOCKED_SETTINGS:
            raise InsufficientPrivilege(f'setting "{name}" is locked', hint="the gateway sets it at start-up")
        if name == "all":
            names = list(self.defaults)
        elif name in self.defaults:
            names = [name]
        else:
            names = []
        return Result(tag="RESET", parameter_status=self._restore(names))

    def reset_all(self) -> dict[str, str]:
        """Return every setting to its value at connection start; return the changed reported ones."""
        return self._restore(list(self.defaults))

    def _restore(self, names: list[str]) -> dict[str, str]:
        changed = {}
        for key in names:
            if self.values[key] != self.defaults[key]:
                self.values[key] = self.defaults[key]
                reported = self.REPORTED.get(key)
                if reported:
                    changed[reported] = self.defaults[key]
        return changed

    def statement_timeout_seconds(self) -> float:
        """Return statement_timeout in seconds (0 means none); a bare number is milliseconds."""
        return parse_duration_ms(self.values.get("statement_timeout", "0")) / 1000

    def idle_session_timeout_seconds(self) -> float:
        """Return idle_session_timeout in seconds (0 means none); a bare number is milliseconds."""
        return parse_duration_ms(self.values.get("idle_session_timeout", "0"), "idle_session_timeout") / 1000
