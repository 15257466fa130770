"""Translating the SELECT of an InfluxQL continuous query into the SQL SELECT the gateway stores.

``SELECT mean(usage) AS usage INTO dest FROM cpu WHERE host = 'a' GROUP BY time(1h), host fill(none)``
becomes::

    SELECT time_bucket(INTERVAL '3600' SECOND, time, CAST('1970-01-01 00:00:00+00' AS TIMESTAMPTZ)) AS time,
           host, AVG(usage) AS usage
    FROM cpu WHERE host = 'a' GROUP BY time_bucket(...), host

InfluxQL aligns ``GROUP BY time(d)`` buckets to the Unix epoch, hence the
explicit origin (DuckDB's default origin for TIMESTAMPTZ, 2000-01-03, is not
a multiple of a week from the epoch). An output column without ``AS`` is
named after its function (``mean``), with ``_1``, ``_2`` ... added to
repeated names, as InfluxDB names them. ``first`` and ``last`` take the
value at the earliest and latest ``time`` of the bucket. ``fill(none)`` and
``fill(null)`` are accepted and change nothing, because a continuous query
writes no rows for an empty bucket; other fills are rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlglot import exp

from gateway.errors import FeatureNotSupported, InvalidParameterValue, SqlSyntaxError
from gateway.sql import parse
from gateway.sql.durations import positive_duration
from gateway.sql.rewrite import function_name

EPOCH_ORIGIN = "1970-01-01 00:00:00+00"


def _time() -> exp.Column:
    return exp.column("time")


#: InfluxQL aggregate -> builder of the SQL aggregate over one field.
AGGREGATES: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "mean": lambda field: exp.Avg(this=field),
    "count": lambda field: exp.Count(this=field),
    "sum": lambda field: exp.Sum(this=field),
    "min": lambda field: exp.Min(this=field),
    "max": lambda field: exp.Max(this=field),
    "first": lambda field: exp.ArgMin(this=field, expression=_time()),
    "last": lambda field: exp.ArgMax(this=field, expression=_time()),
}

_USAGE = "SELECT mean(field) AS field INTO destination FROM source [WHERE ...] GROUP BY time(1h)[, tag ...]"


@dataclass(frozen=True)
class Translation:
    """An InfluxQL continuous query's SELECT as SQL, its INTO target and its GROUP BY time interval."""

    select: exp.Select
    destination: exp.Table
    interval: timedelta


def translate(body: str) -> Translation:
    """Translate the statement between BEGIN and END.

    Raises SqlSyntaxError (42601) naming the clause that does not parse,
    FeatureNotSupported (0A000) for InfluxQL features without a translation,
    and InvalidParameterValue (22023) for a bad GROUP BY time interval.
    """
    words = parse.words(body)
    found = _top_level_group_by(words)
    if found is None:
        raise SqlSyntaxError("InfluxQL continuous query has no GROUP BY time(...) clause", hint=_USAGE)
    group_index, items_index = found
    head = body[:_start(words[group_index])]
    interval, tags = _group_by(body, words[items_index:])
    head_words = words[:group_index]
    _reject_regular_expressions(head_words)
    called = _called_functions(head_words)
    head = _duration_literals(head, head_words)

    select = parse.parse_one(head)
    if not isinstance(select, exp.Select) or select.args.get("into") is None:
        raise SqlSyntaxError("InfluxQL continuous query must be SELECT ... INTO ... FROM ...", hint=_USAGE)
    destination = _single_table(select.args["into"].this, "INTO")
    source = _source(select)
    aggregates = _aggregates(select.expressions, called)

    bucket = exp.func("time_bucket", exp.Interval(this=exp.Literal.string(str(int(interval.total_seconds()))),
                                                  unit=exp.var("SECOND")),
                      _time(), exp.cast(exp.Literal.string(EPOCH_ORIGIN), exp.DataType.build("TIMESTAMPTZ")))
    translated = exp.select(exp.alias_(bucket, "time"), *tags, *aggregates).from_(source)
    where = select.args.get("where")
    if where is not None:
        translated.set("where", where.copy())
    translated = translated.group_by(bucket.copy(), *(tag.copy() for tag in tags))
    return Translation(translated, destination, interval)


def _start(word: parse.Word) -> int:
    return word.end - len(word.text)


def _reject_regular_expressions(words: list[parse.Word]) -> None:
    """Reject ``FROM /regex/`` and ``INTO /regex/``, which InfluxQL allows and SQL cannot express."""
    for index, word in enumerate(words[:-1]):
        if word.upper in ("FROM", "INTO") and not word.quoted and words[index + 1].text == "/":
            raise FeatureNotSupported(f"regular expressions in {word.upper} are not supported in a continuous query",
                                      hint="name one measurement")


def _called_functions(words: list[parse.Word]) -> list[str]:
    """Return the names of the functions called in the SELECT list, as written."""
    names = []
    for index, word in enumerate(words[:-1]):
        if word.upper in ("INTO", "FROM"):
            break
        if not word.quoted and word.text.isidentifier() and words[index + 1].text == "(":
            names.append(word.text)
    return names


def _duration_literals(text: str, words: list[parse.Word]) -> str:
    """Replace InfluxQL duration literals (``now() - 1d``) with SQL intervals (``INTERVAL '1 day'``)."""
    edits = []
    for number, unit in zip(words, words[1:], strict=False):
        name = _DURATION_UNITS.get(unit.text.lower())
        if (name is not None and number.text.isdigit() and not unit.quoted
                and _start(unit) == number.end):
            edits.append((_start(number), unit.end, f"INTERVAL '{number.text} {name}'"))
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text


