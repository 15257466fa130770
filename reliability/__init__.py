"""Reliability harnesses: SIGKILL crash trials (``python -m reliability.crash``) and a load run (``python -m reliability.load``).

Both start real ``lakegate serve`` processes on loopback ports and talk to
them through psycopg and HTTP, and both rewrite their own section of
docs/reliability.md.
"""
