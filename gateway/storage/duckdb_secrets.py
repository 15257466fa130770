"""DuckDB secrets that let httpfs (S3) and azure read the same root as a backend.

Each backend gets one ``CREATE OR REPLACE SECRET`` scoped to its root URI,
so DuckDB uses it for every path that ``backend.uri()`` returns. Values are
SQL string literals; statements contain credentials, so log them only
through mask_secrets.

Refreshing, by store:
- S3 with temporary credentials (botocore RefreshableCredentials): DuckDB
  gets a copy of the key, secret and token, so SecretRefresher re-creates
  the secret before they expire. s3fs refreshes its own copy.
- Azure with managed identity: the secret uses DuckDB's credential_chain
  provider, which requests a token at query time, and adlfs uses a
  DefaultAzureCredential that refreshes itself, so nothing expires here.
- Connection strings, SAS tokens and static keys never expire from our side.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from gateway.errors import ConfigurationError
from gateway.storage.azure import AzureBackend
from gateway.storage.backend import Backend
from gateway.storage.duckdb_extensions import quote_literal
from gateway.storage.masking import mask_secrets
from gateway.storage.s3 import S3Backend

logger = logging.getLogger(__name__)

DEFAULT_SECRET_NAME = "lakegate_storage"

#: DuckDB credential_chain sources for managed identity, in the order that
#: Python's DefaultAzureCredential tries the same sources (azure-identity
#: 1.27), so DuckDB and adlfs pick the same identity.
MANAGED_IDENTITY_CHAIN = "env;workload_identity;managed_identity;cli"

_PUBLIC_BLOB_SUFFIX = "blob.core.windows.net"
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def secret_statements(backend: Backend, name: str = DEFAULT_SECRET_NAME) -> list[str]:
    """Return the statements that give DuckDB access to ``backend``'s root.

    A local backend needs none and gets ``[]``. Raise ValueError for a
    ``name`` that is not a plain SQL identifier, and ConfigurationError for
    Azure settings that DuckDB cannot express.
    """
    if not _SECRET_NAME.fullmatch(name):
        raise ValueError(f"DuckDB secret name {name!r} is not a plain identifier")
    if isinstance(backend, S3Backend):
        return [_create_secret(name, _s3_parameters(backend), backend.root_uri())]
    if isinstance(backend, AzureBackend):
        return [_create_secret(name, _azure_parameters(backend), backend.root_uri())]
    return []


def credential_expiry(backend: Backend) -> datetime | None:
    """Return when the credentials in ``backend``'s DuckDB secret expire (UTC), or None if never."""
    if not isinstance(backend, S3Backend):
        return None
    credentials = backend.credentials()
    # botocore 1.43 keeps the expiry of RefreshableCredentials only in this
    # attribute; static credentials have none.
    expiry = getattr(credentials, "_expiry_time", None)
    if not isinstance(expiry, datetime):
        return None
    return (
        expiry.replace(tzinfo=UTC) if expiry.tzinfo is None else expiry.astimezone(UTC)
    )


