"""Deterministic TSBS-style ``cpu`` rows and their CSV, line-protocol and tuple forms.

The rows follow the cpu measurement of the Time Series Benchmark Suite
(TSBS): ten tags that describe a host (``hostname``, ``region``,
``datacenter``, ``rack``, ``os``, ``arch``, ``team``, ``service``,
``service_version``, ``service_environment``) and ten ``usage_*`` fields.
Every host reports one row every 10 seconds, so rows come in steps of
``hosts`` rows that share one ``time``. The tag values and the random walks
of the fields are new code written for Lakegate, not taken from TSBS.

The same seed and the same sequence of ``CpuGenerator.rows`` calls always
yield the same rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

TAGS = ("hostname", "region", "datacenter", "rack", "os", "arch", "team", "service", "service_version",
        "service_environment")
FIELDS = ("usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq",
          "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice")
COLUMNS = ("time", *TAGS, *FIELDS)

START = datetime(2024, 1, 1, tzinfo=UTC)
INTERVAL = timedelta(seconds=10)
DEFAULT_HOSTS = 100
DEFAULT_SEED = 20240101

#: One row: ``time`` (an aware UTC datetime), the ten tags as str, the ten fields as float.
CpuRow = tuple[datetime | str | float, ...]

_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1",
            "ap-southeast-2", "ap-northeast-1", "sa-east-1")
_OPERATING_SYSTEMS = ("Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10")
_ARCHITECTURES = ("x64", "x86")
_TEAMS = ("SF", "NYC", "LON", "CHI")
_ENVIRONMENTS = ("production", "staging", "test")

# Largest change of a usage field between two rows of the same host, in percent.
_MAX_STEP = 2.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CpuGenerator:
    """A stream of cpu rows for ``hosts`` hosts, one step every 10 seconds from ``start``.

    Each call to ``rows`` continues where the previous one stopped, so a
    large data set can be produced in chunks. Usage values are random walks
    kept within 0..100 and rounded to two decimals, so their text forms in
    CSV, line protocol and SQL are exact.
    """

    def __init__(self, hosts: int = DEFAULT_HOSTS, seed: int = DEFAULT_SEED, start: datetime = START) -> None:
        if hosts < 1:
            raise ValueError(f"hosts must be at least 1, not {hosts}")
        self._random = random.Random(seed)
        self._start = start
        self._host_tags = [_host_tags(index, self._random) for index in range(hosts)]
        self._usage = [[round(self._random.uniform(0, 100), 2) for _ in FIELDS] for _ in range(hosts)]
        self._produced = 0

    @property
    def hosts(self) -> int:
        return len(self._host_tags)

    def rows(self, count: int) -> list[CpuRow]:
        """Return the next ``count`` rows in time order, hosts in index order within a step."""
        rows: list[CpuRow] = []
        hosts = self.hosts
        for index in range(self._produced, self._produced + count):
            step, host = divmod(index, hosts)
            moment = self._start + step * INTERVAL
            rows.append((moment, *self._host_tags[host], *self._next_usage(host)))
        self._produced += count
        return rows

    def _next_usage(self, host: int) -> list[float]:
        values = self._usage[host]
        uniform = self._random.uniform
        for position, value in enumerate(values):
            values[position] = round(_reflect(value + uniform(-_MAX_STEP, _MAX_STEP)), 2)
        return list(values)


def _host_tags(index: int, chooser: random.Random) -> tuple[str, ...]:
    region = chooser.choice(_REGIONS)
    return (
        f"host_{index}",
        region,
        f"{region}{chooser.choice('abc')}",
        str(chooser.randrange(100)),
        chooser.choice(_OPERATING_SYSTEMS),
        chooser.choice(_ARCHITECTURES),
        chooser.choice(_TEAMS),
        str(chooser.randrange(20)),
        str(chooser.randrange(2)),
        chooser.choice(_ENVIRONMENTS),
    )


def _reflect(value: float) -> float:
    """Fold a value that stepped outside 0..100 back inside, as a wall reflects a random walk."""
    if value < 0:
        return -value
    if value > 100:
        return 200 - value
    return value


def csv_text(rows: Iterable[CpuRow]) -> str:
    """Return the rows as CSV lines in ``COLUMNS`` order without a header, ``time`` in ISO 8601 with offset.

    No value contains a comma, quote or line break, so no field is quoted.
    """
    lines = []
    for row in rows:
        moment = row[0]
        assert isinstance(moment, datetime)
        lines.append(",".join([moment.isoformat(), *map(str, row[1:])]))
    lines.append("")
    return "\n".join(lines)


def line_protocol(rows: Iterable[CpuRow], measurement: str = "cpu") -> str:
    """Return the rows as InfluxDB line protocol, one line each, timestamps in nanoseconds."""
    name = _escape_key(measurement, ", ")
    lines = []
    for row in rows:
        moment = row[0]
        assert isinstance(moment, datetime)
        tags = ",".join(f"{key}={_escape_key(str(value), ',= ')}" for key, value in zip(TAGS, row[1:11]))
        fields = ",".join(f"{key}={value!r}" for key, value in zip(FIELDS, row[11:]))
        lines.append(f"{name},{tags} {fields} {nanoseconds(moment)}")
    lines.append("")
    return "\n".join(lines)


def nanoseconds(moment: datetime) -> int:
    """Return an aware datetime as nanoseconds since the Unix epoch."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _escape_key(text: str, specials: str) -> str:
    for character in specials:
        text = text.replace(character, "\\" + character)
    return text


def batches(items: Sequence[CpuRow], size: int) -> list[Sequence[CpuRow]]:
    """Split ``items`` into consecutive slices of ``size`` (the last may be shorter)."""
    return [items[start:start + size] for start in range(0, len(items), size)]
