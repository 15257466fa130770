"""Bounds on the ``time`` column that a WHERE clause guarantees for every returned row.

Only top-level AND-conjuncts of a WHERE count: a comparison under OR or NOT
proves nothing. Only a bare column named exactly ``time`` counts, compared
(=, <, <=, >, >=, BETWEEN) with an expression that references no column and
no subquery. Such a comparison holds for every row the query returns, in
every join type, because a NULL ``time`` fails it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlglot import exp

TIME_COLUMN = "time"
MICROSECOND = timedelta(microseconds=1)

# Functions whose value changes between evaluating the bound and running the
# query; an upper bound built on them is not trusted (see _volatile).
_VOLATILE = {"now", "current_timestamp", "transaction_timestamp", "statement_timestamp",
             "clock_timestamp", "get_current_timestamp", "localtimestamp", "current_date",
             "current_time", "random", "today"}


@dataclass(frozen=True)
class TimeRange:
    """An inclusive range [low, high] of ``time``; None is unbounded."""

    low: datetime | None = None
    high: datetime | None = None

    def narrowed(self, low: datetime | None, high: datetime | None) -> TimeRange:
        """Return the intersection with [low, high]."""
        new_low = low if self.low is None or (low is not None and low > self.low) else self.low
        new_high = high if self.high is None or (high is not None and high < self.high) else self.high
        return TimeRange(new_low, new_high)

    @property
    def bounded(self) -> bool:
        return self.low is not None or self.high is not None

    @property
    def empty(self) -> bool:
        return self.low is not None and self.high is not None and self.low > self.high


#: Evaluates a constant expression to an aware datetime, or None if it is not a timestamp.
Evaluator = Callable[[exp.Expression], datetime | None]


@dataclass(frozen=True)
class _Comparison:
    op: str  # one of "=", "<", "<=", ">", ">=" with the column on the left
    value: exp.Expression


def time_range(
    where: exp.Expression | None,
    is_time_column: Callable[[exp.Column], bool],
    evaluate: Evaluator,
) -> TimeRange:
    """Return the range of ``time`` that every row passing ``where`` lies in."""
    result = TimeRange()
    if where is None:
        return result
    for conjunct in _conjuncts(where):
        for comparison in _comparisons(conjunct, is_time_column):
            low, high = _bounds(comparison, evaluate)
            result = result.narrowed(low, high)
    return result


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    if isinstance(condition, exp.Where):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


_OPS: dict[type[exp.Expression], str] = {
    exp.EQ: "=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
}
_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _comparisons(
    conjunct: exp.Expression, is_time_column: Callable[[exp.Column], bool]
) -> list[_Comparison]:
    if isinstance(conjunct, exp.Between):
        if _is_time(conjunct.this, is_time_column) and not conjunct.args.get("symmetric"):
            low, high = conjunct.args["low"], conjunct.args["high"]
            if _is_constant(low) and _is_constant(high):
                return [_Comparison(">=", low), _Comparison("<=", high)]
        return []
    op = _OPS.get(type(conjunct))
    if op is None:
        return []
    left, right = conjunct.left, conjunct.right
    if _is_time(left, is_time_column) and _is_constant(right):
        return [_Comparison(op, right)]
    if _is_time(right, is_time_column) and _is_constant(left):
        return [_Comparison(_FLIPPED[op], left)]
    return []


def _is_time(node: exp.Expression, is_time_column: Callable[[exp.Column], bool]) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Column) and node.name.lower() == TIME_COLUMN and is_time_column(node)


def _is_constant(node: exp.Expression) -> bool:
    """Tell whether an expression references no column, subquery, window or aggregate."""
    forbidden = (exp.Column, exp.Subquery, exp.Select, exp.Window, exp.AggFunc, exp.Star)
    return not any(isinstance(part, forbidden) for part in node.walk())


def _volatile(node: exp.Expression) -> bool:
    for part in node.walk():
        if isinstance(part, (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Rand)):
            return True
        if isinstance(part, exp.Func) and part.sql_name().lower() in _VOLATILE:
            return True
        if isinstance(part, exp.Anonymous) and str(part.this).lower() in _VOLATILE:
            return True
    return False


def _bounds(comparison: _Comparison, evaluate: Evaluator) -> tuple[datetime | None, datetime | None]:
    value = evaluate(comparison.value)
    if value is None:
        return None, None
    # The query runs a moment after the bound was evaluated, so a bound built
    # on now() moves later: trusted as a lower bound, ignored as an upper one.
    volatile = _volatile(comparison.value)
    low: datetime | None = None
    high: datetime | None = None
    if comparison.op in ("=", ">="):
        low = value
    elif comparison.op == ">":
        low = value + MICROSECOND
    if comparison.op in ("=", "<=") and not volatile:
        high = value
    elif comparison.op == "<" and not volatile:
        high = value - MICROSECOND
    return low, high
