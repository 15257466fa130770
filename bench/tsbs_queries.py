"""The TSBS query types over ``cpu``, in SQL that PostgreSQL, DuckDB and the gateway all accept.

Each type follows its definition in the Time Series Benchmark Suite (TSBS):
which metrics, how many hosts, how long a time window and how rows are
grouped. Hosts and windows are drawn from a ``random.Random`` that the
caller seeds, so one seed always yields the same SQL. Window starts fall on
whole minutes inside the loaded data, as TSBS draws them inside its
configured time range. The SQL text is written for Lakegate, not taken from
TSBS.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.cpu_data import FIELDS

QUERY_TYPES = ("single-groupby-1-1-1", "single-groupby-5-1-12", "double-groupby-1", "high-cpu-1",
               "high-cpu-all", "lastpoint", "groupby-orderby-limit")

#: The usage threshold of the high-cpu queries, in percent.
HIGH_CPU_THRESHOLD = 90.0


@dataclass(frozen=True)
class DataSpan:
    """The loaded data that queries draw from: ``hosts`` hosts ``host_0`` .. from ``start`` for ``hours`` hours."""

    start: datetime
    hours: int
    hosts: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)


@dataclass(frozen=True)
class TsbsQuery:
    """One query of a TSBS type, ready to run."""

    kind: str
    sql: str


def generate(kind: str, span: DataSpan, chooser: random.Random) -> TsbsQuery:
    """Return a query of type ``kind`` with hosts and a window drawn by ``chooser``.

    Raises ValueError for a kind not in QUERY_TYPES, or a span shorter than
    the kind's window (12 hours for most).
    """
    builders: dict[str, Callable[[], str]] = {
        "single-groupby-1-1-1": lambda: _single_groupby(span, chooser, metrics=1, hosts=1, hours=1),
        "single-groupby-5-1-12": lambda: _single_groupby(span, chooser, metrics=5, hosts=1, hours=12),
        "double-groupby-1": lambda: _double_groupby(span, chooser, metrics=1),
        "high-cpu-1": lambda: _high_cpu(span, chooser, hosts=1),
        "high-cpu-all": lambda: _high_cpu(span, chooser, hosts=0),
        "lastpoint": _lastpoint,
        "groupby-orderby-limit": lambda: _groupby_orderby_limit(span, chooser),
    }
    if kind not in builders:
        raise ValueError(f"unknown TSBS query type {kind!r}; known types: {', '.join(QUERY_TYPES)}")
    return TsbsQuery(kind, builders[kind]())


def query_set(span: DataSpan, seed: int) -> list[TsbsQuery]:
    """Return one query of each type in QUERY_TYPES order, drawn from a Random seeded with ``seed``."""
    chooser = random.Random(seed)
    return [generate(kind, span, chooser) for kind in QUERY_TYPES]


def timestamp_literal(moment: datetime) -> str:
    """Return ``TIMESTAMPTZ '<UTC time>+00'``, a literal that PostgreSQL and DuckDB read alike."""
    return f"TIMESTAMPTZ '{moment:%Y-%m-%d %H:%M:%S}+00'"


def _window(span: DataSpan, chooser: random.Random, hours: int) -> tuple[datetime, datetime]:
    minutes = (span.hours - hours) * 60
    if minutes < 0:
        raise ValueError(f"a {hours}-hour window does not fit in {span.hours} hours of data")
    start = span.start + timedelta(minutes=chooser.randint(0, minutes))
    return start, start + timedelta(hours=hours)


def _time_condition(start: datetime, end: datetime) -> str:
    return f"time >= {timestamp_literal(start)} AND time < {timestamp_literal(end)}"


def _host_condition(span: DataSpan, chooser: random.Random, hosts: int) -> str:
    if hosts > span.hosts:
        raise ValueError(f"{hosts} hosts asked for, the data has {span.hosts}")
    names = ", ".join(f"'host_{index}'" for index in sorted(chooser.sample(range(span.hosts), hosts)))
    return f"hostname IN ({names})"


def _single_groupby(span: DataSpan, chooser: random.Random, metrics: int, hosts: int, hours: int) -> str:
    start, end = _window(span, chooser, hours)
    hosts_condition = _host_condition(span, chooser, hosts)
    maxima = ", ".join(f"max({name}) AS max_{name}" for name in FIELDS[:metrics])
    return (f"SELECT date_trunc('minute', time) AS minute, {maxima} FROM cpu "
            f"WHERE {hosts_condition} AND {_time_condition(start, end)} "
            "GROUP BY minute ORDER BY minute")


def _double_groupby(span: DataSpan, chooser: random.Random, metrics: int) -> str:
    start, end = _window(span, chooser, 12)
    means = ", ".join(f"avg({name}) AS mean_{name}" for name in FIELDS[:metrics])
    return (f"SELECT date_trunc('hour', time) AS hour, hostname, {means} FROM cpu "
            f"WHERE {_time_condition(start, end)} "
            "GROUP BY hour, hostname ORDER BY hour, hostname")


def _high_cpu(span: DataSpan, chooser: random.Random, hosts: int) -> str:
    """Return the rows above the threshold in 12 hours, of ``hosts`` random hosts or of all (0)."""
    start, end = _window(span, chooser, 12)
    conditions = [f"usage_user > {HIGH_CPU_THRESHOLD}", _time_condition(start, end)]
    if hosts:
        conditions.append(_host_condition(span, chooser, hosts))
    return f"SELECT * FROM cpu WHERE {' AND '.join(conditions)}"


def _lastpoint() -> str:
    return "SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC"


def _groupby_orderby_limit(span: DataSpan, chooser: random.Random) -> str:
    """Return the last 5 minutes before a random moment that have data, with the max usage_user of each."""
    end = span.start + timedelta(minutes=chooser.randint(5, span.hours * 60))
    return (f"SELECT date_trunc('minute', time) AS minute, max(usage_user) AS max_usage_user FROM cpu "
            f"WHERE time < {timestamp_literal(end)} "
            "GROUP BY minute ORDER BY minute DESC LIMIT 5")
