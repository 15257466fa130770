"""Validation of the relative paths that backends receive.

Backends call these as a last line of defence: layout.py builds paths from
validated names, so a path that fails here is a bug in the caller, and the
check raises ValueError rather than a client-facing error.
"""

from __future__ import annotations

_FORBIDDEN_PARTS = frozenset({"", ".", ".."})


def check_object_path(path: str) -> str:
    """Return ``path`` unchanged if it is a safe relative object path.

    Raise ValueError for an empty or absolute path, a backslash or NUL, or an
    empty, ``.`` or ``..`` component, so the joined path cannot leave the root.
    """
    if not path:
        raise ValueError("storage path is empty")
    if path.startswith("/"):
        raise ValueError(
            f"storage path {path!r} is absolute; paths are relative to the root"
        )
    if "\\" in path or "\0" in path:
        raise ValueError(f"storage path {path!r} contains a backslash or NUL character")

    for part in path.split("/"):
        if part in _FORBIDDEN_PARTS:
            raise ValueError(
                f"storage path {path!r} has an empty, '.' or '..' component"
            )
    return path


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` without a trailing ``/``, where ``""`` means the whole root.

    Raise ValueError under the same rules as check_object_path.
    """
    stripped = prefix.removesuffix("/")
    if not stripped:
        return ""
    return check_object_path(stripped)
