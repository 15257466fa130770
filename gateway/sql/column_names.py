"""PostgreSQL's names for unaliased result columns (``count``, ``int4``, ``?column?``).

DuckDB names an unaliased column after its expression text, for example
``count_star()``. Clients and tools that read results by column name expect
PostgreSQL's choice, so the gateway aliases the outermost projections.
"""

from __future__ import annotations

from sqlglot import exp

UNNAMED = "?column?"

# PostgreSQL's internal names of the types a cast can name a column after.
_TYPE_NAMES = {
    "INT": "int4", "INTEGER": "int4", "BIGINT": "int8", "SMALLINT": "int2", "TINYINT": "int2",
    "DOUBLE": "float8", "DOUBLE PRECISION": "float8", "FLOAT": "float4", "REAL": "float4",
    "TEXT": "text", "VARCHAR": "varchar", "CHAR": "bpchar", "DECIMAL": "numeric", "NUMERIC": "numeric",
    "BOOLEAN": "bool", "DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamptz", "INTERVAL": "interval", "UUID": "uuid", "JSON": "json",
    "JSONB": "jsonb", "BYTEA": "bytea", "VARBINARY": "bytea", "BLOB": "bytea",
}

# sqlglot turns some PostgreSQL functions into its own nodes; these are the names PostgreSQL shows.
_FUNCTION_NAMES: dict[type[exp.Expression], str] = {
    exp.CurrentTimestamp: "now", exp.CurrentDate: "current_date", exp.CurrentTime: "current_time",
    exp.Count: "count", exp.Coalesce: "coalesce", exp.Case: "case", exp.If: "case",
}


# sqlglot's names of functions whose PostgreSQL name differs.
_SQL_NAMES = {"current_version": "version", "current_user": "current_user", "anonymous": UNNAMED}


def name_result_columns(tree: exp.Expression) -> exp.Expression:
    """Alias each unaliased projection of the outermost SELECT with PostgreSQL's column name."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return tree
    named = []
    for projection in select.expressions:
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star)) or projection.find(exp.Star) is projection:
            named.append(projection)
            continue
        named.append(exp.alias_(projection, column_name(projection), quoted=True))
    select.set("expressions", named)
    return tree


def column_name(node: exp.Expression) -> str:
    """Return the name PostgreSQL gives a result column computed by ``node``."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Cast):
        inner = column_name(node.this)
        if inner != UNNAMED:
            return inner
        return _TYPE_NAMES.get(node.to.this.name if hasattr(node.to.this, "name") else "", _type_name(node.to))
    for kind, name in _FUNCTION_NAMES.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        name = node.sql_name().lower()
        return _SQL_NAMES.get(name, name)
    if isinstance(node, exp.Interval):
        return "interval"
    return UNNAMED


def _type_name(data_type: exp.DataType) -> str:
    text = data_type.sql(dialect="postgres").upper().split("(", 1)[0].strip()
    if text.endswith("[]"):
        return "_" + _TYPE_NAMES.get(text[:-2], text[:-2].lower())
    if text == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    return _TYPE_NAMES.get(text, text.lower())
