"""Storage in an Azure Blob Storage container (or Azurite) through adlfs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import adlfs  # type: ignore[import-untyped]  # adlfs ships no type information
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.identity import CredentialUnavailableError, DefaultAzureCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from azure.storage.blob import ContainerClient, LinearRetry
from fsspec.asyn import sync  # type: ignore[import-untyped]  # fsspec ships no type information

from gateway.config import AzureSettings
from gateway.errors import ConfigurationError, StorageError
from gateway.storage.check import unusable, verify_round_trip
from gateway.storage.fsspec_backend import FsspecBackend
from gateway.storage.masking import mask_secrets

AUTH_AUTO = "auto"
AUTH_MANAGED_IDENTITY = "managed-identity"

# Blob batch status codes: 202 deleted, 404 already missing.
_DELETED_STATUSES = frozenset({202, 404})
# check() retries once, a second later, and waits at most 3 seconds for each connection.
_CHECK_CONNECT_TIMEOUT = 3
_CHECK_READ_TIMEOUT = 10
_CREDENTIAL_ERRORS = frozenset(
    {"AuthenticationFailed", "AuthorizationFailure", "InvalidAuthenticationInfo"}
)


@dataclass(frozen=True)
class AzureAccess:
    """Credentials through which adlfs and DuckDB both reach one storage account.

    ``connection_string`` is None for managed identity. Otherwise it is the
    string from the settings, or one built from them in a form that both
    adlfs and DuckDB's azure extension accept.
    """

    blob_endpoint: str
    account_name: str | None
    connection_string: str | None

    @property
    def managed_identity(self) -> bool:
        """Whether tokens come from DefaultAzureCredential instead of a connection string."""
        return self.connection_string is None


def azure_access(settings: AzureSettings, description: str) -> AzureAccess:
    """Choose the credentials from ``settings`` and build the access description.

    Order: connection string; account name with SAS token; account name
    with account key; DefaultAzureCredential when ``settings.auth`` is
    ``managed-identity``. ``settings.endpoint`` replaces the public
    ``https://<account>.blob.core.windows.net``. Raise ConfigurationError
    naming ``description`` when no credentials fit.
    """
    if settings.auth not in (AUTH_AUTO, AUTH_MANAGED_IDENTITY):
        raise ConfigurationError(
            f'invalid Azure auth "{settings.auth}": use "auto" or "managed-identity"'
        )

    if settings.connection_string:
        return _access_from_connection_string(
            settings.connection_string, settings.endpoint, description
        )
    if settings.sas_token:
        endpoint = _blob_endpoint(settings, description)
        sas = settings.sas_token.lstrip("?")
        return AzureAccess(
            endpoint,
            settings.account_name,
            f"BlobEndpoint={endpoint};SharedAccessSignature={sas}",
        )
    if settings.account_key:
        account = _required_account_name(
            settings, description, "AZURE_STORAGE_ACCOUNT_KEY"
        )
        endpoint = _blob_endpoint(settings, description)
        protocol = urlsplit(endpoint).scheme
        connection_string = (
            f"DefaultEndpointsProtocol={protocol};AccountName={account};"
            f"AccountKey={settings.account_key};BlobEndpoint={endpoint}"
        )
        return AzureAccess(endpoint, account, connection_string)
    if settings.auth == AUTH_MANAGED_IDENTITY:
        return _managed_identity_access(settings, description)

    raise ConfigurationError(
        f'no Azure credentials for "{description}": set AZURE_STORAGE_CONNECTION_STRING, '
        "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_ACCOUNT_KEY, "
        "or use --azure-auth managed-identity"
    )


class AzureBackend(FsspecBackend):
    """Objects under ``az://<container>/<prefix>/``.

    With managed identity, adlfs uses an azure.identity DefaultAzureCredential,
    which fetches a new token before the old one expires, so the filesystem
    needs no refreshing from outside.
    """

    scheme = "az"
    delete_batch_size = 256  # the blob batch limit of the Blob service

    def __init__(self, container: str, prefix: str, settings: AzureSettings) -> None:
        description = f"az://{container}/{prefix}".rstrip("/")
        self.settings = settings
        self.access = azure_access(settings, description)
        try:
            fs = adlfs.AzureBlobFileSystem(**_adlfs_options(self.access))
        except ValueError as error:
            message = f'invalid Azure settings for "{description}": {error}'
            raise ConfigurationError(
                mask_secrets(message, self.secret_values())
            ) from error
        super().__init__(fs, container, prefix)

    def secret_values(self) -> list[str | None]:
        """Return the credential values that messages must never contain."""
        return [
            self.settings.account_key,
            self.settings.sas_token,
            self.settings.connection_string,
        ]

    def check(self) -> None:
        """Verify that the container exists and the credentials can write, list and delete under the prefix.

        Raise ConfigurationError for a missing container, rejected
        credentials, missing permissions, no managed identity, or an
        unreachable endpoint.
        """
        credential = DefaultAzureCredential() if self.access.managed_identity else None
        container = self._check_client(credential)
        try:
            pages = container.list_blobs(
                name_starts_with=f"{self.prefix}/" if self.prefix else None,
                results_per_page=1,
            )
            next(iter(pages.by_page()), None)
        except (AzureError, CredentialUnavailableError) as error:
            raise unusable(
                self.description, self._error_reason(error), self.secret_values()
            ) from error
        finally:
            container.close()
            if credential is not None:
                credential.close()
        verify_round_trip(self, self.secret_values())

    def _delete_chunk(self, full_paths: Sequence[str]) -> None:
        keys = [path[len(self.bucket) + 1 :] for path in full_paths]
        statuses = sync(self.fs.loop, self._delete_blobs, keys)

        failures = [
            (key, status)
            for key, status in zip(keys, statuses, strict=True)
            if status not in _DELETED_STATUSES
        ]
        if failures:
            key, status = failures[0]
            raise StorageError(
                f'deleting {len(failures)} of {len(keys)} objects from "{self.description}" failed',
                detail=f'first failure: HTTP status {status} on "{key}"',
            )

    async def _delete_blobs(self, keys: list[str]) -> list[int]:
        async with self.fs.service_client.get_container_client(
            self.bucket
        ) as container:
            responses = await container.delete_blobs(*keys, raise_on_any_failure=False)
            return [response.status_code async for response in responses]

    async def _create_object(self, key: str, data: bytes) -> bool:
        blob = self.fs.service_client.get_blob_client(self.bucket, key)
        try:
            await blob.upload_blob(data, overwrite=False)
        except ResourceExistsError:
            return False
        return True

    def _check_client(
        self, credential: DefaultAzureCredential | None
    ) -> ContainerClient:
        options: dict[str, Any] = {
            "retry_policy": LinearRetry(
                backoff=1, random_jitter_range=0, retry_total=1
            ),
            "connection_timeout": _CHECK_CONNECT_TIMEOUT,
            "read_timeout": _CHECK_READ_TIMEOUT,
        }
        if self.access.connection_string is not None:
            return ContainerClient.from_connection_string(
                self.access.connection_string, self.bucket, **options
            )
        return ContainerClient(
            self.access.blob_endpoint, self.bucket, credential=credential, **options
        )

    def _error_reason(self, error: Exception) -> str:
        summary = str(error).splitlines()[0] if str(error) else type(error).__name__
        # azure-storage-blob reports some codes as StorageErrorCode members, others as strings.
        raw_code = getattr(error, "error_code", None)
        code = (
            str(getattr(raw_code, "value", raw_code)) if raw_code is not None else None
        )
        if isinstance(error, ResourceNotFoundError) and code == "ContainerNotFound":
            return (
                f'container "{self.bucket}" does not exist; create it or fix --storage'
            )
        if isinstance(error, ServiceRequestError):
            return f'cannot connect to the blob endpoint "{self.access.blob_endpoint}": {summary}; check --azure-endpoint, the account name and the network'
        if isinstance(error, CredentialUnavailableError) or (
            isinstance(error, ClientAuthenticationError) and error.status_code is None
        ):
            return f"no Azure token could be obtained: {summary}; check the managed identity"
        if not isinstance(error, HttpResponseError):
            return f"the request to Azure Blob Storage failed: {summary}"
        if code in _CREDENTIAL_ERRORS:
            return f"the Azure credentials were rejected ({code}); fix the account key, SAS token or connection string"
        if error.status_code == 403:
            return f'access to container "{self.bucket}" was denied ({code}); grant read, write, list and delete on it'
        return f"Azure Blob Storage returned {code or error.status_code}: {summary}"


def _access_from_connection_string(
    connection_string: str, endpoint: str | None, description: str
) -> AzureAccess:
    fields = _connection_string_fields(connection_string)
    account = fields.get("AccountName")
    given_endpoint = fields.get("BlobEndpoint")
    if (
        endpoint
        and given_endpoint
        and given_endpoint.rstrip("/") != endpoint.rstrip("/")
    ):
        raise ConfigurationError(
            f'the Azure connection string for "{description}" names blob endpoint "{given_endpoint}" '
            f'but --azure-endpoint is "{endpoint}"; give only one of them'
        )
    if endpoint and not given_endpoint:
        _check_endpoint(endpoint, description)
        connection_string = (
            f"{connection_string.rstrip(';')};BlobEndpoint={endpoint.rstrip('/')}"
        )
        given_endpoint = endpoint
    if not given_endpoint:
        protocol = fields.get("DefaultEndpointsProtocol", "https")
        suffix = fields.get("EndpointSuffix", "core.windows.net")
        given_endpoint = f"{protocol}://{account}.blob.{suffix}"
    return AzureAccess(given_endpoint.rstrip("/"), account, connection_string)


def _connection_string_fields(connection_string: str) -> dict[str, str]:
    fields = {}
    for part in connection_string.split(";"):
        name, separator, value = part.partition("=")
        if separator:
            fields[name.strip()] = value.strip()
    return fields


def _managed_identity_access(settings: AzureSettings, description: str) -> AzureAccess:
    _required_account_name(settings, description, "--azure-auth managed-identity")
    endpoint = _blob_endpoint(settings, description)
    # Azure SDKs send bearer tokens over TLS only.
    if urlsplit(endpoint).scheme != "https":
        raise ConfigurationError(
            f'managed identity for "{description}" needs an https blob endpoint, not "{endpoint}"'
        )
    return AzureAccess(endpoint, settings.account_name, None)


def _blob_endpoint(settings: AzureSettings, description: str) -> str:
    if settings.endpoint:
        _check_endpoint(settings.endpoint, description)
        return settings.endpoint.rstrip("/")
    account = _required_account_name(settings, description, "the public blob endpoint")
    return f"https://{account}.blob.core.windows.net"


def _check_endpoint(endpoint: str, description: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f'invalid Azure blob endpoint "{endpoint}" for "{description}": '
            "use a URL such as https://<account>.blob.core.windows.net"
        )


def _required_account_name(
    settings: AzureSettings, description: str, needed_by: str
) -> str:
    if not settings.account_name:
        raise ConfigurationError(
            f'AZURE_STORAGE_ACCOUNT_NAME is not set for "{description}" but {needed_by} requires it'
        )
    return settings.account_name


def _adlfs_options(access: AzureAccess) -> dict[str, Any]:
    options: dict[str, Any] = {
        "skip_instance_cache": True,
        "use_listings_cache": False,
        "anon": False,
    }
    if access.connection_string is not None:
        options["connection_string"] = access.connection_string
        return options

    options["account_name"] = access.account_name
    options["credential"] = AsyncDefaultAzureCredential()
    # adlfs builds the account URL as https://<account_host>.
    options["account_host"] = access.blob_endpoint.removeprefix("https://")
    return options
