"""CREATE DATABASE | SCHEMA [IF NOT EXISTS] db."""

from __future__ import annotations

from sqlglot import exp

from gateway.errors import DuplicateSchema, SqlSyntaxError
from gateway.sql.measurements import Measurements
from gateway.sql.results import Result
from gateway.storage import layout


def create_database(measurements: Measurements, tree: exp.Create) -> Result:
    """Create an empty database that SHOW DATABASES lists."""
    kind = str(tree.args.get("kind") or "").upper()
    target = tree.this
    name = target.db if isinstance(target, exp.Table) and target.db else getattr(target, "name", "")
    if not name:
        raise SqlSyntaxError(f"CREATE {kind} needs a name")
    layout.validate_name(name, "database")
    created = measurements.create_database(name)
    if not created and not tree.args.get("exists"):
        raise DuplicateSchema(f'database "{name}" already exists')
    return Result(tag=f"CREATE {kind}")
