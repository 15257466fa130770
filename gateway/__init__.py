"""Lakegate: a PostgreSQL-wire SQL gateway over hour-partitioned Parquet files."""

from gateway.allocator import use_system_allocator

# pyarrow reads the choice of its memory pool when it loads, so this runs
# before any module of the package imports pyarrow.
use_system_allocator()

__version__ = "0.1.0"
