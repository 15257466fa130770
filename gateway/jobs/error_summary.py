"""The one-line form of a failed run's error, as SHOW ... shows it in ``last_result``."""

from __future__ import annotations

from gateway.errors import GatewayError

#: The maximum length of a summary; the log has the whole error.
MAX_CHARS = 300


def error_summary(error: BaseException) -> str:
    """Return the error's first line (and SQLSTATE), cut to ``MAX_CHARS`` characters."""
    if isinstance(error, GatewayError):
        text = f"{_first_line(error.message)} (SQLSTATE {error.sqlstate})"
    else:
        text = f"{type(error).__name__}: {_first_line(str(error))}"
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 3] + "..."


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
