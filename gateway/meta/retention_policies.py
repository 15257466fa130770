"""Retention policies stored as MetaStore documents of kind ``retention``.

A policy keeps the rows of one database, or of one measurement of it,
for ``duration`` plus ``buffer``. Its document also records the last run
(time and outcome), so that every gateway on the store shows the same
history. Documents are replaced whole, so a run that records its outcome
re-reads the document first and changes only the history fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.errors import DuplicateObject, UndefinedObject
from gateway.meta.store import MetaStore

KIND = "retention"


@dataclass(frozen=True)
class RetentionPolicy:
    """A policy: its target, how long rows are kept, whether it runs on schedule, and its last run."""

    name: str
    database: str
    #: None for a database-level policy.
    measurement: str | None
    duration: timedelta
    buffer: timedelta
    active: bool = True
    last_run: datetime | None = None
    last_result: str | None = None

    def cutoff(self, now: datetime) -> datetime:
        """Return the instant before which rows are removed: ``now - duration - buffer``."""
        return now - self.duration - self.buffer

    def target(self) -> str:
        """Return ``db`` or ``db.measurement``, for messages."""
        return self.database if self.measurement is None else f"{self.database}.{self.measurement}"


class RetentionPolicies:
    """The retention policies of one MetaStore, read and written as RetentionPolicy values."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store

    def get(self, name: str) -> RetentionPolicy | None:
        """Return the policy, or None if there is none of that name."""
        document = self.store.read(KIND, name)
        return None if document is None else _from_document(name, document)

    def require(self, name: str) -> RetentionPolicy:
        """Return the policy, or raise UndefinedObject (42704) if there is none of that name."""
        policy = self.get(name)
        if policy is None:
            raise UndefinedObject(f'retention policy "{name}" does not exist',
                                  hint="SHOW RETENTION POLICIES lists the policies")
        return policy

    def all(self) -> list[RetentionPolicy]:
        """Return every policy, sorted by name. A policy removed during the listing is left out."""
        policies = (self.get(name) for name in self.store.names(KIND))
        return [policy for policy in policies if policy is not None]

    def create(self, policy: RetentionPolicy) -> None:
        """Store a new policy, or raise DuplicateObject (42710) if the name is taken."""
        if not self.store.create(KIND, policy.name, _to_document(policy)):
            raise DuplicateObject(f'retention policy "{policy.name}" already exists')

    def update(self, policy: RetentionPolicy) -> None:
        """Replace the stored policy of the same name."""
        self.store.write(KIND, policy.name, _to_document(policy))

    def record_run(self, name: str, when: datetime, result: str) -> None:
        """Store the time and outcome of a run. A policy dropped during the run stays dropped."""
        # NOTE: an ALTER stored between this read and the write below is lost, because
        # MetaStore has no conditional replace.
        policy = self.get(name)
        if policy is not None:
            self.update(replace(policy, last_run=when, last_result=result))

    def delete(self, name: str) -> None:
        """Remove the policy. A missing one is not an error."""
        self.store.delete(KIND, name)


def _to_document(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "database": policy.database,
        "measurement": policy.measurement,
        "duration_seconds": int(policy.duration.total_seconds()),
        "buffer_seconds": int(policy.buffer.total_seconds()),
        "active": policy.active,
        "last_run": policy.last_run.isoformat() if policy.last_run is not None else None,
        "last_result": policy.last_result,
    }


def _from_document(name: str, document: dict[str, Any]) -> RetentionPolicy:
    last_run = document.get("last_run")
    return RetentionPolicy(
        name=name,
        database=str(document["database"]),
        measurement=document.get("measurement"),
        duration=timedelta(seconds=int(document["duration_seconds"])),
        buffer=timedelta(seconds=int(document.get("buffer_seconds", 0))),
        active=bool(document.get("active", True)),
        last_run=datetime.fromisoformat(last_run) if last_run else None,
        last_result=document.get("last_result"),
    )
