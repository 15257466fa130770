"""Settings of one gateway process, built once from flags and environment.

Modules receive a ``Settings`` (or the part they need); none of them reads
``os.environ`` on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Settings:
    """Everything a gateway process needs to start."""

    storage_url: str = "./data"
    host: str = "127.0.0.1"
    port: int = 5433
    #: Port of the InfluxDB-compatible HTTP write endpoint; None turns it off.
    http_port: int | None = 8086
    s3: S3Settings = field(default_factory=S3Settings)
    azure: AzureSettings = field(default_factory=AzureSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    log_level: str = "INFO"


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
) -> SecuritySettings:
    """Build security settings from flags and ``LAKEGATE_USERS``; raise ConfigurationError for half a TLS pair."""
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
    )
