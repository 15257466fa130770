"""Types of ``$n`` parameters the client left unspecified, inferred from their context.

DuckDB 1.5.5 reports prepared-statement parameters as UNKNOWN, so the
gateway infers each one as PostgreSQL would. The type comes from the cast
applied to it, the expression it is compared or combined with, or the column
an INSERT assigns it to, and LIMIT and OFFSET take BIGINT. A parameter with no such
context stays unknown (sent as text).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from gateway.sql.time_bounds import TIME_COLUMN

#: Returns the DuckDB type of ``expression`` evaluated in the FROM clause of ``select``, or None.
ExpressionTyper = Callable[[exp.Select | None, exp.Expression], str | None]
#: Returns the DuckDB type of a column of the INSERT target, or None.
ColumnTyper = Callable[[str], str | None]


def infer_parameter_types(
    tree: exp.Expression, count: int, type_of: ExpressionTyper, column_type: ColumnTyper
) -> list[str | None]:
    """Return the DuckDB type name of each parameter $1..$count, None where unknown."""
    types: list[str | None] = [None] * count
    for node in tree.find_all(exp.Parameter):
        if not node.name.isdigit():
            continue
        index = int(node.name) - 1
        if not 0 <= index < count or types[index] is not None:
            continue
        types[index] = _infer(node, tree, type_of, column_type)
    return types


def typed_parameters(tree: exp.Expression, types: list[str | None]) -> exp.Expression:
    """Cast each ``$n`` to its known type, so results have the types sent to the client in ParameterDescription.

    A parameter of unknown type that is a result column on its own becomes
    VARCHAR, as PostgreSQL makes it text. Other unknown ones stay as they
    are, for DuckDB to type from their context.
    """
    def cast(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Parameter) or not node.name.isdigit():
            return node
        index = int(node.name) - 1
        known = types[index] if 0 <= index < len(types) else None
        if known is not None:
            return exp.Cast(this=node.copy(), to=exp.DataType.build(known, dialect="duckdb"))
        if _is_projection(node):
            return exp.Cast(this=node.copy(), to=exp.DataType.build("VARCHAR"))
        return node

    if isinstance(tree, exp.Insert):
        return tree  # values are cast to the measurement's column types on the way in
    return tree.transform(cast)


def _is_projection(node: exp.Expression) -> bool:
    parent = node.parent
    if isinstance(parent, exp.Alias):
        parent = parent.parent
    return isinstance(parent, exp.Select) and node.arg_key in ("expressions", "this")


def _infer(node: exp.Parameter, tree: exp.Expression, type_of: ExpressionTyper,
           column_type: ColumnTyper) -> str | None:
    child: exp.Expression = node
    parent = node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if parent is None:
        return None
    if isinstance(parent, exp.Cast) and parent.this is child:
        return parent.to.sql(dialect="duckdb")
    if isinstance(parent, (exp.Limit, exp.Offset, exp.Fetch)):
        return "BIGINT"
    if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values):
        return _insert_column_type(parent, child, tree, column_type)
    other = _counterpart(parent, child)
    if other is None or _has_parameter(other):
        return None
    return type_of(_enclosing_select(parent), other)


def _counterpart(parent: exp.Expression, child: exp.Expression) -> exp.Expression | None:
    """Return the expression that determines the parameter's type, if any."""
    if isinstance(parent, exp.Between):
        return parent.this if child is not parent.this else parent.args.get("low")
    if isinstance(parent, exp.In):
        return parent.this if child is not parent.this else None
    if isinstance(parent, (exp.Predicate, exp.Binary)) and not isinstance(parent, exp.Connector):
        left, right = parent.left, parent.right
        if isinstance(parent, (exp.DPipe, exp.Like, exp.ILike)):
            return exp.cast(exp.null(), "VARCHAR") if child in (left, right) else None
        if child is left:
            return right
        if child is right:
            return left
        return None
    return None


def _insert_column_type(row: exp.Tuple, child: exp.Expression, tree: exp.Expression,
                        column_type: ColumnTyper) -> str | None:
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
        return None
    position = row.expressions.index(child)
    columns = tree.this.expressions
    if position >= len(columns):
        return None
    name = columns[position].name
    if name.lower() == TIME_COLUMN:
        return "TIMESTAMP WITH TIME ZONE"
    return column_type(name)


def _has_parameter(node: exp.Expression) -> bool:
    return any(isinstance(part, exp.Parameter) for part in node.walk())


def _enclosing_select(node: exp.Expression) -> exp.Select | None:
    current = node.parent
    while current is not None and not isinstance(current, exp.Select):
        current = current.parent
    return current
