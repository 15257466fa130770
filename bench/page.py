"""Rewriting one marked section of the results page, leaving the rest of the page as it is.

A section is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
lines, so benchmarks other than ingestion can keep their own sections on the
same page.
"""

from __future__ import annotations

from pathlib import Path

#: The results page every benchmark rewrites its own section of.
PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

_NEW_PAGE = """# Benchmarks

Measured figures of Lakegate beside a reference, each produced by a script
under `bench/` that rewrites its own section of this page. The figures are
records of one run on one machine, not guarantees.
"""


def replace_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of the page, adding markers (or the page) if missing.

    Raises ValueError if the page has one of the two markers but not the other.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else _NEW_PAGE
    if (start in text) != (end in text):
        raise ValueError(f"{path} has only one of the markers {start} and {end}; restore the other")
    if start in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
