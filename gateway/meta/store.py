"""JSON documents under the store's reserved ``_lakegate/meta/`` prefix.

Documents live in the storage backend, not on the gateway's disk, so every
gateway pointed at one bucket or container reads the same definitions and
they outlive restarts. Each document is one object, replaced whole.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.storage.backend import StorageBackend
from gateway.storage.layout import METADATA_PREFIX, validate_name

META_PREFIX = f"{METADATA_PREFIX}/meta/"


class MetaStore:
    """Named JSON documents grouped by kind (``retention``, ``continuous``, ...)."""

    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend

    def read(self, kind: str, name: str) -> dict[str, Any] | None:
        """Return the document, or None when there is none."""
        try:
            data = self.backend.read(self._path(kind, name))
        except FileNotFoundError:
            return None
        document: dict[str, Any] = json.loads(data)
        return document

    def write(self, kind: str, name: str, document: dict[str, Any]) -> None:
        """Store the document, replacing any earlier one of that name."""
        self.backend.write(self._path(kind, name), _encode(document))

    def create(self, kind: str, name: str, document: dict[str, Any]) -> bool:
        """Store the document only if none of that name exists; return whether it was stored."""
        return self.backend.create(self._path(kind, name), _encode(document))

    def delete(self, kind: str, name: str) -> None:
        """Remove the document; a missing one is not an error."""
        self.backend.delete(self._path(kind, name))

    def names(self, kind: str) -> list[str]:
        """Return the names of the documents of one kind, sorted."""
        prefix = f"{META_PREFIX}{validate_name(kind, 'metadata kind')}/"
        return sorted(path[len(prefix):-len(".json")] for path in self.backend.list(prefix)
                      if path.endswith(".json") and "/" not in path[len(prefix):])

    def _path(self, kind: str, name: str) -> str:
        return f"{META_PREFIX}{validate_name(kind, 'metadata kind')}/{validate_name(name)}.json"


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, indent=1).encode()
