"""DataRow messages for a whole record batch at once, built with Arrow kernels.

A DataRow is ``'D'``, an int32 length, an int16 column count, then per
column an int32 value length (-1 for NULL) and the value's bytes. Here
every part is a binary column of the batch: the seven-byte headers and the
length prefixes are made with numpy, the values by text_columns.py (or
binary_columns.py), and one ``binary_join_element_wise`` glues each row's
parts together. The joined column's data buffer is then exactly the
messages of every row, back to back, ready for the socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.server.binary_columns import binary_column
from gateway.server.pgtypes import PgType
from gateway.server.text_columns import text_column

_HEADER = np.dtype([("kind", "S1"), ("length", ">i4"), ("columns", ">i2")])
_EMPTY = pa.scalar(b"", pa.binary())


@dataclass(frozen=True)
class EncodedRows:
    """DataRow messages back to back; row ``i`` is ``data[ends[i - 1]:ends[i]]`` (from 0 for the first)."""

    data: memoryview
    ends: np.ndarray

    @property
    def count(self) -> int:
        return len(self.ends)

    def rows(self, start: int, stop: int) -> memoryview:
        """Return the messages of rows ``start`` to ``stop - 1``."""
        begin = int(self.ends[start - 1]) if start > 0 else 0
        return self.data[begin:int(self.ends[stop - 1])] if stop > start else memoryview(b"")


def data_rows(batch: pa.RecordBatch, kinds: Sequence[PgType], codes: Sequence[int],
              time_zone: str = "UTC") -> EncodedRows:
    """Return the DataRow messages of every row of ``batch``, in order.

    ``codes`` gives each column's format: 0 text, 1 binary.
    """
    if batch.num_rows == 0:
        return EncodedRows(memoryview(b""), np.zeros(0, dtype=np.int64))
    columns = [binary_column(column, kind) if code == 1 else text_column(column, kind, time_zone)
               for column, kind, code in zip(batch.columns, kinds, codes, strict=True)]
    try:
        return _join(columns, batch.num_rows)
    except pa.ArrowInvalid:
        # More than 2 GiB of rows in one binary column: split the batch.
        if batch.num_rows < 2:
            raise
        half = batch.num_rows // 2
        first = data_rows(batch.slice(0, half), kinds, codes, time_zone)
        second = data_rows(batch.slice(half), kinds, codes, time_zone)
        ends = np.concatenate([first.ends, second.ends + (first.ends[-1] if first.count else 0)])
        return EncodedRows(memoryview(bytes(first.data) + bytes(second.data)), ends)


def _join(columns: list[pa.Array], count: int) -> EncodedRows:
    sizes = np.full(count, 4 + 2, dtype=np.int64)
    parts: list[pa.Array] = []
    for values in columns:
        lengths = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False)
        sizes += 4 + np.maximum(lengths, 0)
        parts.append(_fixed_width(lengths.astype(">i4").tobytes(), 4, count))
        parts.append(pc.fill_null(values, _EMPTY) if values.null_count else values)

    header = np.empty(count, dtype=_HEADER)
    header["kind"] = b"D"
    header["length"] = sizes
    header["columns"] = len(columns)
    joined = pc.binary_join_element_wise(_fixed_width(header.tobytes(), _HEADER.itemsize, count), *parts, _EMPTY)

    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=count + 1, offset=4 * joined.offset)
    data = memoryview(joined.buffers()[2])[offsets[0]:offsets[-1]]
    return EncodedRows(data, offsets[1:].astype(np.int64) - offsets[0])


def _fixed_width(data: bytes, width: int, count: int) -> pa.Array:
    """Return a binary column of ``count`` values of ``width`` bytes each, cut from ``data``."""
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
