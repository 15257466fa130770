"""Choosing and opening the storage backend named by a storage URL.

Accepted URLs: a directory path or ``file:///abs/path`` (local),
``s3://bucket[/prefix]``, and ``az://container[/prefix]`` (``abfs://`` is
read as ``az://``). The prefix may have several levels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gateway.config import Settings
from gateway.errors import ConfigurationError
from gateway.storage.azure import AzureBackend
from gateway.storage.backend import StorageBackend
from gateway.storage.local import LocalBackend
from gateway.storage.masking import mask_secrets
from gateway.storage.s3 import S3Backend

__all__ = ["StorageLocation", "mask_secrets", "open_backend", "parse_storage_url"]

LOCAL = "local"
S3 = "s3"
AZURE = "azure"

_AZURE_SCHEMES = frozenset({"az", "abfs"})
_ACCEPTED_FORMS = "a directory, file:///absolute/path, s3://bucket[/prefix] or az://container[/prefix]"


@dataclass(frozen=True)
class _NameRule:
    noun: str
    form: str
    pattern: re.Pattern[str]
    description: str


_S3_NAME_RULE = _NameRule(
    "bucket",
    "s3://bucket[/prefix]",
    re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
)
_AZURE_NAME_RULE = _NameRule(
    "container",
    "az://container[/prefix]",
    re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}"),
    "3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
)


@dataclass(frozen=True)
class StorageLocation:
    """A parsed storage URL.

    ``kind`` is ``"local"``, ``"s3"`` or ``"azure"``. For local storage,
    ``path`` is the absolute directory and ``bucket`` and ``prefix`` are
    empty. For the object stores, ``bucket`` is the bucket or container
    name and ``prefix`` the key prefix (possibly empty) without leading or
    trailing ``/``.
    """

    kind: str
    path: str = ""
    bucket: str = ""
    prefix: str = ""


def parse_storage_url(url: str) -> StorageLocation:
    """Parse ``url`` without contacting the store, or raise ConfigurationError naming the URL and the fix."""
    text = url.strip()
    if not text:
        raise ConfigurationError(f"storage URL is empty; give {_ACCEPTED_FORMS}")
    if "://" not in text:
        return StorageLocation(LOCAL, path=str(Path(text).expanduser().absolute()))

    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment:
        raise _invalid(
            url,
            "it has a query string or fragment; pass credentials through the environment",
        )
    if "@" in parts.netloc:
        raise _invalid(
            url,
            "it contains user information; pass credentials through the environment",
        )

    if scheme == "file":
        return _parse_file_url(url, parts.netloc, parts.path)
    if scheme == "s3":
        bucket = _checked_name(url, parts.netloc, _S3_NAME_RULE)
        return StorageLocation(
            S3, bucket=bucket, prefix=_checked_prefix(url, parts.path)
        )
    if scheme in _AZURE_SCHEMES:
        container = _checked_name(url, parts.netloc, _AZURE_NAME_RULE)
        return StorageLocation(
            AZURE, bucket=container, prefix=_checked_prefix(url, parts.path)
        )
    raise _invalid(url, f'scheme "{scheme}" is not supported; use {_ACCEPTED_FORMS}')


def open_backend(url: str, settings: Settings) -> StorageBackend:
    """Return the backend for ``url``, configured from ``settings``.

    A missing local directory is created; object stores are not contacted,
    so call ``check()`` on the result to verify that the store is usable.
    Raise ConfigurationError for an invalid URL or settings.
    """
    location = parse_storage_url(url)
    if location.kind == S3:
        return S3Backend(location.bucket, location.prefix, settings.s3)
    if location.kind == AZURE:
        return AzureBackend(location.bucket, location.prefix, settings.azure)

    root = Path(location.path)
    if not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as error:
            raise _invalid(
                url, f"the directory cannot be created: {error.strerror}; fix --storage"
            ) from error
    return LocalBackend(root)


def _parse_file_url(url: str, host: str, path: str) -> StorageLocation:
    if host not in ("", "localhost"):
        raise _invalid(
            url, f'file URLs cannot name a host ("{host}"); use file:///absolute/path'
        )
    local_path = unquote(path)
    if not local_path.startswith("/"):
        raise _invalid(url, "the path is not absolute; use file:///absolute/path")
    return StorageLocation(LOCAL, path=str(Path(local_path)))


def _checked_name(url: str, name: str, rule: _NameRule) -> str:
    if not name:
        raise _invalid(url, f"the {rule.noun} name is empty; use {rule.form}")
    if not rule.pattern.fullmatch(name) or ".." in name:
        raise _invalid(
            url, f'{rule.noun} name "{name}" is invalid; use {rule.description}'
        )
    return name


def _checked_prefix(url: str, path: str) -> str:
    prefix = path.strip("/")
    if not prefix:
        return ""
    for part in prefix.split("/"):
        if part in ("", ".", ".."):
            raise _invalid(url, "the prefix has an empty, '.' or '..' component")
    return prefix


def _invalid(url: str, reason: str) -> ConfigurationError:
    return ConfigurationError(mask_secrets(f'invalid storage URL "{url}": {reason}'))