_DURATION_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


def _top_level_group_by(words: list[parse.Word]) -> tuple[int, int] | None:
    """Return the index of GROUP BY outside parentheses and the index of its first item.

    sqlglot's tokenizer reads ``GROUP BY`` as one token.
    """
    depth = 0
    for index, word in enumerate(words):
        if word.quoted:
            continue
        if word.text == "(":
            depth += 1
        elif word.text == ")":
            depth -= 1
        elif depth == 0 and word.upper.split() == ["GROUP", "BY"]:
            return index, index + 1
        elif depth == 0 and word.upper == "GROUP" and index + 1 < len(words) and words[index + 1].upper == "BY":
            return index, index + 2
    return None


def _group_by(body: str, words: list[parse.Word]) -> tuple[timedelta, list[exp.Column]]:
    """Read ``time(d)[, tag ...] [fill(...)]``; return the interval and the tag columns."""
    interval: timedelta | None = None
    tags: list[exp.Column] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if not word.quoted and following is not None and following.text == "(":
            close = _closing(words, index + 1)
            argument = body[words[index + 1].end:_start(words[close])].strip()
            if word.upper == "TIME":
                interval = _interval(argument)
            elif word.upper == "FILL":
                _check_fill(argument, close, words)
            else:
                raise FeatureNotSupported(f"GROUP BY {word.text}(...) is not supported", hint=_USAGE)
            index = close + 1
        elif not word.quoted and word.text == "*":
            raise FeatureNotSupported("GROUP BY * is not supported in a continuous query", hint="name the tags")
        elif word.quoted or word.text.isidentifier():
            tags.append(exp.column(exp.to_identifier(word.text, quoted=word.quoted)))
            index += 1
        else:
            raise SqlSyntaxError(f'syntax error at or near "{word.text}" in GROUP BY', hint=_USAGE)
        if index < len(words) and words[index].text == ",":
            index += 1
    if interval is None:
        raise SqlSyntaxError("InfluxQL continuous query must GROUP BY time(...)", hint=_USAGE)
    return interval, tags


def _closing(words: list[parse.Word], open_index: int) -> int:
    for index in range(open_index + 1, len(words)):
        if words[index].text == ")" and not words[index].quoted:
            return index
    raise SqlSyntaxError("syntax error in GROUP BY: missing \")\"", hint=_USAGE)


def _interval(argument: str) -> timedelta:
    if "," in argument:
        raise FeatureNotSupported("GROUP BY time() with an offset is not supported in a continuous query",
                                  hint="windows and buckets are aligned to the Unix epoch")
    return positive_duration(argument, "GROUP BY time interval")


def _check_fill(argument: str, close: int, words: list[parse.Word]) -> None:
    if argument.lower() not in ("none", "null"):
        raise FeatureNotSupported(f"fill({argument}) is not supported in a continuous query",
                                  hint="a continuous query writes no rows for an empty bucket; use fill(none)")
    if close != len(words) - 1:
        raise SqlSyntaxError(f'syntax error at or near "{words[close + 1].text}" after fill()', hint=_USAGE)


def _single_table(table: exp.Expression, clause: str) -> exp.Table:
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise FeatureNotSupported(f"{clause} must name one measurement", hint=_USAGE)
    if table.catalog:
        raise FeatureNotSupported(f'{clause} "{table.catalog}.{table.db}.{table.name}" names a retention policy, '
                                  "which is not supported", hint="write database.measurement or measurement")
    return exp.table_(table.this.copy(), db=table.args["db"].copy() if table.args.get("db") else None)


def _source(select: exp.Select) -> exp.Table:
    from_ = select.args.get("from") or select.args.get("from_")
    if from_ is None or select.args.get("joins"):
        raise FeatureNotSupported("InfluxQL continuous query must read FROM exactly one measurement", hint=_USAGE)
    return _single_table(from_.this, "FROM")


def _aggregates(projections: list[exp.Expression], called: list[str]) -> list[exp.Expression]:
    outputs: list[exp.Expression] = []
    seen: dict[str, int] = {}
    for position, projection in enumerate(projections):
        call = projection.unalias()
        name = function_name(call) if isinstance(call, exp.Func) else ""  # type: ignore[arg-type]
        if name not in AGGREGATES:
            # Name the function as the user wrote it: sqlglot turns median() into PERCENTILE_CONT.
            shown = (f"{called[position]}()" if len(called) == len(projections)
                     else projection.sql(dialect="postgres"))
            raise FeatureNotSupported(
                f"{shown} is not supported in an InfluxQL continuous query",
                hint=f"select one of {', '.join(AGGREGATES)} over a field, such as mean(usage)")
        arguments = list(call.iter_expressions())
        if len(arguments) != 1 or not isinstance(arguments[0], exp.Column) or arguments[0].table:
            raise FeatureNotSupported(f"{name}() must take one field name in a continuous query", hint=_USAGE)
        label = projection.alias if isinstance(projection, exp.Alias) else _numbered(name, seen)
        if label.lower() == "time":
            raise InvalidParameterValue('an aggregate cannot be named "time" in a continuous query',
                                        hint="time is the bucket start that the query writes")
        outputs.append(exp.alias_(AGGREGATES[name](arguments[0].copy()), label, quoted=True))  # type: ignore[arg-type]
    return outputs


def _numbered(name: str, seen: dict[str, int]) -> str:
    count = seen.get(name, 0)
    seen[name] = count + 1
    return name if count == 0 else f"{name}_{count}"
