"""node-postgres (npm ``pg``) against the gateway and PostgreSQL.

``node_pg_scenarios.js`` runs once per server with ``TZ=UTC`` and prints one
JSON object of observations. node-postgres sends a query without values
over the simple protocol; with values it sends Parse without parameter
types, so the server infers them. Results are text, parsed by type OID:
int8 stays a string, timestamps become Dates and bytea a Buffer (hex here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.servers import TEXT_SPELLINGS, Server, create_scratch_table

SCRIPT = Path(__file__).with_name("node_pg_scenarios.js")
REPO_ROOT = Path(__file__).resolve().parents[2]

Observations = dict[str, Any]


def _run_scenarios(server: Server, scratch_table: str) -> Observations:
    node = shutil.which("node")
    assert node is not None, "Node.js is not installed"
    assert (REPO_ROOT / "node_modules" / "pg").is_dir(), "npm package pg is missing; run make install-test"
    result = subprocess.run(
        [node, "--no-deprecation", str(SCRIPT), str(server.port), server.long_query, scratch_table],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, f"{server}: {result.stderr}"
    observations: Observations = json.loads(result.stdout)
    return observations


@pytest.fixture(scope="module")
def observations(gateway: Server, oracle: Server) -> dict[str, Observations]:
    scratch_table = create_scratch_table(oracle)
    return {server.name: _run_scenarios(server, scratch_table) for server in (gateway, oracle)}


def _both(observations: dict[str, Observations], scenario: str) -> list[Any]:
    return [observations["gateway"].get(scenario), observations["postgresql"].get(scenario)]


def test_rows_and_types(observations: dict[str, Observations]) -> None:
    expected = {
        "fields": [["time", 1184], ["day", 1082], ["healthy", 16], ["host", 25], ["levels", 1007],
                   ["payload", 17], ["samples", 20], ["shift_start", 1083], ["usage", 701], ["wall_clock", 1114]],
        "rows": [
            ["2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z", True, "alpha", [1, 2], {"bytea": "00ff"}, "42",
             "08:30:00", 0.5, "2024-01-01T09:00:00.000Z"],
            ["2024-01-01T01:30:00.250Z", "2023-12-31T00:00:00.000Z", False, 'beta, "quoted"', [3], {"bytea": ""},
             "-7", "23:59:59.5", -1.5e20, "2023-12-31T23:59:59.123Z"],
            ["2024-01-02T00:00:00.000Z", None, None, None, None, None, None, None, None, None],
        ],
        "command": "SELECT",
        "rowCount": 3,
    }
    assert _both(observations, "rows") == [expected, expected]


def test_text_spellings(observations: dict[str, Observations]) -> None:
    assert _both(observations, "text") == [list(TEXT_SPELLINGS)] * 2


def test_typed_parameters(observations: dict[str, Observations]) -> None:
    assert _both(observations, "params") == [{"typed": [42, "x"], "since": "2"}] * 2


def test_untyped_parameters(observations: dict[str, Observations]) -> None:
    assert _both(observations, "untypedParams") == [[["alpha", "42"]]] * 2


def test_insert_row_count(observations: dict[str, Observations]) -> None:
    assert _both(observations, "insert") == [{"command": "INSERT", "rowCount": 2}] * 2


def test_errors_and_recovery(observations: dict[str, Observations]) -> None:
    assert _both(observations, "errors") == [[["42P01", "3"], ["42601", "3"], ["42703", "3"]]] * 2


def test_failed_transaction(observations: dict[str, Observations]) -> None:
    expected = {"first": "42P01", "next": "25P02", "rollback": "ROLLBACK", "after": "3"}
    assert _both(observations, "transaction") == [expected, expected]


def test_cancel(observations: dict[str, Observations]) -> None:
    assert _both(observations, "cancel") == [{"code": "57014", "within10s": True, "after": "3"}] * 2
