"""Benchmarks of Lakegate against reference servers, with results in docs/benchmarks.md.

Run them from the repository root (``make bench-ingest``), because they import
the test suite's helpers that start PostgreSQL and the gateway.
"""
