"""Whole-column binary encoding for fixed-width types, with numpy byte swapping.

Integers, floats, booleans, timestamps and dates become big-endian values
of their PostgreSQL width in one numpy conversion. Other types go to
pgtypes.encode_binary, the reference, one value at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.server import pgtypes
from gateway.server.pgtypes import PgType

_NUMPY_FORMATS = {pgtypes.INT2.oid: ">i2", pgtypes.INT4.oid: ">i4", pgtypes.INT8.oid: ">i8", pgtypes.OID.oid: ">u4",
                  pgtypes.FLOAT4.oid: ">f4", pgtypes.FLOAT8.oid: ">f8", pgtypes.BOOL.oid: "u1"}
_PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970
_PG_EPOCH_DAYS = 10_957


def binary_column(array: pa.Array, kind: PgType) -> pa.Array:
    """Return the column's values in PostgreSQL binary format as a binary array; nulls stay null."""
    oid = kind.oid
    if oid in _NUMPY_FORMATS and (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
                                  or pa.types.is_boolean(array.type)):
        return _fixed(array, _NUMPY_FORMATS[oid])
    if oid in (pgtypes.TIMESTAMP.oid, pgtypes.TIMESTAMPTZ.oid) and pa.types.is_timestamp(array.type):
        micros = pc.cast(pc.cast(array, pa.timestamp("us", tz=array.type.tz)), pa.int64())
        return _fixed(pc.subtract(micros, _PG_EPOCH_MICROS), ">i8")
    if oid == pgtypes.DATE.oid and pa.types.is_date(array.type):
        days = pc.cast(pc.cast(array, pa.date32()), pa.int32())
        return _fixed(pc.subtract(days, _PG_EPOCH_DAYS), ">i4")
    if oid in (pgtypes.TEXT.oid, pgtypes.VARCHAR.oid) and (pa.types.is_string(array.type)
                                                           or pa.types.is_large_string(array.type)):
        return pc.cast(array, pa.binary())
    return pa.array(pgtypes.encode_binary(array, kind), pa.binary())


def _fixed(array: pa.Array, numpy_format: str) -> pa.Array:
    filled = pc.fill_null(array, False if pa.types.is_boolean(array.type) else 0)
    values = np.asarray(filled.to_numpy(zero_copy_only=False)).astype(numpy_format)
    width = values.dtype.itemsize
    offsets = np.arange(0, (len(values) + 1) * width, width, dtype=np.int32)
    encoded = pa.Array.from_buffers(pa.binary(), len(values),
                                    [None, pa.py_buffer(offsets), pa.py_buffer(values.tobytes())])
    if array.null_count:
        encoded = pc.if_else(pc.is_valid(array), encoded, pa.scalar(None, pa.binary()))
    return encoded
