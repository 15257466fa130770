"""Rewriting the catalog queries clients send so DuckDB can run them.

PostgreSQL clients browse ``pg_catalog`` with syntax and functions DuckDB
1.5.5 lacks. This pass, run on the parsed tree before measurement
references are replaced:

- sends ``pg_catalog.X`` (or a bare ``X``) to ``pgcompat.X`` where the
  compat schema defines it, and strips ``pg_catalog.`` from function calls;
- replaces session functions (``current_database()``, ``version()``,
  ``current_setting('x')`` ...) with the session's values as literals;
- turns ``OPERATOR(pg_catalog.op)`` into the operator, drops
  ``COLLATE pg_catalog.default``, and maps ``::regclass``, ``::regtype``,
  ``::oid``, ``::name`` and ``::"char"`` casts onto lookups or plain types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import ParseError

from gateway.sql.catalog.objects import SCHEMA
from gateway.sql.pg_arrays import parse_array_text
from gateway.sql.rewrite import function_name

RELATIONS = {
    "pg_type", "pg_namespace", "pg_class", "pg_attribute", "pg_database", "pg_roles", "pg_user", "pg_authid",
    "pg_am", "pg_tablespace", "pg_proc", "pg_tables", "pg_stat_user_tables", "pg_inherits", "pg_trigger",
    "pg_policy", "pg_statistic_ext", "pg_publication", "pg_publication_namespace", "pg_publication_rel",
    "pg_rewrite", "pg_index", "pg_constraint", "pg_attrdef", "pg_description", "pg_shdescription", "pg_range",
    "pg_enum", "pg_collation", "pg_extension", "pg_foreign_table", "pg_partitioned_table", "pg_depend",
    "pg_sequence", "pg_matviews", "pg_views", "pg_indexes", "pg_opclass", "pg_auth_members",
    "pg_event_trigger", "pg_cast", "pg_stat_activity",
}

INFORMATION_SCHEMA_VIEWS = {"schemata", "tables", "columns"}

FUNCTIONS = {
    "pg_get_userbyid", "pg_encoding_to_char", "pg_type_is_visible", "pg_function_is_visible", "format_type",
    "pg_get_expr", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_triggerdef", "pg_get_viewdef",
    "pg_get_function_result", "pg_get_function_arguments", "pg_get_serial_sequence", "pg_get_partkeydef",
    "pg_get_statisticsobjdef_columns", "pg_relation_is_publishable", "pg_is_in_recovery", "obj_description",
    "col_description", "shobj_description", "array_upper", "array_lower", "quote_ident", "to_regtype",
    "to_regclass", "set_config", "pg_advisory_unlock_all", "pg_cancel_backend", "pg_terminate_backend",
    "pg_total_relation_size", "_pg_expandarray", "pg_relation_size", "pg_database_size",
}

_OPERATORS: dict[str, type[exp.Expression]] = {
    "~": exp.RegexpLike, "~*": exp.RegexpILike, "=": exp.EQ, "<>": exp.NEQ, "!=": exp.NEQ,
    "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE, "~~": exp.Like, "~~*": exp.ILike,
}


@dataclasses.dataclass(frozen=True)
class SessionValues:
    """Values of the session-dependent catalog functions for one session."""

    database: str
    user: str
    version: str
    process_id: int
    settings: Mapping[str, str]
    parameters: list[object] = dataclasses.field(default_factory=list)


def rewrite_catalog(tree: exp.Expression, session: SessionValues,
                    params: list[object] | None = None) -> tuple[exp.Expression, bool]:
    """Return the rewritten tree and whether it reads the catalog (so the mirror should be fresh).

    ``params`` are the bound values of $1, $2 ...; a setting name passed to
    current_setting() as a parameter is read from them.
    """
    session = dataclasses.replace(session, parameters=list(params or []))
    reads_catalog = False
    # Children before parents, so that a parent gets its rewritten children: a
    # pg_catalog.f() call whose f is replaced, or a COLLATE inside an OPERATOR().
    for node in reversed(list(tree.walk())):
        replaced = _rewrite_node(node, session)
        if replaced is not node or _is_catalog_table(node):
            reads_catalog = True
        if replaced is not node:
            if node is tree:
                tree = replaced
            else:
                node.replace(replaced)
    return tree, reads_catalog


def _is_catalog_table(node: exp.Expression) -> bool:
    return isinstance(node, exp.Table) and node.db.lower() in ("information_schema", "pg_catalog")


def _rewrite_node(node: exp.Expression, session: SessionValues) -> exp.Expression:
    if isinstance(node, exp.Table):
        return _table(node, session)
    if (isinstance(node, exp.Dot) and (_is_pg_catalog(node.this) or _is_information_schema(node.this))
            and not isinstance(node.expression, exp.Identifier)):
        return node.expression  # a function call, or its replacement by a literal or pgcompat call
    if isinstance(node, exp.Collate) and "pg_catalog" in node.expression.sql().lower():
        return node.this
    if isinstance(node, exp.Operator):
        return _operator(node)
    if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
        return _any_of_array(node)
    if isinstance(node, exp.Cast):
        return _cast(node)
    if isinstance(node, exp.DataType):
        return _unqualified_type(node)
    if isinstance(node, exp.Column) and node.args.get("db") is not None and node.db.lower() == "pg_catalog":
        column = node.copy()  # pg_catalog.pg_namespace.nspname: the table alias is pg_namespace
        column.set("db", None)
        return column
    return _function(node, session)


_OBJECT_IDENTIFIER_TYPES = {"oid", "regclass", "regtype", "regproc", "regnamespace", "regrole"}


def _unqualified_type(data_type: exp.DataType) -> exp.Expression:
    """Turn ``pg_catalog.text`` and the like into the plain type."""
    kind = data_type.args.get("kind")
    if data_type.this != exp.DataType.Type.USERDEFINED or not isinstance(kind, exp.Dot):
        return data_type
    if not _is_pg_catalog(kind.this):
        return data_type
    name = kind.expression.name.lower()
    if name in _OBJECT_IDENTIFIER_TYPES:
        return exp.ObjectIdentifier(this=name.upper())
    try:
        return exp.DataType.build(name, dialect="postgres")
    except (ValueError, ParseError):
        return data_type


def _is_information_schema(node: exp.Expression) -> bool:
    return isinstance(node, (exp.Identifier, exp.Column)) and node.name.lower() == "information_schema"


def _is_pg_catalog(node: exp.Expression) -> bool:
    return isinstance(node, (exp.Identifier, exp.Column)) and node.name.lower() == "pg_catalog"


def _table(table: exp.Table, session: SessionValues) -> exp.Expression:
    name = table.name.lower()
    schema = table.db.lower()
    if not isinstance(table.this, exp.Identifier):
        return _table_function(table)
    if name == "pg_settings" and schema in ("", "pg_catalog") and isinstance(table.this, exp.Identifier):
        return _settings_relation(table, session)
    if schema == "information_schema" and name in INFORMATION_SCHEMA_VIEWS:
        table = table.copy()
        table.set("db", exp.to_identifier(SCHEMA))
        table.set("this", exp.to_identifier(f"information_schema_{name}"))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        return table
    if name in RELATIONS and schema in ("", "pg_catalog") and isinstance(table.this, exp.Identifier):
        table = table.copy()
        table.set("db", exp.to_identifier(SCHEMA))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
    return table


# Functions that are table functions in DuckDB too; any other function in FROM
# is a scalar one that PostgreSQL treats as a one-row table.
_TABLE_FUNCTIONS = {"generate_series", "range", "unnest", "explode", "generate_subscripts"}


_SETTINGS_COLUMNS = ["name", "setting", "unit", "category", "short_desc", "extra_desc", "context", "vartype",
                     "source", "min_val", "max_val", "enumvals", "boot_val", "reset_val", "sourcefile",
                     "sourceline", "pending_restart"]


def _settings_relation(table: exp.Table, session: SessionValues) -> exp.Expression:
    """Return pg_settings as rows of this session's settings (DuckDB's lists only its own)."""
    values = {**_DEFAULT_SETTINGS, **session.settings}
    rows = []
    for name, setting in sorted(values.items()):
        literals = [exp.Literal.string(name), exp.Literal.string(setting)] + [exp.null()] * 13
        literals.append(exp.null())
        literals.append(exp.false())
        rows.append(exp.Tuple(expressions=literals))
    alias = table.args.get("alias")
    label = alias.name if isinstance(alias, exp.TableAlias) and alias.name else "pg_settings"
    source = exp.Values(expressions=rows, alias=exp.TableAlias(
        this=exp.to_identifier("settings"), columns=[exp.to_identifier(column) for column in _SETTINGS_COLUMNS]))
    query = exp.select(exp.Star()).from_(source)
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(label)))


def _table_function(table: exp.Table) -> exp.Expression:
    """Make a function in FROM read as PostgreSQL reads it.

    A ``pg_catalog.`` qualifier goes. ``pg_get_keywords()`` comes from
    pgcompat. A scalar function such as ``string_to_array(...) s`` becomes the
    one-row subquery ``(SELECT string_to_array(...) AS s) s``. And as in
    PostgreSQL, ``FROM generate_series(1, 3) s`` makes ``s`` the value (in
    DuckDB it would be the row), so the alias gets a column of that name.
    """
    table = table.copy()
    if table.db.lower() == "pg_catalog":
        table.set("db", None)
    name = function_name(table.this)
    if name == "pg_get_keywords":
        table.set("db", exp.to_identifier(SCHEMA))
        return table
    alias = table.args.get("alias")
    if name not in _TABLE_FUNCTIONS and not table.db:
        label = alias.name if isinstance(alias, exp.TableAlias) and alias.name else name
        query = exp.select(exp.alias_(table.this, label, quoted=True))
        return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(label)))
    if isinstance(alias, exp.TableAlias) and alias.this is not None and not alias.columns:
        alias.set("columns", [exp.to_identifier(alias.name)])
    return table


def _any_of_array(node: exp.EQ) -> exp.Expression:
    """Turn ``x = ANY($1)`` into ``list_contains($1, x)``: DuckDB reads ANY(...) as a subquery only."""
    target = node.expression.this
    while isinstance(target, exp.Paren):
        target = target.this
    if isinstance(target, (exp.Subquery, exp.Query)):
        return node
    return exp.Anonymous(this="list_contains", expressions=[target, node.this])


def _operator(node: exp.Operator) -> exp.Expression:
    symbol = str(node.args.get("operator", "")).split(".")[-1].strip()
    negated = symbol.startswith("!") and symbol not in ("!=",)
    kind = _OPERATORS.get(symbol[1:] if negated else symbol)
    if kind is None:
        return node
    built = kind(this=node.this, expression=node.expression)
    return exp.Not(this=built) if negated else built


def _cast(cast: exp.Cast) -> exp.Expression:
    target = cast.to
    inner = cast.this
    if (isinstance(target, exp.DataType) and target.this == exp.DataType.Type.ARRAY
            and isinstance(inner, exp.Literal) and inner.is_string and inner.name.startswith("{")):
        return exp.Cast(this=_array_literal(inner.name), to=target)
    if isinstance(target, exp.DataType) and target.this == exp.DataType.Type.TEXT and isinstance(inner, exp.Cast):
        kind = _object_identifier(inner.to)
        if kind in ("REGCLASS", "REGTYPE"):
            return _call(f"{kind.lower()}_name", inner.this)
    kind = _object_identifier(target)
    if kind in ("REGCLASS", "REGTYPE") and _is_text_cast(cast.parent):
        return cast  # the enclosing ::text cast turns this into a name lookup
    if kind == "REGPROC" and isinstance(inner, exp.Literal) and inner.is_string:
        return exp.Literal.string(inner.name.split(".")[-1])  # pg_type.typinput contains function names
    if (isinstance(target, exp.DataType) and target.this in (exp.DataType.Type.VARBINARY, exp.DataType.Type.BINARY)
            and isinstance(inner, exp.Literal) and inner.is_string and _is_hex_bytea(inner.name)):
        return exp.Anonymous(this="from_hex", expressions=[exp.Literal.string(inner.name[2:])])
    if kind in ("REGCLASS", "REGTYPE") and isinstance(inner, exp.Literal) and inner.is_string:
        return _call(f"{kind.lower()}_oid", inner)
    if kind is not None:
        return exp.cast(inner, exp.DataType.build("UINTEGER", dialect="duckdb"))
    if isinstance(target, exp.DataType) and (
        target.this == exp.DataType.Type.NAME
        or (target.this == exp.DataType.Type.USERDEFINED and str(target.args.get("kind")).lower() == "char")
    ):
        return exp.cast(inner, "VARCHAR")
    return cast


def _is_hex_bytea(text: str) -> bool:
    """Tell whether a string is PostgreSQL's hex bytea format, ``\\x`` and pairs of hex digits.

    DuckDB reads ``'\\x00ff'::BLOB`` as the byte 0x00 and the characters
    "ff"; its own escapes (``'\\x00\\xFF'``) are not hex format and stay as they are.
    """
    digits = text[2:]
    return text.startswith("\\x") and len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits)


def _array_literal(text: str) -> exp.Array:
    """Turn PostgreSQL's ``'{a,"b c",NULL}'`` array text into a list of string literals."""
    items = parse_array_text(text)
    return exp.Array(expressions=[exp.null() if item is None else exp.Literal.string(item) for item in items])


