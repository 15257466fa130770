"""CREATE CONTINUOUS QUERY in its SQL and InfluxQL forms, read into a checked definition.

SQL form::

    CREATE CONTINUOUS QUERY name ON db EVERY '1 hour' [FOR '3 hours'] [DELAY '5 minutes']
        [START '2024-01-01'] AS INSERT INTO [db.]dest SELECT ... FROM [db.]src ... GROUP BY ...

InfluxQL form (translated by influxql_cq.py; EVERY defaults to the GROUP BY
time interval, and FOR is the whole span each run covers, as in InfluxDB)::

    CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY i] [FOR j]] BEGIN SELECT ... END
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from gateway.errors import (
    InvalidCatalogName,
    InvalidDatetimeFormat,
    InvalidObjectDefinition,
    InvalidParameterValue,
    SqlSyntaxError,
)
from gateway.jobs.continuous_execution import describe_select
from gateway.meta.continuous_queries import ContinuousQuery, new_id
from gateway.sql import influxql_cq, parse
from gateway.sql.durations import parse_duration, positive_duration
from gateway.sql.parse import Word
from gateway.storage import layout

if TYPE_CHECKING:
    from gateway.runtime import Runtime

USAGE = ("CREATE CONTINUOUS QUERY name ON database EVERY '1 hour' [FOR '3 hours'] [DELAY '5 minutes'] "
         "[START '2024-01-01'] AS INSERT INTO destination SELECT ... FROM source ... GROUP BY ...")
_OPTIONS = {"EVERY", "FOR", "DELAY", "START"}
_CLAUSE_ENDS = _OPTIONS | {"AS", "BEGIN", "RESAMPLE"}


@dataclass
class _Options:
    values: dict[str, str] = field(default_factory=dict)

    def duration(self, key: str, what: str, *, positive: bool = False) -> timedelta | None:
        text = self.values.get(key)
        if text is None:
            return None
        return positive_duration(text, what) if positive else parse_duration(text, what)


def create_definition(runtime: Runtime, text: str, words: list[Word]) -> ContinuousQuery:
    """Read and check a CREATE statement (words[0:3] are CREATE CONTINUOUS QUERY); store nothing."""
    if len(words) < 6 or words[4].upper != "ON" or words[4].quoted:
        raise SqlSyntaxError("syntax error in CREATE CONTINUOUS QUERY: expected name ON database", hint=USAGE)
    name = query_name(words[3])
    database = layout.validate_name(words[5].text, "database")
    if not runtime.measurements.database_exists(database):
        raise InvalidCatalogName(f'database "{database}" does not exist', hint="SHOW DATABASES lists the databases")

    index = 6
    resample = index < len(words) and words[index].upper == "RESAMPLE" and not words[index].quoted
    options, index = _read_options(text, words, index + 1 if resample else index)
    if index >= len(words):
        raise SqlSyntaxError("syntax error in CREATE CONTINUOUS QUERY: expected AS INSERT or BEGIN", hint=USAGE)
    keyword = words[index].upper
    if keyword == "BEGIN" and not words[index].quoted:
        return _influxql(runtime, name, database, text, words, index, options)
    if keyword != "AS" or resample or words[index].quoted:
        raise SqlSyntaxError(f'syntax error at or near "{words[index].text}" in CREATE CONTINUOUS QUERY',
                             hint=USAGE)
    return _sql_form(runtime, name, database, text[words[index].end:], options)


def query_name(word: Word) -> str:
    """Return a continuous query's name: folded to lower case unless quoted, as PostgreSQL folds identifiers."""
    return layout.validate_name(word.text if word.quoted else word.text.lower(), "continuous query")


