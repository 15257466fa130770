"""Statements the gateway runs itself instead of passing them to DuckDB."""
