"""Recognises the statements of retention policies and continuous queries and routes them.

They are not PostgreSQL SQL, so the session recognises them by their first
words before sqlglot parses them: ``CREATE|ALTER|DROP|SHOW|EXECUTE``
followed by ``RETENTION POLICY|POLICIES`` or ``CONTINUOUS QUERY|QUERIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.errors import InternalError
from gateway.sql.commands import continuous_query, retention
from gateway.sql.parse import Word
from gateway.sql.results import Result

if TYPE_CHECKING:  # the runtime imports the SQL layer, not the other way round
    from gateway.runtime import Runtime

_VERBS = {"CREATE", "ALTER", "DROP", "SHOW", "EXECUTE"}
_FAMILIES = {
    ("RETENTION", "POLICY"): "retention",
    ("RETENTION", "POLICIES"): "retention",
    ("CONTINUOUS", "QUERY"): "continuous",
    ("CONTINUOUS", "QUERIES"): "continuous",
}


@dataclass
class JobContext:
    """The context of a job statement: the process runtime and the session's database."""

    runtime: Runtime
    #: The session's database, the default of ``ON db``.
    database: str
    #: Sends a notice to the client at once; None outside a session.
    notify: Callable[[str], None] | None = None
    #: Tells whether the client asked to cancel the statement (or statement_timeout passed).
    cancelled: Callable[[], bool] = lambda: False


def statement_family(words: list[Word]) -> str | None:
    """Return "retention" or "continuous" for a job statement, None for anything else."""
    if len(words) < 3 or any(word.quoted for word in words[:3]) or words[0].upper not in _VERBS:
        return None
    return _FAMILIES.get((words[1].upper, words[2].upper))


def run(family: str, text: str, words: list[Word], context: JobContext) -> Result:
    """Run a job statement of the given family and return its result."""
    if family == "retention":
        return retention.run(words, context)
    if family == "continuous":
        return continuous_query.run(context.runtime, context.database, text, words, context.notify,
                                    context.cancelled)
    raise InternalError(f"unknown job statement family {family!r}")
