"""Run SIGKILL crash trials of ingestion, DELETE, retention and continuous queries, and report the totals.

    python -m reliability.crash [--trials 50] [--seed N] [--operations ingest,delete,...] [--storage local|s3]

Each trial runs on a fresh store in a temporary directory, which is removed
afterwards unless the trial found a failure. The exit status is 1 when any
trial lost, duplicated or corrupted rows or files.
"""

from __future__ import annotations

import argparse
import random
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reliability.continuous_trial import ContinuousTrial
from reliability.crash_report import totals_table, write_section
from reliability.delete_trial import DeleteTrial
from reliability.ingest_trial import IngestTrial
from reliability.outcome import OperationTotals
from reliability.retention_trial import RetentionTrial
from reliability.store import TrialStore, local_store, s3_store
from reliability.trial import CrashOperation, KillWindow, run_trial
from tests.emulators import start_moto

#: Operation names on the command line, the class of one trial, and the first kill window in seconds.
OPERATIONS: dict[str, tuple[Callable[[], CrashOperation], float]] = {
    "ingest": (IngestTrial, 3.0),
    "delete": (DeleteTrial, 1.0),
    "retention": (RetentionTrial, 0.5),
    "continuous": (ContinuousTrial, 2.0),
}


def run_operation(name: str, trials: int, chooser: random.Random, new_store: Callable[[Path], TrialStore],
                  workdir: Path) -> OperationTotals:
    """Run ``trials`` trials of one operation and return their totals, keeping the directories of failed trials."""
    factory, initial_window = OPERATIONS[name]
    window = KillWindow(initial_window)
    totals = OperationTotals(factory().name)
    for index in range(trials):
        directory = workdir / f"{name}-{index}"
        try:
            result = run_trial(factory(), new_store(directory), chooser, window)
        except Exception as error:  # noqa: BLE001 (counted and reported, and the other trials still run)
            totals.trials += 1
            totals.errors += 1
            print(f"trial {name}-{index} failed with {error!r}, logs kept in {directory}", file=sys.stderr)
            continue
        totals.add(result)
        failed = result.lost or result.duplicated or result.invalid or result.incomplete or result.unreadable
        if failed or result.temporary_listed:
            print(f"trial {name}-{index} failed: {result}, store kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return totals


@contextmanager
def store_factory(storage: str, workdir: Path) -> Iterator[Callable[[Path], TrialStore]]:
    """Yield a function that creates a trial's store: a local directory, or a bucket on a moto server started here."""
    if storage == "local":
        yield local_store
        return
    service, endpoint = start_moto(workdir)
    try:
        yield lambda directory: s3_store(directory, endpoint)
    finally:
        service.stop()


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    seed = arguments.seed if arguments.seed is not None else random.SystemRandom().randrange(2**31)
    names = arguments.operations.split(",")
    unknown = [name for name in names if name not in OPERATIONS]
    if unknown:
        print(f"invalid operation {unknown[0]!r}, expected one of {', '.join(OPERATIONS)}", file=sys.stderr)
        return 2
    print(f"seed {seed}", flush=True)

    chooser = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="lakegate-crash-"))
    totals = []
    started = time.monotonic()
    with store_factory(arguments.storage, workdir) as new_store:
        for name in names:
            totals.append(run_operation(name, arguments.trials, chooser, new_store, workdir))
            print(f"{name}: {arguments.trials} trials done after {time.monotonic() - started:.0f} s", flush=True)
    print(totals_table(totals))

    failures = sum(total.failures() for total in totals)
    if failures == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    if not arguments.no_report:
        command = shlex.join(["python", "-m", "reliability.crash", *(argv if argv is not None else sys.argv[1:])])
        write_section(totals, seed, command, arguments.storage)
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reliability.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials per operation (default 50)")
    parser.add_argument("--seed", type=int, help="seed of the kill delays (default: a random one, printed)")
    parser.add_argument("--operations", default=",".join(OPERATIONS),
                        help=f"comma-separated operations to test (default {','.join(OPERATIONS)})")
    parser.add_argument("--storage", choices=("local", "s3"), default="local",
                        help="a local store, or S3 on a moto server started on 127.0.0.1 (default local)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/reliability.md")
    return parser


if __name__ == "__main__":
    sys.exit(main())
