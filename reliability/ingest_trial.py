"""Crash trial of ingestion: writers send rows by INSERT, COPY and line protocol while buffers flush often.

Every row carries a unique ``id``. Each writer records the ids it sent and,
once the gateway acknowledged the write (``INSERT 0 n``, ``COPY n``, HTTP
204), the ids acknowledged. After the restart every acknowledged id must be
there once, and no id that was never sent may appear. Rows of a write that
was in flight at the kill may or may not be there.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from reliability.outcome import RowCheck
from reliability.trial import DATABASE, connect
from tests.e2e.gateway_process import GatewayProcess

MEASUREMENT = "ingest_crash"
START = datetime(2024, 5, 1, tzinfo=UTC)
#: Rows spread over this many hours, so every flush writes several partition files.
HOURS = 6
#: Ids of writer k start at k * ID_BLOCK, so the writers never share an id.
ID_BLOCK = 1_000_000_000


class IngestTrial:
    """Three writers (INSERT, COPY, line protocol) running until the gateway is killed."""

    name = "ingest flush"
    prefix = f"{DATABASE}/{MEASUREMENT}/"
    flags = ("--flush-rows", "300", "--flush-age", "0.2")

    def __init__(self) -> None:
        self.sent: set[int] = set()
        self.acknowledged: set[int] = set()
        self._lock = threading.Lock()
        #: Errors other than a broken connection, which make the trial invalid.
        self.errors: list[str] = []

    def prepare(self, gateway: GatewayProcess) -> None:
        """Nothing to prepare: the store starts empty."""

    def run(self, gateway: GatewayProcess) -> None:
        writers: list[Callable[[GatewayProcess, itertools.count[int]], None]] = [
            self._insert_rows, self._copy_rows, self._write_lines]
        threads = [threading.Thread(target=self._until_broken, args=(writer, gateway, index), daemon=True)
                   for index, writer in enumerate(writers, start=1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        raise ConnectionError("the writers stopped because the gateway went away")

    def check_after_crash(self, gateway: GatewayProcess) -> RowCheck:
        return self._check(gateway)

    def rerun(self, gateway: GatewayProcess) -> RowCheck:
        """Flush the replayed rows to Parquet and check again."""
        with connect(gateway) as connection:
            connection.execute("CHECKPOINT")
        return self._check(gateway)

    def incomplete(self, gateway: GatewayProcess) -> int:
        return 0

    def _check(self, gateway: GatewayProcess) -> RowCheck:
        if self.errors:
            raise RuntimeError(f"a writer failed before the kill: {self.errors[0]}")
        with connect(gateway) as connection:
            try:
                ids = [row[0] for row in connection.execute(f"SELECT id FROM {MEASUREMENT}").fetchall()]
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidCatalogName):
                ids = []  # killed before any row was stored, so the database does not exist
        counts = Counter(ids)
        present = set(counts)
        return RowCheck(
            acknowledged=len(self.acknowledged),
            lost=len(self.acknowledged - present),
            duplicated=sum(count - 1 for count in counts.values()),
            invalid=len(present - self.sent),
        )

    # Writers: each runs until its connection breaks.

    def _until_broken(self, writer: Callable[[GatewayProcess, itertools.count[int]], None],
                      gateway: GatewayProcess, index: int) -> None:
        try:
            writer(gateway, itertools.count(index * ID_BLOCK))
        except (OSError, http.client.HTTPException, psycopg.OperationalError, psycopg.InterfaceError):
            return  # the kill broke the connection
        except Exception as error:  # noqa: BLE001 (reported by the check after the restart)
            self.errors.append(f"{writer.__name__}: {error!r}")

    def _batch(self, ids: itertools.count[int], size: int) -> list[tuple[datetime, int]]:
        batch = []
        for _ in range(size):
            row_id = next(ids)
            batch.append((START + timedelta(seconds=(row_id * 7) % (HOURS * 3600)), row_id))
        with self._lock:
            self.sent.update(row_id for _, row_id in batch)
        return batch

    def _acknowledge(self, batch: list[tuple[datetime, int]]) -> None:
        with self._lock:
            self.acknowledged.update(row_id for _, row_id in batch)

    def _insert_rows(self, gateway: GatewayProcess, ids: itertools.count[int]) -> None:
        with connect(gateway) as connection:
            while True:
                batch = self._batch(ids, 20)
                values = ", ".join(["(%s, %s, 'insert')"] * len(batch))
                parameters = [value for row in batch for value in row]
                cursor = connection.execute(f"INSERT INTO {MEASUREMENT} (time, id, source) VALUES {values}",
                                            parameters)
                if cursor.statusmessage == f"INSERT 0 {len(batch)}":
                    self._acknowledge(batch)

    def _copy_rows(self, gateway: GatewayProcess, ids: itertools.count[int]) -> None:
        with connect(gateway) as connection:
            while True:
                batch = self._batch(ids, 200)
                cursor = connection.cursor()
                with cursor.copy(f"COPY {MEASUREMENT} (time, id, source) FROM STDIN") as copy:
                    for moment, row_id in batch:
                        copy.write_row((moment, row_id, "copy"))
                if cursor.statusmessage == f"COPY {len(batch)}":
                    self._acknowledge(batch)

    def _write_lines(self, gateway: GatewayProcess, ids: itertools.count[int]) -> None:
        while True:
            batch = self._batch(ids, 100)
            body = "".join(f"{MEASUREMENT},source=http id={row_id}i {int(moment.timestamp())}\n"
                           for moment, row_id in batch)
            connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=60)
            try:
                connection.request("POST", f"/write?db={DATABASE}&precision=s", body=body.encode())
                response = connection.getresponse()
                response.read()
            finally:
                connection.close()
            if response.status == 204:
                self._acknowledge(batch)