def _is_text_cast(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType) and node.to.this == exp.DataType.Type.TEXT


def _object_identifier(target: exp.Expression) -> str | None:
    if isinstance(target, exp.ObjectIdentifier):
        return str(target.this).upper()
    return None


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Dot(this=exp.to_identifier(SCHEMA), expression=exp.Anonymous(this=name, expressions=list(args)))


def _function(node: exp.Expression, session: SessionValues) -> exp.Expression:
    if isinstance(node, exp.CurrentDatabase) or isinstance(node, exp.CurrentSchema):
        return exp.Literal.string(session.database)
    if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
        return exp.Literal.string(session.user)
    if isinstance(node, exp.CurrentVersion):
        return exp.Literal.string(session.version)
    if isinstance(node, exp.CurrentSchemas):
        include_implicit = not isinstance(node.this, exp.Boolean) or bool(node.this.this)
        names = (["pg_catalog"] if include_implicit else []) + [session.database]
        return exp.Array(expressions=[exp.Literal.string(name) for name in names])
    if not isinstance(node, exp.Anonymous):
        return node
    name = str(node.this).lower()
    if name == "version":
        return exp.Literal.string(session.version)
    if name == "pg_backend_pid":
        return exp.Literal.number(session.process_id)
    if name == "current_setting" and node.expressions:
        setting = _setting_name(node.expressions[0], session.parameters)
        if setting is not None:
            return exp.Literal.string(session.settings.get(setting, _DEFAULT_SETTINGS.get(setting, "")))
    if name == "json_build_object":
        pairs = [exp.cast(arg, "VARCHAR") if index % 2 == 0 else arg for index, arg in enumerate(node.expressions)]
        return exp.Anonymous(this="json_object", expressions=pairs)
    if name == "pg_table_is_visible":
        return _call("pg_table_is_visible", *node.expressions, exp.Literal.string(session.database))
    if name in FUNCTIONS:
        return _call(name, *node.expressions)
    return node


def _setting_name(argument: exp.Expression, parameters: list[object]) -> str | None:
    """Return the setting name a current_setting() argument holds, literal or bound parameter."""
    while isinstance(argument, (exp.Cast, exp.Paren)):
        argument = argument.this
    if isinstance(argument, exp.Literal):
        return argument.name.lower()
    if isinstance(argument, exp.Parameter) and argument.name.isdigit():
        index = int(argument.name) - 1
        value = parameters[index] if 0 <= index < len(parameters) else None
        return str(value).lower() if value is not None else ""
    return None


# Settings clients read with current_setting() that the session does not track.
_DEFAULT_SETTINGS = {"server_version_num": "150000", "jit": "off", "max_index_keys": "32",
                     "max_identifier_length": "63", "lc_collate": "C", "lc_ctype": "C"}
