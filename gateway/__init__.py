"""Lakegate: a PostgreSQL-wire SQL gateway over hour-partitioned Parquet files."""

__version__ = "0.1.0"
