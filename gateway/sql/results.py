"""The result of one statement, independent of the wire protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from gateway.sql.commands.copy_out import CopyOptions

if TYPE_CHECKING:
    from gateway.sql.commands.copy_in import CopyIn


@dataclass
class Result:
    """The outcome of one statement.

    A statement that returns rows has a ``schema`` and yields record batches;
    its command tag gets the row count appended when ``tag`` is SELECT.
    Others have only a ``tag`` such as ``INSERT 0 3``.
    """

    tag: str
    schema: pa.Schema | None = None
    batches: Iterator[pa.RecordBatch] = field(default_factory=lambda: iter(()))
    notices: list[str] = field(default_factory=list)
    #: Reported settings the statement changed, sent to the client as ParameterStatus.
    parameter_status: dict[str, str] = field(default_factory=dict)
    #: Prepared statement a DEALLOCATE names ("" for ALL); None for other statements.
    deallocate: str | None = None
    #: Layout of a COPY TO STDOUT; None for other statements.
    copy: CopyOptions | None = None
    #: A COPY FROM STDIN waiting for data, and the columns it fills; None for other statements.
    copy_in: CopyIn | None = None
    copy_columns: list[str] = field(default_factory=list)

    @property
    def returns_rows(self) -> bool:
        return self.schema is not None


def table_result(tag: str, table: pa.Table) -> Result:
    """Wrap a small in-memory table as a row-returning result."""
    return Result(tag=tag, schema=table.schema, batches=iter(table.to_batches()))


def text_table(names: list[str], rows: list[list[str | None]]) -> pa.Table:
    """Build a table of text columns from rows."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table({name: pa.array(list(values), pa.string()) for name, values in zip(names, columns, strict=True)})
