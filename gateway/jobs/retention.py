"""Running retention policies: remove the rows older than a policy's cutoff.

For each measurement a policy covers, at ``cutoff = now - duration - buffer``:

1. under the measurement's lock, its buffered rows are flushed (see
   acknowledged_files.py) and the files of the partitions older than the
   cutoff are listed;
2. files of partitions that end at or before the cutoff are removed with
   batch deletes (older versions left by DELETE rewrites first), without
   reading their rows: row counts come from the Parquet footers and byte
   counts from the listing;
3. a partition that straddles the cutoff has only its older rows removed,
   through the DELETE machinery (``delete_where``).

A dry run does steps 1 to 3 without flushing or removing anything. It counts
buffered rows older than the cutoff as rows, but not as files, since they are
not in files yet.

One gateway at a time runs a policy: a run holds the lease ``retention/<name>``
(see gateway/meta/lease.py), renewed in the background while it works. A
scheduled run that finds the lease taken skips the policy until the next
interval, and EXECUTE raises PolicyBusy, a LockNotAvailable (55P03).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.errors import InvalidCatalogName, LockNotAvailable, UndefinedTable
from gateway.jobs.error_summary import error_summary
from gateway.jobs.retention_files import (
    FileSplit,
    buffered_rows_before,
    footer_rows,
    split_at_cutoff,
)
from gateway.meta import lease as leases
from gateway.meta.retention_policies import RetentionPolicies, RetentionPolicy
from gateway.sql.commands.acknowledged_files import acknowledged_files
from gateway.sql.commands.delete_plan import DeletePlan, plan_delete
from gateway.sql.commands.delete_where import delete_where, time_between
from gateway.sql.commands.measurement_locks import measurement_lock
from gateway.sql.commands.removal_context import keep_database_listed
from gateway.sql.time_bounds import TimeRange
from gateway.storage.file_versions import remove_files

if TYPE_CHECKING:
    from gateway.runtime import Runtime

logger = logging.getLogger(__name__)

LEASE_KIND = "retention"


class PolicyBusy(LockNotAvailable):
    """Another session or gateway is running the policy, so it holds the policy's lease (55P03)."""

    def __init__(self, name: str) -> None:
        super().__init__(f'retention policy "{name}" is being run by another session or gateway',
                         hint="wait for that run to end, then run it again")


@dataclass(frozen=True)
class MeasurementDeletion:
    """Partitions, files, rows and bytes a policy removed from one measurement, or would remove in a dry run.

    ``files`` and ``bytes`` count files removed whole. A file of a straddling
    partition that is rewritten without its older rows does not count.
    """

    measurement: str
    partitions: int
    files: int
    rows: int
    bytes: int


def execute_policy(runtime: Runtime, policy: RetentionPolicy, *, dry_run: bool = False) -> list[MeasurementDeletion]:
    """Run one policy now, as EXECUTE RETENTION POLICY does, and record the outcome of a real run.

    The policy runs whether or not it is active. Raises LockNotAvailable
    (55P03) while another run of the policy holds its lease, and
    InvalidCatalogName (3D000) if its database no longer exists.
    """
    now = runtime.clock()
    if dry_run:
        return measure_policy(runtime, policy, now)
    return _run_with_lease(runtime, policy, now)


def run_active_policies(runtime: Runtime, now: datetime) -> None:
    """Run every active policy once; the scheduler calls this every --retention-interval.

    A policy that fails is logged and recorded as ``error: ...``, and the
    others still run. It runs again at the next interval. A policy whose
    lease is taken is skipped.
    """
    assert runtime.meta is not None
    for policy in RetentionPolicies(runtime.meta).all():
        if not policy.active:
            continue
        try:
            _run_with_lease(runtime, policy, now)
        except PolicyBusy:
            logger.info("retention policy %s skipped because another gateway or session is running it",
                        policy.name)
        except Exception as error:  # noqa: BLE001 (one failing policy must not stop the others or the server)
            logger.error("retention policy %s on %s failed; it runs again at the next interval: %s",
                         policy.name, policy.target(), error)


def measure_policy(runtime: Runtime, policy: RetentionPolicy, now: datetime) -> list[MeasurementDeletion]:
    """Return what running ``policy`` at ``now`` would remove, changing nothing."""
    cutoff = policy.cutoff(now)
    return [_measure(runtime, policy.database, measurement, cutoff)
            for measurement in covered_measurements(runtime, policy)]


def covered_measurements(runtime: Runtime, policy: RetentionPolicy) -> list[str]:
    """Return the stored names of the measurements the policy applies to, sorted.

    A database-level policy leaves out every measurement that has a policy
    of its own, active or not. Raises InvalidCatalogName (3D000) if the
    database does not exist.
    """
    measurements = runtime.measurements
    if not measurements.database_exists(policy.database):
        raise InvalidCatalogName(f'database "{policy.database}" of retention policy "{policy.name}" does not exist',
                                 hint="drop the policy, or create the database again")
    if policy.measurement is not None:
        try:
            return [measurements.resolve(policy.database, policy.measurement)]
        except UndefinedTable:
            return []  # the measurement has no rows yet, so there is nothing to remove
    assert runtime.meta is not None
    overridden = {other.measurement.lower() for other in RetentionPolicies(runtime.meta).all()
                  if other.database == policy.database and other.measurement is not None}
    return [name for name in measurements.measurements(policy.database) if name.lower() not in overridden]


