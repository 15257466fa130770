"""The crash harness (reliability/) on a local store: two SIGKILL trials per operation lose nothing.

Each trial starts ``lakegate serve``, kills it with SIGKILL during the
operation at a seeded random delay, restarts it on the same store and
write-ahead log and checks the rows and files. The last tests feed the
checks a store with a known defect, so a harness that could not see one
would fail here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliability.crash import OPERATIONS, run_operation
from reliability.delete_trial import MEASUREMENT as DELETE_MEASUREMENT
from reliability.delete_trial import DeleteTrial
from reliability.ingest_trial import IngestTrial
from reliability.store import local_store
from reliability.trial import connect
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

TRIALS = 2
SEED = 20261205


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_crash_trials_lose_nothing(operation: str, tmp_path: Path) -> None:
    totals = run_operation(operation, TRIALS, random.Random(SEED), local_store, tmp_path)

    assert totals.trials == TRIALS
    assert totals.errors == 0
    assert totals.acknowledged > 0
    assert totals.duplicated == 0
    assert totals.incomplete == 0
    assert totals.unreadable == 0
    assert totals.temporary_listed == 0
    assert totals.files_listed > 0
    assert totals.lost == 0
    assert totals.invalid == 0


@pytest.fixture
def local_gateway(local_storage_url: StorageTarget, tmp_path: Path) -> Iterator[GatewayProcess]:
    process = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    yield process
    process.stop()


def test_delete_check_sees_duplicate(local_gateway: GatewayProcess) -> None:
    trial = DeleteTrial()
    trial.prepare(local_gateway)
    with connect(local_gateway) as connection:
        connection.execute(f"INSERT INTO {DELETE_MEASUREMENT} (time, id) VALUES ('2024-03-01 00:06:00+00', 3)")

    check = trial.check_after_crash(local_gateway)

    assert check.duplicated == 1
    assert check.invalid == 1
    assert check.lost == 0


def test_ingest_check_sees_lost_row(local_gateway: GatewayProcess) -> None:
    trial = IngestTrial()
    trial.sent.update({1, 2})
    trial.acknowledged.update({1, 2})
    with connect(local_gateway) as connection:
        connection.execute("INSERT INTO ingest_crash (time, id, source) VALUES ('2024-05-01 00:00:00+00', 1, 'x'), "
                           "('2024-05-01 00:00:01+00', 3, 'x')")

    check = trial.check_after_crash(local_gateway)

    assert check.acknowledged == 2
    assert check.lost == 1
    assert check.invalid == 1
    assert check.duplicated == 0