class SecretRefresher:
    """Re-create a backend's DuckDB secret ``lead_time`` before its credentials expire.

    ``execute`` runs one SQL statement on the DuckDB database. Secrets are
    database-wide, so any cursor of the database serves, but the call comes
    from the refresher's thread and must be safe there. ``lead_time`` must
    be shorter than botocore's 10-minute mandatory refresh window, or
    botocore still returns the old credentials at that time. After a failed
    refresh, the thread logs a warning and retries every ``min_interval``.
    """

    def __init__(
        self,
        backend: Backend,
        execute: Callable[[str], object],
        *,
        name: str = DEFAULT_SECRET_NAME,
        lead_time: timedelta = timedelta(minutes=5),
        min_interval: timedelta = timedelta(seconds=30),
        idle_interval: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.backend = backend
        self.name = name
        self.lead_time = lead_time
        self.min_interval = min_interval
        self.idle_interval = idle_interval
        self._execute = execute
        self._clock = clock
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> datetime | None:
        """Re-create the secret with current credentials; return their expiry (UTC) or None."""
        for statement in secret_statements(self.backend, self.name):
            self._execute(statement)
        expiry = credential_expiry(self.backend)
        logger.info(
            "re-created DuckDB secret %s for %s, credentials expire at %s",
            self.name,
            self.backend.description,
            expiry,
        )
        return expiry

    def seconds_until_refresh(self, expiry: datetime | None) -> float:
        """Return how long to wait before the next refresh, at least ``min_interval``.

        Credentials without expiry are checked again after ``idle_interval``.
        """
        if expiry is None:
            return self.idle_interval.total_seconds()
        remaining = expiry - self.lead_time - self._clock()
        return max(remaining, self.min_interval).total_seconds()

    def start(self) -> None:
        """Start the daemon thread that refreshes until stop() is called."""
        if self._thread is not None:
            raise RuntimeError("SecretRefresher was already started")
        self._thread = threading.Thread(
            target=self._run, name="lakegate-secret-refresher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it to end."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_running(self) -> bool:
        """Tell whether the refresh thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        expiry = credential_expiry(self.backend)
        while not self._stopped.wait(self.seconds_until_refresh(expiry)):
            if expiry is None:
                expiry = credential_expiry(self.backend)
                continue
            try:
                expiry = self.refresh()
            # The thread must survive any failure and retry, so it logs the error.
            except Exception as error:  # noqa: BLE001
                logger.warning(
                    "re-creating DuckDB secret %s for %s failed, retrying in %s: %s",
                    self.name,
                    self.backend.description,
                    self.min_interval,
                    mask_secrets(str(error)),
                )


def _s3_parameters(backend: S3Backend) -> list[tuple[str, str]]:
    parameters = [("TYPE", "s3")]
    credentials = backend.credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        parameters += [
            ("KEY_ID", quote_literal(frozen.access_key)),
            ("SECRET", quote_literal(frozen.secret_key)),
        ]
        if frozen.token:
            parameters.append(("SESSION_TOKEN", quote_literal(frozen.token)))

    parameters.append(("REGION", quote_literal(backend.region)))
    endpoint = backend.settings.endpoint_url
    if endpoint:
        parts = urlsplit(endpoint)
        host = parts.netloc + parts.path.rstrip("/")
        parameters.append(("ENDPOINT", quote_literal(host)))
        parameters.append(("USE_SSL", "true" if parts.scheme == "https" else "false"))
    parameters.append(
        ("URL_STYLE", quote_literal("path" if backend.settings.path_style else "vhost"))
    )
    return parameters


def _azure_parameters(backend: AzureBackend) -> list[tuple[str, str]]:
    access = backend.access
    if access.connection_string is not None:
        return [
            ("TYPE", "azure"),
            ("CONNECTION_STRING", quote_literal(access.connection_string)),
        ]

    account = access.account_name or ""
    parameters = [
        ("TYPE", "azure"),
        ("PROVIDER", "credential_chain"),
        ("CHAIN", quote_literal(MANAGED_IDENTITY_CHAIN)),
        ("ACCOUNT_NAME", quote_literal(account)),
    ]
    suffix = _endpoint_suffix(access.blob_endpoint, account, backend.description)
    if suffix != _PUBLIC_BLOB_SUFFIX:
        parameters.append(("ENDPOINT", quote_literal(suffix)))
    return parameters


def _endpoint_suffix(blob_endpoint: str, account: str, description: str) -> str:
    # DuckDB's credential_chain provider builds https://<account>.<ENDPOINT>,
    # so only endpoints of that shape can be expressed.
    parts = urlsplit(blob_endpoint)
    host = parts.hostname or ""
    if not host.startswith(f"{account}.") or parts.path.strip("/") or parts.port:
        raise ConfigurationError(
            f'blob endpoint "{blob_endpoint}" of "{description}" cannot be used with managed identity in DuckDB: '
            f"it must have the form https://{account}.<domain> with no port or path"
        )
    return host[len(account) + 1 :]


def _create_secret(name: str, parameters: list[tuple[str, str]], scope: str) -> str:
    body = ", ".join(
        f"{key} {value}"
        for key, value in [*parameters, ("SCOPE", quote_literal(scope))]
    )
    return f"CREATE OR REPLACE SECRET {name} ({body})"