def _read_options(text: str, words: list[Word], index: int) -> tuple[_Options, int]:
    """Read ``EVERY x FOR y DELAY z START t`` in any order, each at most once."""
    options = _Options()
    while index < len(words) and words[index].upper in _OPTIONS and not words[index].quoted:
        key = words[index].upper
        if key in options.values:
            raise SqlSyntaxError(f"{key} is given twice in CREATE CONTINUOUS QUERY", hint=USAGE)
        end = index + 1
        if end < len(words) and words[end].quoted:
            value = words[end].text
            end += 1
        else:
            while end < len(words) and (words[end].upper not in _CLAUSE_ENDS or words[end].quoted):
                end += 1
            if end == index + 1:
                raise SqlSyntaxError(f"{key} needs a value in CREATE CONTINUOUS QUERY", hint=USAGE)
            value = text[words[index].end:words[end - 1].end].strip()
        options.values[key] = value
        index = end
    return options, index


def _sql_form(runtime: Runtime, name: str, database: str, statement: str, options: _Options) -> ContinuousQuery:
    tree = parse.parse_one(statement)
    if not isinstance(tree, exp.Insert):
        raise SqlSyntaxError("CREATE CONTINUOUS QUERY needs AS INSERT INTO destination SELECT ...", hint=USAGE)
    target = tree.this
    if isinstance(target, exp.Schema):
        raise InvalidObjectDefinition("a continuous query cannot list INSERT columns",
                                      hint="name the columns in the SELECT with AS; they become the destination's")
    select = tree.expression
    if not isinstance(select, exp.Select):
        raise InvalidObjectDefinition("a continuous query must INSERT the rows of one SELECT", hint=USAGE)
    every = options.duration("EVERY", "EVERY interval", positive=True)
    if every is None:
        raise SqlSyntaxError("CREATE CONTINUOUS QUERY needs EVERY", hint=USAGE)
    look_back = options.duration("FOR", "FOR duration") or timedelta(0)
    return _checked(runtime, name, database, target, select, every, look_back, options)


def _influxql(runtime: Runtime, name: str, database: str, text: str, words: list[Word], begin: int,
              options: _Options) -> ContinuousQuery:
    last = words[-1]
    if last.upper != "END" or last.quoted or len(words) - begin < 3:
        raise SqlSyntaxError("InfluxQL continuous query must end with END", hint="... BEGIN SELECT ... END")
    translation = influxql_cq.translate(text[words[begin].end:last.end - len(last.text)])
    every = options.duration("EVERY", "RESAMPLE EVERY interval", positive=True) or translation.interval
    if every % translation.interval:
        raise InvalidParameterValue(
            f"RESAMPLE EVERY {options.values.get('EVERY')} is not a multiple of the GROUP BY time interval",
            hint="windows must hold whole buckets; make EVERY a multiple of the interval")
    span = options.duration("FOR", "RESAMPLE FOR duration")
    if span is not None and span < every:
        raise InvalidParameterValue(f"RESAMPLE FOR {options.values['FOR']} is shorter than EVERY",
                                    hint="FOR is the span each run covers, so it is at least EVERY")
    look_back = span - every if span is not None else timedelta(0)
    return _checked(runtime, name, database, translation.destination, translation.select, every, look_back,
                    options)


def _checked(runtime: Runtime, name: str, database: str, target: exp.Expression, select: exp.Select,
             every: timedelta, look_back: timedelta, options: _Options) -> ContinuousQuery:
    """Apply the rules every continuous query meets and build its definition."""
    if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier) or target.catalog:
        raise InvalidObjectDefinition("a continuous query must INSERT INTO [database.]measurement", hint=USAGE)
    destination_database = layout.validate_name(target.db or database, "database")
    destination = layout.validate_name(target.name, "measurement")
    if not runtime.measurements.database_exists(destination_database):
        raise InvalidCatalogName(f'database "{destination_database}" does not exist',
                                 hint="SHOW DATABASES lists the databases")
    source_database, source = _single_source(runtime, database, select)
    if (source_database, source.lower()) == (destination_database, destination.lower()):
        raise InvalidObjectDefinition(
            f'continuous query "{name}" writes into its own source "{source}"',
            hint="choose a destination measurement that differs from the source")
    if not select.args.get("group"):
        raise InvalidObjectDefinition(f'continuous query "{name}" must aggregate with GROUP BY',
                                      hint="for example GROUP BY ALL with time_bucket(INTERVAL '1 hour', time)")

    _check_output_names(name, select)
    query = ContinuousQuery(
        name=name, database=database, source_database=source_database, source=source,
        destination_database=destination_database, destination=destination,
        select=select.sql(dialect=parse.READ_DIALECT), every=every, look_back=look_back,
        delay=options.duration("DELAY", "DELAY duration") or timedelta(0),
        start=_timestamp(runtime, options.values["START"], "START") if "START" in options.values else None,
        id=new_id())
    _check_columns(runtime, query)
    return query