def _run_with_lease(runtime: Runtime, policy: RetentionPolicy, now: datetime) -> list[MeasurementDeletion]:
    """Run the policy holding its lease, and record the outcome; raise PolicyBusy if the lease is taken."""
    with leases.holding(runtime.backend, LEASE_KIND, policy.name, runtime.clock, wait=timedelta(0),
                        busy=lambda: PolicyBusy(policy.name)):
        try:
            deletions = _remove_policy(runtime, policy, now)
        except Exception as error:
            _record(runtime, policy, now, f"error: {error_summary(error)}")
            raise
        files = sum(deletion.files for deletion in deletions)
        rows = sum(deletion.rows for deletion in deletions)
        logger.info("retention policy %s on %s removed %d rows (%d files) older than %s",
                    policy.name, policy.target(), rows, files, policy.cutoff(now).isoformat())
        _record(runtime, policy, now, f"ok: {files} files, {rows} rows")
    return deletions


def _remove_policy(runtime: Runtime, policy: RetentionPolicy, now: datetime) -> list[MeasurementDeletion]:
    cutoff = policy.cutoff(now)
    return [_remove(runtime, policy.database, measurement, cutoff)
            for measurement in covered_measurements(runtime, policy)]


def _record(runtime: Runtime, policy: RetentionPolicy, now: datetime, result: str) -> None:
    assert runtime.meta is not None
    try:
        RetentionPolicies(runtime.meta).record_run(policy.name, now, result)
    except Exception as error:  # noqa: BLE001 (the run is over; a lost record must not stop the scheduler)
        logger.error("could not record the run of retention policy %s: %s", policy.name, error)


def _remove(runtime: Runtime, database: str, measurement: str, cutoff: datetime) -> MeasurementDeletion:
    measurements = runtime.measurements
    with measurement_lock(database, measurement, runtime.backend):
        files = acknowledged_files(measurements, runtime.writer, database, measurement, TimeRange(None, cutoff))
        split = split_at_cutoff(files.chosen, database, measurement, cutoff)
        rows = footer_rows(runtime.engine, [info.path for info in split.whole])
        if split.whole:
            # The database stays listed when its last file goes, as after DROP TABLE.
            keep_database_listed(measurements, database)
            # Older versions of these files go first, or their rows would be read again.
            remove_files(runtime.backend, [info.path for info in split.whole], files.superseded)
            runtime.writer.forget(database, measurement)
    partitions = len(split.whole_partitions)
    files_removed = len(split.whole)
    bytes_removed = sum(info.size for info in split.whole)
    if split.straddling:
        outcome = delete_where(measurements, runtime.writer, runtime.engine, database, measurement,
                               time_between(split.straddling_start, cutoff))
        rows += outcome.rows
        files_removed += outcome.files_removed
        bytes_removed += outcome.bytes_removed
        partitions += len(split.straddling_partitions) if outcome.rows else 0
    runtime.catalog.invalidate()
    return MeasurementDeletion(measurement, partitions, files_removed, rows, bytes_removed)


def _measure(runtime: Runtime, database: str, measurement: str, cutoff: datetime) -> MeasurementDeletion:
    measurements = runtime.measurements
    files = measurements.files(database, measurement, TimeRange(None, cutoff))
    split = split_at_cutoff(files.chosen, database, measurement, cutoff)
    rows = footer_rows(runtime.engine, [info.path for info in split.whole])
    rows += buffered_rows_before(files.buffered, cutoff)
    partitions = len(split.whole_partitions)
    files_removed = len(split.whole)
    bytes_removed = sum(info.size for info in split.whole)
    if split.straddling:
        matched = _straddling_matches(runtime, database, measurement, split, cutoff)
        rows += sum(match.matched for match in matched.matches)
        files_removed += sum(1 for match in matched.matches if match.whole)
        bytes_removed += sum(match.info.size for match in matched.matches if match.whole)
        partitions += len(split.straddling_partitions) if matched.matches else 0
    return MeasurementDeletion(measurement, partitions, files_removed, rows, bytes_removed)


def _straddling_matches(runtime: Runtime, database: str, measurement: str, split: FileSplit,
                        cutoff: datetime) -> DeletePlan:
    measurements = runtime.measurements
    columns = measurements.columns(database, measurement)
    bounds = TimeRange(split.straddling_start, cutoff)
    files = measurements.files(database, measurement, bounds)
    cursor = runtime.engine.cursor()
    try:
        condition = time_between(split.straddling_start, cutoff)
        return plan_delete(cursor, runtime.backend, files, bounds, columns, condition)
    finally:
        cursor.close()
