"""DuckDB's httpfs and azure extensions, loaded offline from their pip packages.

The packages duckdb-extension-httpfs and duckdb-extension-azure install the
extension binaries under ``<package>/extensions/v<duckdb version>/``, so no
``INSTALL`` (which downloads) is ever needed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from gateway.errors import ConfigurationError

#: The extensions the storage backends need, by name, with their packages.
EXTENSION_PACKAGES = {
    "httpfs": "duckdb_extension_httpfs",
    "azure": "duckdb_extension_azure",
}


def quote_literal(value: str) -> str:
    """Return ``value`` as a SQL string literal: in single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def extension_path(name: str) -> Path:
    """Return the ``.duckdb_extension`` file of ``name`` built for the installed duckdb.

    Raise ConfigurationError when the package or the file for this duckdb
    version is missing.
    """
    package = EXTENSION_PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f'DuckDB extension package "{package}" is not installed; pip install it'
        )

    package_directory = Path(next(iter(spec.submodule_search_locations)))
    path = (
        package_directory
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise ConfigurationError(
            f'DuckDB extension file "{path}" is missing; install {package} at the version of duckdb ({duckdb.__version__})'
        )
    return path


def load_statements() -> list[str]:
    """Return the ``LOAD '<file>'`` statements for every extension in EXTENSION_PACKAGES."""
    return [
        f"LOAD {quote_literal(str(extension_path(name)))}"
        for name in EXTENSION_PACKAGES
    ]
