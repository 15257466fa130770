"""Reading the retention policy statements from their tokens.

Grammar (keywords in any case; names unquoted or double-quoted)::

    CREATE RETENTION POLICY name ON db[.measurement] DURATION d [BUFFER d]
    ALTER RETENTION POLICY name SET DURATION d | SET BUFFER d | ACTIVE | INACTIVE
    DROP RETENTION POLICY [IF EXISTS] name
    SHOW RETENTION POLICIES [ON db]
    EXECUTE RETENTION POLICY name [DRY RUN]

A duration ``d`` is a quoted interval (``'30 days'``) or an InfluxQL
duration (``30d``, ``1h30m``); see gateway/sql/durations.py. An unquoted
policy name is folded to lower case, as PostgreSQL folds identifiers; a
quoted one is kept as written. Database and measurement names are kept as
written, as elsewhere in the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from gateway.errors import InvalidParameterValue, SqlSyntaxError
from gateway.sql.durations import parse_duration, positive_duration
from gateway.sql.parse import Word
from gateway.storage import layout


@dataclass(frozen=True)
class CreatePolicy:
    name: str
    database: str
    measurement: str | None
    duration: timedelta
    buffer: timedelta


@dataclass(frozen=True)
class AlterPolicy:
    """One change to a policy: a new duration, a new buffer, or a new ``active`` flag."""

    name: str
    duration: timedelta | None = None
    buffer: timedelta | None = None
    active: bool | None = None


@dataclass(frozen=True)
class DropPolicy:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowPolicies:
    #: Only the policies of this database; None for all.
    database: str | None


@dataclass(frozen=True)
class ExecutePolicy:
    name: str
    dry_run: bool


Statement = CreatePolicy | AlterPolicy | DropPolicy | ShowPolicies | ExecutePolicy

_USAGE = {
    "CREATE": "CREATE RETENTION POLICY name ON database[.measurement] DURATION '30 days' [BUFFER '1 day']",
    "ALTER": "ALTER RETENTION POLICY name SET DURATION '30 days' | SET BUFFER '1 day' | ACTIVE | INACTIVE",
    "DROP": "DROP RETENTION POLICY [IF EXISTS] name",
    "SHOW": "SHOW RETENTION POLICIES [ON database]",
    "EXECUTE": "EXECUTE RETENTION POLICY name [DRY RUN]",
}


def read_statement(words: list[Word]) -> Statement:
    """Return the statement the words spell, or raise SqlSyntaxError (42601) naming the statement if malformed.

    Also raises InvalidName (42602) for a bad name, InvalidDatetimeFormat
    (22007) for a duration that does not parse and InvalidParameterValue
    (22023) for a duration that is not positive or a negative buffer.
    """
    verb = words[0].upper
    reader = _Reader(words, verb)
    reader.expect("RETENTION")
    reader.expect("POLICIES" if verb == "SHOW" else "POLICY")
    statement = _READERS[verb](reader)
    reader.expect_end()
    return statement


def _create(reader: _Reader) -> CreatePolicy:
    name = reader.policy_name()
    reader.expect("ON")
    database = reader.name("database")
    measurement = None
    if reader.accept("."):
        measurement = reader.name("measurement")
    reader.expect("DURATION")
    duration = _duration(reader.duration())
    buffer = timedelta(0)
    if reader.accept("BUFFER"):
        buffer = _buffer(reader.duration())
    return CreatePolicy(name, database, measurement, duration, buffer)


def _alter(reader: _Reader) -> AlterPolicy:
    name = reader.policy_name()
    if reader.accept("ACTIVE"):
        return AlterPolicy(name, active=True)
    if reader.accept("INACTIVE"):
        return AlterPolicy(name, active=False)
    reader.expect("SET")
    if reader.accept("DURATION"):
        return AlterPolicy(name, duration=_duration(reader.duration()))
    reader.expect("BUFFER")
    return AlterPolicy(name, buffer=_buffer(reader.duration()))


def _drop(reader: _Reader) -> DropPolicy:
    if_exists = reader.accept("IF")
    if if_exists:
        reader.expect("EXISTS")
    return DropPolicy(reader.policy_name(), if_exists)


def _show(reader: _Reader) -> ShowPolicies:
    if reader.accept("ON"):
        return ShowPolicies(reader.name("database"))
    return ShowPolicies(None)


def _execute(reader: _Reader) -> ExecutePolicy:
    name = reader.policy_name()
    dry_run = reader.accept("DRY")
    if dry_run:
        reader.expect("RUN")
    return ExecutePolicy(name, dry_run)


_READERS: dict[str, Callable[[_Reader], Statement]] = {"CREATE": _create, "ALTER": _alter, "DROP": _drop, "SHOW": _show, "EXECUTE": _execute}


def _duration(text: str) -> timedelta:
    if text.strip().startswith("-"):
        raise InvalidParameterValue(f'retention duration must be positive, not "{text}"',
                                    hint="write a duration such as '30 days', 12h or 1w")
    return positive_duration(text, "retention duration")


def _buffer(text: str) -> timedelta:
    if text.strip().startswith("-"):
        raise InvalidParameterValue(f'retention buffer must not be negative, not "{text}"',
                                    hint="write a buffer such as '1 day' or 12h, or '0 seconds' for none")
    return parse_duration(text, "retention buffer")


class _Reader:
    """A cursor over the words of one statement, whose syntax errors name the statement."""

    def __init__(self, words: list[Word], verb: str) -> None:
        self.words = words
        self.position = 1
        self.verb = verb

    def accept(self, keyword: str) -> bool:
        """Step over the next word if it is ``keyword`` (unquoted); return whether it was."""
        word = self._peek()
        if word is None or word.quoted or word.upper != keyword:
            return False
        self.position += 1
        return True

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            raise self._error()

    def expect_end(self) -> None:
        if self._peek() is not None:
            raise self._error()

    def policy_name(self) -> str:
        word = self._next()
        text = word.text if word.quoted else word.text.lower()
        return layout.validate_name(text, "retention policy")

    def name(self, kind: str) -> str:
        return layout.validate_name(self._next().text, kind)

    def duration(self) -> str:
        """Return the text of a duration: one quoted word, or unquoted words written without spaces (``-1h30m``)."""
        first = self._next()
        if first.quoted:
            return first.text
        parts = [first.text]
        end = first.end
        while (word := self._peek()) is not None and not word.quoted and word.end - len(word.text) == end:
            parts.append(word.text)
            end = word.end
            self.position += 1
        return "".join(parts)

    def _next(self) -> Word:
        word = self._peek()
        if word is None:
            raise self._error()
        self.position += 1
        return word

    def _peek(self) -> Word | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def _error(self) -> SqlSyntaxError:
        word = self._peek()
        near = f' at or near "{word.text}"' if word is not None else " at end of input"
        construct = f"{self.verb} RETENTION {'POLICIES' if self.verb == 'SHOW' else 'POLICY'}"
        return SqlSyntaxError(f"syntax error{near} in {construct}",
                              hint=f"expected {_USAGE[self.verb]}")
