"""The data sizes of a benchmark run: the full scale of the ingestion benchmarks and scaled-down copies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Data sizes of one run, in rows (lines for HTTP)."""

    copy_rows: int
    http_lines: int
    insert_rows: int
    executemany_rows: int
    memory_rows: int
    memory_chunk_rows: int
    http_batch_lines: int = 5_000
    insert_batch_rows: int = 1_000

    @property
    def factor(self) -> float:
        """Return this scale relative to the full one (1.0 is the full scale)."""
        return self.copy_rows / FULL.copy_rows

    def scaled(self, copy_rows: int) -> Scale:
        """Return the sizes for ``copy_rows`` COPY rows, every other size in the same proportion."""
        factor = copy_rows / self.copy_rows
        return Scale(
            copy_rows=copy_rows,
            http_lines=max(1, round(self.http_lines * factor)),
            insert_rows=max(1, round(self.insert_rows * factor)),
            executemany_rows=max(1, round(self.executemany_rows * factor)),
            memory_rows=max(1, round(self.memory_rows * factor)),
            memory_chunk_rows=max(1, round(self.memory_chunk_rows * factor)),
            http_batch_lines=self.http_batch_lines,
            insert_batch_rows=self.insert_batch_rows,
        )


FULL = Scale(copy_rows=1_000_000, http_lines=1_000_000, insert_rows=100_000, executemany_rows=20_000,
             memory_rows=10_000_000, memory_chunk_rows=1_000_000)
