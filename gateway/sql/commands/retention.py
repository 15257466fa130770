"""CREATE, ALTER, DROP, SHOW and EXECUTE RETENTION POLICY: the statements and their results.

Command tags follow PostgreSQL's style: ``CREATE RETENTION POLICY``,
``ALTER RETENTION POLICY`` and ``DROP RETENTION POLICY``. SHOW and EXECUTE
return rows with the tag ``SELECT n``.

A database, or one measurement of it, has at most one policy. A
measurement's own policy, active or not, replaces its database's policy for
that measurement. EXECUTE runs a policy even when it is inactive, because the
user asked for that run; only the scheduler skips inactive policies.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from gateway.errors import DuplicateObject, InvalidCatalogName
from gateway.jobs import retention as runner
from gateway.meta.retention_policies import RetentionPolicies, RetentionPolicy
from gateway.sql.commands.retention_syntax import (
    AlterPolicy,
    CreatePolicy,
    DropPolicy,
    ExecutePolicy,
    ShowPolicies,
    read_statement,
)
from gateway.sql.durations import format_duration
from gateway.sql.parse import Word
from gateway.sql.results import Result, table_result

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.sql.commands.job_statements import JobContext

SHOW_SCHEMA = pa.schema([
    ("name", pa.string()), ("database", pa.string()), ("measurement", pa.string()),
    ("duration", pa.string()), ("buffer", pa.string()), ("active", pa.bool_()),
    ("last_run", pa.timestamp("us", tz="UTC")), ("last_result", pa.string()),
])
EXECUTE_SCHEMA = pa.schema([
    ("measurement", pa.string()), ("partitions", pa.int64()), ("files", pa.int64()),
    ("rows", pa.int64()), ("bytes", pa.int64()),
])


def run(words: list[Word], context: JobContext) -> Result:
    """Run one retention policy statement given as words."""
    statement = read_statement(words)
    runtime = cast("Runtime", context.runtime)
    assert runtime.meta is not None
    policies = RetentionPolicies(runtime.meta)
    if isinstance(statement, CreatePolicy):
        return _create(runtime, policies, statement)
    if isinstance(statement, AlterPolicy):
        return _alter(policies, statement)
    if isinstance(statement, DropPolicy):
        return _drop(policies, statement)
    if isinstance(statement, ShowPolicies):
        return _show(policies, statement)
    return _execute(runtime, policies, statement)


def _create(runtime: Runtime, policies: RetentionPolicies, statement: CreatePolicy) -> Result:
    if not runtime.measurements.database_exists(statement.database):
        raise InvalidCatalogName(f'database "{statement.database}" does not exist',
                                 hint="SHOW DATABASES lists the databases")
    if policies.get(statement.name) is not None:
        raise DuplicateObject(f'retention policy "{statement.name}" already exists')
    policy = RetentionPolicy(statement.name, statement.database, statement.measurement,
                             statement.duration, statement.buffer)
    for other in policies.all():
        if _same_target(other, policy):
            raise DuplicateObject(f'{_target_phrase(policy)} already has retention policy "{other.name}"',
                                  hint=f'change it with ALTER RETENTION POLICY "{other.name}", or drop it first')
    policies.create(policy)
    return Result(tag="CREATE RETENTION POLICY")


def _alter(policies: RetentionPolicies, statement: AlterPolicy) -> Result:
    policy = policies.require(statement.name)
    if statement.duration is not None:
        policy = dataclasses.replace(policy, duration=statement.duration)
    if statement.buffer is not None:
        policy = dataclasses.replace(policy, buffer=statement.buffer)
    if statement.active is not None:
        policy = dataclasses.replace(policy, active=statement.active)
    policies.update(policy)
    return Result(tag="ALTER RETENTION POLICY")


def _drop(policies: RetentionPolicies, statement: DropPolicy) -> Result:
    if statement.if_exists and policies.get(statement.name) is None:
        return Result(tag="DROP RETENTION POLICY",
                      notices=[f'retention policy "{statement.name}" does not exist, skipping'])
    policies.require(statement.name)
    policies.delete(statement.name)
    return Result(tag="DROP RETENTION POLICY")


def _show(policies: RetentionPolicies, statement: ShowPolicies) -> Result:
    selected = [policy for policy in policies.all()
                if statement.database is None or policy.database == statement.database]
    columns = {
        "name": [policy.name for policy in selected],
        "database": [policy.database for policy in selected],
        "measurement": [policy.measurement for policy in selected],
        "duration": [format_duration(policy.duration) for policy in selected],
        "buffer": [format_duration(policy.buffer) for policy in selected],
        "active": [policy.active for policy in selected],
        "last_run": [policy.last_run for policy in selected],
        "last_result": [policy.last_result for policy in selected],
    }
    return table_result("SELECT", pa.table(columns, schema=SHOW_SCHEMA))


def _execute(runtime: Runtime, policies: RetentionPolicies, statement: ExecutePolicy) -> Result:
    policy = policies.require(statement.name)
    deletions = runner.execute_policy(runtime, policy, dry_run=statement.dry_run)
    columns = {field: [getattr(deletion, field) for deletion in deletions] for field in EXECUTE_SCHEMA.names}
    return table_result("SELECT", pa.table(columns, schema=EXECUTE_SCHEMA))


def _same_target(first: RetentionPolicy, second: RetentionPolicy) -> bool:
    if first.database != second.database:
        return False
    if first.measurement is None or second.measurement is None:
        return first.measurement is None and second.measurement is None
    return first.measurement.lower() == second.measurement.lower()


def _target_phrase(policy: RetentionPolicy) -> str:
    if policy.measurement is None:
        return f'database "{policy.database}"'
    return f'measurement "{policy.database}.{policy.measurement}"'
