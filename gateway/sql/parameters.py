"""Bound parameter values ($1, $2 ...) inside sqlglot trees."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlglot import exp


def literal(value: object) -> exp.Expression:
    """Return a SQL literal expression for a bound parameter value."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, (int, float, Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, (datetime, date, time)):
        return exp.Literal.string(value.isoformat())
    if isinstance(value, bytes):
        return exp.Literal.string(value.decode("utf-8", errors="replace"))
    return exp.Literal.string(str(value))


def substitute_parameters(tree: exp.Expression, params: list[object]) -> exp.Expression:
    """Replace each $n in ``tree`` with the literal of ``params[n-1]``; unknown $n stay."""
    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Parameter) and node.name.isdigit():
            index = int(node.name) - 1
            if 0 <= index < len(params):
                return literal(params[index])
        return node

    return tree.transform(replace)
