"""Start-up checks shared by the backends: the error shape and a write probe."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from gateway.errors import ConfigurationError
from gateway.storage.backend import Backend
from gateway.storage.masking import mask_secrets

#: Prefix of the probe objects that check() writes, inside the reserved metadata prefix.
PROBE_PREFIX = "_lakegate/checks"
_PROBE_DATA = b"lakegate storage check\n"


def unusable(
    description: str, reason: str, known_secrets: Iterable[str | None] = ()
) -> ConfigurationError:
    """Build the error for a store that cannot be used, with credentials masked.

    ``reason`` states what failed and what to fix, for example
    ``bucket "b" does not exist; create it or fix --storage``.
    """
    message = f'storage "{description}" is not usable: {reason}'
    return ConfigurationError(mask_secrets(message, known_secrets))


def verify_round_trip(
    backend: Backend, known_secrets: Iterable[str | None] = ()
) -> None:
    """Write, list, read and delete one probe object under ``_lakegate/checks/``.

    Raise ConfigurationError naming the step that failed, with the library's
    error as ``__cause__``. The probe is deleted again on success.
    """
    secrets = list(known_secrets)
    path = f"{PROBE_PREFIX}/{uuid.uuid4().hex}"
    step = "writing"
    try:
        backend.write(path, _PROBE_DATA)
        step = "listing"
        listed = backend.list(PROBE_PREFIX)
        step = "reading"
        data = backend.read(path)
        step = "deleting"
        backend.delete(path)
    # Any library error here means the store is unusable. The original is
    # kept as __cause__ and the message names the step that failed.
    except Exception as error:
        reason = f'{step} the test object "{path}" failed: {error}; check the write, list and delete permissions'
        raise unusable(backend.description, reason, secrets) from error

    if path not in listed:
        reason = f'the test object "{path}" was written but not listed; check the list permission'
        raise unusable(backend.description, reason, secrets)
    if data != _PROBE_DATA:
        reason = f'the test object "{path}" was read back with different content'
        raise unusable(backend.description, reason, secrets)
