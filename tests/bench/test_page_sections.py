"""Rewriting the results page: each suite's section is replaced in place, the others stay unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.page import replace_section

PAGE = """# Benchmarks

<!-- ingest:start -->
ingest figures
<!-- ingest:end -->

<!-- streaming:start -->
old streaming figures
<!-- streaming:end -->
"""


def test_existing_section_is_replaced_in_place(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)
    replace_section(page, "streaming", "new streaming figures\n")
    assert page.read_text() == PAGE.replace("old streaming figures", "new streaming figures")


def test_new_section_is_appended_after_the_others(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)
    replace_section(page, "pruning", "pruning figures")
    assert page.read_text() == PAGE + "\n<!-- pruning:start -->\npruning figures\n<!-- pruning:end -->\n"


def test_page_with_one_marker_is_rejected(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE.replace("<!-- streaming:end -->\n", ""))
    with pytest.raises(ValueError):
        replace_section(page, "streaming", "new")
    assert page.read_text() == PAGE.replace("<!-- streaming:end -->\n", "")
