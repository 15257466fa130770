"""Stored definitions and run state of continuous queries.

Each query is one MetaStore document of kind ``continuous``, named by the
query. The document contains the definition (written by CREATE and ALTER)
and the run state (watermark, last run and its outcome, written by the
runner while it holds the query's lease). Writers re-read the document and
change only their own fields, and the runner checks the ``id`` so that it
never writes state into a query that was dropped and created again.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.meta.store import MetaStore

KIND = "continuous"


@dataclass(frozen=True)
class ContinuousQuery:
    """One continuous query: what it computes, on which windows, and how far it got."""

    name: str
    #: The database of ``ON db``; the SELECT's unqualified names resolve in it.
    database: str
    source_database: str
    source: str
    destination_database: str
    destination: str
    #: The SELECT in the PostgreSQL dialect, without the window condition.
    select: str
    every: timedelta
    look_back: timedelta = timedelta(0)
    delay: timedelta = timedelta(0)
    #: Where the first run begins when there is no watermark; None means the source's first data.
    start: datetime | None = None
    active: bool = True
    #: End (exclusive) of the last window that a scheduled run stored; None before the first run.
    watermark: datetime | None = None
    last_run: datetime | None = None
    last_result: str | None = None
    #: Unique per CREATE, so the runner can tell a re-created query from the one it started with.
    id: str = ""
    #: Windows whose destination rows a run is replacing, stored before it deletes them and cleared once
    #: the new rows are flushed, so a run cut short by a crash is completed at the next start or check.
    pending_start: datetime | None = None
    pending_end: datetime | None = None

    def with_state(self, *, watermark: datetime | None, last_run: datetime, last_result: str) -> ContinuousQuery:
        """Return a copy with new run state."""
        return replace(self, watermark=watermark, last_run=last_run, last_result=last_result)


def new_id() -> str:
    """Return a fresh definition id."""
    return uuid.uuid4().hex


_TIME_KEYS = ("start", "watermark", "last_run", "pending_start", "pending_end")


def to_document(query: ContinuousQuery) -> dict[str, Any]:
    """Encode a query as a JSON-ready document: durations in seconds, times in ISO 8601."""
    document = asdict(query)
    for key in ("every", "look_back", "delay"):
        document[key] = document[key].total_seconds()
    for key in _TIME_KEYS:
        document[key] = document[key].isoformat() if document[key] is not None else None
    return document


def from_document(document: dict[str, Any]) -> ContinuousQuery:
    """Decode a document written by ``to_document``; raise KeyError or ValueError if it is malformed."""
    values = dict(document)
    for key in ("every", "look_back", "delay"):
        values[key] = timedelta(seconds=float(values[key]))
    for key in _TIME_KEYS:
        values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
    return ContinuousQuery(**values)


class ContinuousQueries:
    """The continuous queries stored in one backend's metadata prefix."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta

    def get(self, name: str) -> ContinuousQuery | None:
        """Return the query named ``name``, or None when there is none."""
        document = self.meta.read(KIND, name)
        return from_document(document) if document is not None else None

    def all(self) -> list[ContinuousQuery]:
        """Return every stored query, sorted by name; documents dropped during the listing are skipped."""
        queries = [self.get(name) for name in self.meta.names(KIND)]
        return [query for query in queries if query is not None]

    def create(self, query: ContinuousQuery) -> bool:
        """Store a new query; return False, storing nothing, if one of that name exists."""
        return self.meta.create(KIND, query.name, to_document(query))

    def set_active(self, name: str, active: bool) -> bool:
        """Switch a query on or off; return False if it does not exist."""
        query = self.get(name)
        if query is None:
            return False
        self.meta.write(KIND, name, to_document(replace(query, active=active)))
        return True

    def save_state(self, query: ContinuousQuery) -> bool:
        """Store the run state of ``query`` over the current document's.

        The current definition (such as ``active``) is kept. Returns False,
        storing nothing, when the query was dropped or created again since
        ``query`` was read.
        """
        current = self.get(query.name)
        if current is None or current.id != query.id:
            return False
        updated = replace(current, watermark=query.watermark, last_run=query.last_run,
                          last_result=query.last_result, pending_start=query.pending_start,
                          pending_end=query.pending_end)
        self.meta.write(KIND, query.name, to_document(updated))
        return True

    def drop(self, name: str) -> bool:
        """Remove a query; return False if it did not exist."""
        if self.meta.read(KIND, name) is None:
            return False
        self.meta.delete(KIND, name)
        return True