def _single_source(runtime: Runtime, database: str, select: exp.Select) -> tuple[str, str]:
    """Return the database and stored name of the one measurement the SELECT reads."""
    tables = list(select.find_all(exp.Table))
    from_ = select.args.get("from") or select.args.get("from_")
    nested = [node for node in select.find_all(exp.Select, exp.With) if node is not select]
    if len(tables) != 1 or from_ is None or from_.this is not tables[0] or select.args.get("joins") or nested:
        raise InvalidObjectDefinition("a continuous query must read one measurement, with no joins or subqueries",
                                      hint="SELECT ... FROM measurement WHERE ... GROUP BY ...")
    table = tables[0]
    if not isinstance(table.this, exp.Identifier) or table.catalog:
        raise InvalidObjectDefinition("a continuous query must read FROM [database.]measurement")
    source_database = layout.validate_name(table.db or database, "database")
    return source_database, runtime.measurements.resolve(source_database, table.name)


def _check_output_names(name: str, select: exp.Select) -> None:
    """Reject a SELECT naming two output columns alike (DuckDB would rename one; a measurement cannot)."""
    seen: set[str] = set()
    for column_name in select.named_selects:
        if column_name.lower() in seen:
            raise InvalidObjectDefinition(f'continuous query "{name}" returns column "{column_name}" twice',
                                          hint="give each output column its own name with AS")
        seen.add(column_name.lower())


def _check_columns(runtime: Runtime, query: ContinuousQuery) -> None:
    """Check, by describing the SELECT in DuckDB, that it runs and returns a ``time`` timestamp column."""
    columns = describe_select(runtime, query)
    names = [column_name for column_name, _ in columns]
    duplicates = sorted({column_name for column_name in names if names.count(column_name) > 1})
    if duplicates:
        raise InvalidObjectDefinition(f'continuous query "{query.name}" returns column "{duplicates[0]}" twice')
    types = dict(columns)
    if "time" not in types:
        raise InvalidObjectDefinition(
            f'continuous query "{query.name}" returns no "time" column',
            hint="name the bucket time, as in time_bucket(INTERVAL '1 hour', time) AS time")
    if not types["time"].upper().startswith("TIMESTAMP"):
        raise InvalidObjectDefinition(f'column "time" of continuous query "{query.name}" is {types["time"]}, '
                                      "not a timestamp")


def parse_timestamp(runtime: Runtime, text: str, clause: str) -> datetime:
    """Read an ISO timestamp (``'2024-01-01'``, ``'2024-01-01 06:00:00+00'``) as DuckDB casts it, in UTC by default."""
    return _timestamp(runtime, text, clause)


def _timestamp(runtime: Runtime, text: str, clause: str) -> datetime:
    cursor = runtime.engine.cursor()
    try:
        row = cursor.execute("SELECT CAST(? AS TIMESTAMPTZ)", [text]).fetchone()
    except duckdb.Error as error:
        raise InvalidDatetimeFormat(f'invalid {clause} timestamp "{text}"',
                                    hint="write a timestamp such as '2024-01-01' or '2024-01-01 06:00:00+00'"
                                    ) from error
    finally:
        cursor.close()
    if row is None or not isinstance(row[0], datetime):
        raise InvalidDatetimeFormat(f'invalid {clause} timestamp "{text}"')
    return row[0]
