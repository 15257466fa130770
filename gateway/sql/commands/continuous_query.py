"""The continuous query statements: CREATE, ALTER, DROP, SHOW and EXECUTE CONTINUOUS QUERY.

CREATE is read in continuous_query_create.py; running happens in
gateway/jobs/continuous.py, which the scheduler also uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from gateway.errors import (
    DuplicateObject,
    FeatureNotSupported,
    InvalidParameterValue,
    SqlSyntaxError,
    UndefinedObject,
)
from gateway.jobs.continuous import ContinuousRunner, RunOutcome
from gateway.meta.continuous_queries import ContinuousQueries, ContinuousQuery
from gateway.meta.store import MetaStore
from gateway.sql.commands.continuous_query_create import (
    create_definition,
    parse_timestamp,
    query_name,
)
from gateway.sql.parse import Word
from gateway.sql.results import Result, table_result
from gateway.storage import layout

if TYPE_CHECKING:
    from gateway.runtime import Runtime

_USAGES = {
    "ALTER": "ALTER CONTINUOUS QUERY name ACTIVE | INACTIVE",
    "DROP": "DROP CONTINUOUS QUERY [IF EXISTS] name",
    "SHOW": "SHOW CONTINUOUS QUERIES [ON database]",
    "EXECUTE": "EXECUTE CONTINUOUS QUERY name [FROM 'timestamp' TO 'timestamp'] [DRY RUN]",
}

#: Columns of SHOW CONTINUOUS QUERIES.
SHOW_SCHEMA = pa.schema([
    ("name", pa.string()), ("database", pa.string()), ("source", pa.string()), ("destination", pa.string()),
    ("every", pa.duration("us")), ("for", pa.duration("us")), ("delay", pa.duration("us")),
    ("start", pa.timestamp("us", "UTC")), ("active", pa.bool_()), ("watermark", pa.timestamp("us", "UTC")),
    ("last_run", pa.timestamp("us", "UTC")), ("last_result", pa.string()), ("query", pa.string()),
])

#: Columns of EXECUTE CONTINUOUS QUERY.
EXECUTE_SCHEMA = pa.schema([
    ("windows", pa.int64()), ("rows", pa.int64()), ("window_start", pa.timestamp("us", "UTC")),
    ("window_end", pa.timestamp("us", "UTC")), ("watermark", pa.timestamp("us", "UTC")),
])


def run(runtime: Runtime, database: str, text: str, words: list[Word],
        notify: Callable[[str], None] | None = None, cancelled: Callable[[], bool] = lambda: False) -> Result:
    """Run one continuous query statement; words[0] is the verb and words[1:3] CONTINUOUS QUERY|QUERIES."""
    verb = words[0].upper
    plural = words[2].upper == "QUERIES"
    if plural != (verb == "SHOW"):
        raise SqlSyntaxError(f"syntax error at or near \"{words[2].text}\"",
                             hint=_USAGES.get(verb, "CREATE CONTINUOUS QUERY name ON database ..."))
    queries = ContinuousQueries(_meta(runtime))
    if verb == "CREATE":
        query = create_definition(runtime, text, words)
        if not queries.create(query):
            raise DuplicateObject(f'continuous query "{query.name}" already exists',
                                  hint=f"DROP CONTINUOUS QUERY {query.name} first to replace it")
        return Result(tag="CREATE CONTINUOUS QUERY")
    if verb == "ALTER":
        return _alter(queries, words[3:])
    if verb == "DROP":
        return _drop(queries, words[3:], notify)
    if verb == "SHOW":
        return _show(queries, words[3:])
    return _execute(runtime, words[3:], cancelled)


def _alter(queries: ContinuousQueries, rest: list[Word]) -> Result:
    if len(rest) != 2 or rest[1].quoted or rest[1].upper not in ("ACTIVE", "INACTIVE"):
        raise SqlSyntaxError("syntax error in ALTER CONTINUOUS QUERY", hint=_USAGES["ALTER"])
    name = query_name(rest[0])
    if not queries.set_active(name, rest[1].upper == "ACTIVE"):
        raise _undefined(name)
    return Result(tag="ALTER CONTINUOUS QUERY")


def _drop(queries: ContinuousQueries, rest: list[Word], notify: Callable[[str], None] | None) -> Result:
    if_exists = len(rest) == 3 and [word.upper for word in rest[:2]] == ["IF", "EXISTS"]
    if len(rest) != (3 if if_exists else 1):
        raise SqlSyntaxError("syntax error in DROP CONTINUOUS QUERY", hint=_USAGES["DROP"])
    name = query_name(rest[-1])
    if not queries.drop(name):
        if not if_exists:
            raise _undefined(name)
        if notify is not None:
            notify(f'continuous query "{name}" does not exist, skipping')
    return Result(tag="DROP CONTINUOUS QUERY")


def _show(queries: ContinuousQueries, rest: list[Word]) -> Result:
    database = None
    if rest:
        if len(rest) != 2 or rest[0].upper != "ON" or rest[0].quoted:
            raise SqlSyntaxError("syntax error in SHOW CONTINUOUS QUERIES", hint=_USAGES["SHOW"])
        database = layout.validate_name(rest[1].text, "database")
    listed = [query for query in queries.all() if database in (None, query.database)]
    rows = [_show_row(query) for query in listed]
    columns = {name: [row[index] for row in rows] for index, name in enumerate(SHOW_SCHEMA.names)}
    return table_result("SHOW", pa.table(columns, schema=SHOW_SCHEMA))


def _show_row(query: ContinuousQuery) -> list[object]:
    return [query.name, query.database, f"{query.source_database}.{query.source}",
            f"{query.destination_database}.{query.destination}", query.every, query.look_back, query.delay,
            query.start, query.active, query.watermark, query.last_run, query.last_result, query.select]


def _execute(runtime: Runtime, rest: list[Word], cancelled: Callable[[], bool]) -> Result:
    if not rest:
        raise SqlSyntaxError("syntax error in EXECUTE CONTINUOUS QUERY", hint=_USAGES["EXECUTE"])
    name = query_name(rest[0])
    options = rest[1:]
    dry_run = [word.upper for word in options[-2:]] == ["DRY", "RUN"]
    if dry_run:
        options = options[:-2]
    span = _execute_span(runtime, options)

    runner = ContinuousRunner(runtime)
    now = runtime.clock()
    if span is None:
        outcome = runner.run(name, now, dry_run=dry_run, cancelled=cancelled)
    else:
        outcome = runner.backfill(name, span[0], span[1], now, dry_run=dry_run, cancelled=cancelled)
    return table_result("EXECUTE", _outcome_table(outcome))


def _execute_span(runtime: Runtime, options: list[Word]) -> tuple[datetime, datetime] | None:
    if not options:
        return None
    shape = [(word.upper, word.quoted) for word in options]
    if len(options) != 4 or shape[0] != ("FROM", False) or shape[2] != ("TO", False):
        raise SqlSyntaxError("syntax error in EXECUTE CONTINUOUS QUERY", hint=_USAGES["EXECUTE"])
    start = parse_timestamp(runtime, options[1].text, "FROM")
    end = parse_timestamp(runtime, options[3].text, "TO")
    if end <= start:
        raise InvalidParameterValue(f"TO {options[3].text} is not after FROM {options[1].text}",
                                    hint="give a range that ends after it starts")
    return start, end


def _outcome_table(outcome: RunOutcome) -> pa.Table:
    values = [[outcome.windows], [outcome.rows], [outcome.first], [outcome.last], [outcome.watermark]]
    return pa.table(dict(zip(EXECUTE_SCHEMA.names, values, strict=True)), schema=EXECUTE_SCHEMA)


def _undefined(name: str) -> UndefinedObject:
    return UndefinedObject(f'continuous query "{name}" does not exist',
                           hint="SHOW CONTINUOUS QUERIES lists the continuous queries")


def _meta(runtime: Runtime) -> MetaStore:
    if runtime.meta is None:
        raise FeatureNotSupported("continuous queries need the store's metadata, which this process has not opened")
    return runtime.meta
