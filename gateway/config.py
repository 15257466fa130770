"""Settings of one gateway process, built once from flags and environment.

Modules receive a ``Settings`` (or the part they need); none of them reads
``os.environ`` on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from gateway.errors import ConfigurationError


@dataclass(frozen=True)
class S3Settings:
    """Connection settings for an S3 or S3-compatible store."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    path_style: bool = False


@dataclass(frozen=True)
class AzureSettings:
    """Connection settings for Azure Blob Storage (or Azurite)."""

    connection_string: str | None = None
    account_name: str | None = None
    account_key: str | None = None
    sas_token: str | None = None
    endpoint: str | None = None
    auth: str = "auto"  # "auto" or "managed-identity"


@dataclass(frozen=True)
class SecuritySettings:
    """TLS files, users and the authentication method of the listening server."""

    tls_cert: str | None = None
    tls_key: str | None = None
    users_file: str | None = None
    # The value of LAKEGATE_USERS: users in the users-file format. It may
    # contain plaintext passwords, so it stays out of repr().
    users_text: str | None = field(default=None, repr=False)
    auth_method: str = "scram-sha-256"  # "scram-sha-256" or "md5"
    allow_remote_trust: bool = False
    #: Tokens of the HTTP write endpoint: a file, and the comma-separated value of LAKEGATE_HTTP_TOKENS.
    http_tokens_file: str | None = None
    http_tokens_text: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WriterSettings:
    """The buffered writer's flush limits and write-ahead log.

    ``wal_sync="always"`` fsyncs the log before every acknowledgement.
    ``"interval"`` fsyncs every ``wal_sync_interval`` seconds, which is
    faster, but an operating-system crash or power loss can then lose the
    writes of the last interval. A crash of the gateway process alone
    cannot. ``wal_dir`` None means the default place (see runtime.py).
    """

    wal_dir: str | None = None
    wal_sync: str = "always"
    wal_sync_interval: float = 1.0
    flush_rows: int = 100_000
    flush_bytes: int = 64 * 1024 * 1024
    flush_age: float = 5.0
    buffer_memory: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything a gateway process needs to start."""

    storage_url: str = "./data"
    host: str = "127.0.0.1"
    port: int = 5433
    #: Port of the InfluxDB-compatible HTTP write endpoint; None turns it off.
    http_port: int | None = 8086
    #: Maximum size in bytes of an HTTP write body, as sent or after gzip decompression (413 above it).
    http_max_body_bytes: int = 64 * 1024 * 1024
    #: Maximum length in UTF-8 bytes of a line of an HTTP write; a longer one is an invalid line.
    http_max_line_bytes: int = 1024 * 1024
    #: Seconds an HTTP client may send nothing, between requests or within one, before it is disconnected.
    http_idle_timeout: float = 60.0
    s3: S3Settings = field(default_factory=S3Settings)
    azure: AzureSettings = field(default_factory=AzureSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    writer: WriterSettings = field(default_factory=WriterSettings)
    log_level: str = "INFO"
    #: Most rows one DELETE may remove; a DELETE matching more is rejected before it changes anything.
    delete_max_rows: int = 10_000_000
    #: Maximum rows of one INSERT; a larger one is rejected (54000) before anything is buffered.
    #: An INSERT is held whole in memory as one Arrow table, so this bounds one statement's memory.
    insert_max_rows: int = 1_000_000
    #: How long the old version of a file a DELETE rewrote stays for queries that listed it before.
    superseded_grace: timedelta = timedelta(minutes=10)
    #: Seconds queries reuse a listing of an S3 or Azure store; this process's own writes end it at once.
    listing_cache_ttl: float = 1.0
    #: Time between two scheduled runs of the active retention policies.
    retention_interval: timedelta = timedelta(hours=1)
    #: Time between two checks for continuous queries with a complete window to process.
    continuous_query_interval: timedelta = timedelta(minutes=1)
    #: Client sessions served at once; one more gets SQLSTATE 53300 after its startup packet.
    max_connections: int = 100
    #: Default of each session's statement_timeout, in milliseconds; 0 means none.
    statement_timeout_ms: int = 0
    #: Default of each session's idle_session_timeout, in milliseconds; 0 means none.
    idle_session_timeout_ms: int = 0


def s3_settings_from_env(
    env: Mapping[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    path_style: bool | None = None,
) -> S3Settings:
    """Build S3 settings from the standard AWS variables; explicit values win."""
    env = os.environ if env is None else env
    endpoint = endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    # A custom endpoint (MinIO, moto, Ceph) almost always needs path-style URLs.
    default_path_style = endpoint is not None
    return S3Settings(
        endpoint_url=endpoint,
        region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        session_token=env.get("AWS_SESSION_TOKEN"),
        path_style=default_path_style if path_style is None else path_style,
    )


def azure_settings_from_env(
    env: Mapping[str, str] | None = None,
    *,
    endpoint: str | None = None,
    auth: str = "auto",
) -> AzureSettings:
    """Build Azure settings from the ``AZURE_STORAGE_*`` variables."""
    env = os.environ if env is None else env
    return AzureSettings(
        connection_string=env.get("AZURE_STORAGE_CONNECTION_STRING"),
        account_name=env.get("AZURE_STORAGE_ACCOUNT_NAME"),
        account_key=env.get("AZURE_STORAGE_ACCOUNT_KEY"),
        sas_token=env.get("AZURE_STORAGE_SAS_TOKEN"),
        endpoint=endpoint or env.get("AZURE_STORAGE_BLOB_ENDPOINT"),
        auth=auth,
    )


def security_settings_from_env(
    env: Mapping[str, str] | None = None,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    users_file: str | None = None,
    auth_method: str = "scram-sha-256",
    allow_remote_trust: bool = False,
    http_tokens_file: str | None = None,
) -> SecuritySettings:
    """Build security settings from flags, ``LAKEGATE_USERS`` and ``LAKEGATE_HTTP_TOKENS``.

    Raises ConfigurationError for half a TLS pair.
    """
    env = os.environ if env is None else env
    if (tls_cert is None) != (tls_key is None):
        raise ConfigurationError("--tls-cert and --tls-key must be given together")
    return SecuritySettings(
        tls_cert=tls_cert,
        tls_key=tls_key,
        users_file=users_file,
        users_text=env.get("LAKEGATE_USERS"),
        auth_method=auth_method,
        allow_remote_trust=allow_remote_trust,
        http_tokens_file=http_tokens_file,
        http_tokens_text=env.get("LAKEGATE_HTTP_TOKENS"),
    )


def read_settings_file(path: str, description: str, flag: str) -> str:
    """Return the text of a file a flag names, such as the users file; raise ConfigurationError if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{description} {path} does not exist; check {flag}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{description} {path} is not valid UTF-8") from None
    except OSError as error:
        raise ConfigurationError(f"cannot read {description} {path}: {error.strerror or error}") from None
