"""Results of one crash trial, and their totals over many trials."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class RowCheck:
    """Rows and partitions of one check of the store through a restarted gateway.

    ``acknowledged`` counts the rows whose write was acknowledged (ingest) or
    the rows in scope of the operation (DELETE, retention, continuous query).
    ``invalid`` counts partitions or windows in a state that is neither the
    one before the operation nor the one after it, plus rows that no client
    ever sent.
    """

    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    invalid: int = 0


@dataclass(frozen=True)
class TrialResult:
    """One trial: the check after the restart, the check after re-running, and the files at rest.

    ``interrupted`` is true when the operation was still running when the
    gateway was killed. ``incomplete`` counts partitions or windows not in
    the final state after the statement ran again on the restarted gateway.
    """

    operation: str
    interrupted: bool
    after_crash: RowCheck
    after_rerun: RowCheck
    incomplete: int
    files_listed: int
    unreadable: int
    temporary_listed: int
    temporary_left: int

    @property
    def lost(self) -> int:
        return self.after_crash.lost + self.after_rerun.lost

    @property
    def duplicated(self) -> int:
        return self.after_crash.duplicated + self.after_rerun.duplicated

    @property
    def invalid(self) -> int:
        return self.after_crash.invalid + self.after_rerun.invalid


@dataclass
class OperationTotals:
    """Sums over the trials of one operation."""

    operation: str
    trials: int = 0
    #: Trials that raised before their checks ended (a statement failed, a gateway did not start).
    errors: int = 0
    interrupted: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    invalid: int = 0
    incomplete: int = 0
    files_listed: int = 0
    unreadable: int = 0
    temporary_listed: int = 0
    temporary_left: int = 0

    def add(self, result: TrialResult) -> None:
        self.trials += 1
        self.interrupted += int(result.interrupted)
        self.acknowledged += result.after_crash.acknowledged
        self.lost += result.lost
        self.duplicated += result.duplicated
        self.invalid += result.invalid
        self.incomplete += result.incomplete
        self.files_listed += result.files_listed
        self.unreadable += result.unreadable
        self.temporary_listed += result.temporary_listed
        self.temporary_left += result.temporary_left

    def failures(self) -> int:
        """Return the number of findings that break a crash-safety guarantee (0 when all held)."""
        return (self.errors + self.lost + self.duplicated + self.invalid + self.incomplete + self.unreadable
                + self.temporary_listed)


COUNT_FIELDS = [field.name for field in fields(OperationTotals) if field.name != "operation"]
