"""Storage in an S3 bucket (AWS or an S3-compatible store) through s3fs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import botocore.session  # type: ignore[import-untyped]  # no botocore stubs installed
import s3fs  # type: ignore[import-untyped]  # s3fs ships no type information
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError  # type: ignore[import-untyped]
from botocore.exceptions import ConnectionError as BotoConnectionError
from fsspec.asyn import sync  # type: ignore[import-untyped]

from gateway.config import S3Settings
from gateway.errors import ConfigurationError, StorageError
from gateway.storage.check import unusable, verify_round_trip
from gateway.storage.fsspec_backend import FsspecBackend

#: Region used when neither the settings nor botocore's configuration name one.
DEFAULT_REGION = "us-east-1"

# Timeouts in seconds and total attempts per request (botocore "standard"
# retry mode). check() gives up on an endpoint that accepts no connection
# after 2 attempts of at most 3 seconds each, plus botocore's short backoff.
_CONNECT_TIMEOUT = 3
_READ_TIMEOUT = 60
_MAX_ATTEMPTS = 3
_CHECK_READ_TIMEOUT = 10
_CHECK_MAX_ATTEMPTS = 2

_CREDENTIAL_ERRORS = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
    }
)
_REGION_ERRORS = frozenset(
    {
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "IllegalLocationConstraintException",
    }
)


class S3Backend(FsspecBackend):
    """Objects under ``s3://<bucket>/<prefix>/``.

    Credentials are the settings' access key, secret and session token when
    given, else botocore's default chain (environment, profile, SSO, web
    identity, container or instance role). With the default chain, s3fs's
    aiobotocore client refreshes temporary credentials on its own, and
    ``credentials()`` returns botocore's RefreshableCredentials, which
    refresh when read close to expiry, for the DuckDB secret.
    """

    scheme = "s3"
    delete_batch_size = 1000  # the DeleteObjects limit

    def __init__(self, bucket: str, prefix: str, settings: S3Settings) -> None:
        if settings.access_key_id and not settings.secret_access_key:
            raise ConfigurationError(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither"
            )
        self.settings = settings
        self._session = botocore.session.Session()
        self.region: str = (
            settings.region
            or self._session.get_config_variable("region")
            or DEFAULT_REGION
        )
        fs = s3fs.S3FileSystem(**_s3fs_options(settings, self.region))
        super().__init__(fs, bucket, prefix)

    def credentials(self) -> Credentials | None:
        """Return the credentials to give DuckDB, or None when none are configured.

        The object may be botocore's RefreshableCredentials: read it with
        ``get_frozen_credentials()`` for a consistent key, secret and token.
        """
        if self.settings.access_key_id:
            return Credentials(
                self.settings.access_key_id,
                self.settings.secret_access_key,
                self.settings.session_token,
            )
        credentials: Credentials | None = self._session.get_credentials()
        return credentials

    def secret_values(self) -> list[str | None]:
        """Return the credential values that messages must never contain."""
        return [self.settings.secret_access_key, self.settings.session_token]

    def check(self) -> None:
        """Verify that the bucket exists and the credentials can write, list and delete under the prefix.

        Raise ConfigurationError for a missing bucket, rejected or missing
        credentials, a wrong region, or an unreachable endpoint.
        """
        client = self._check_client()
        try:
            client.list_objects_v2(
                Bucket=self.bucket,
                Prefix=f"{self.prefix}/" if self.prefix else "",
                MaxKeys=1,
            )
        except ClientError as error:
            raise unusable(
                self.description, self._client_error_reason(error), self.secret_values()
            ) from error
        except NoCredentialsError as error:
            reason = (
                "no AWS credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or configure a profile or role"
            )
            raise unusable(self.description, reason, self.secret_values()) from error
        except (BotoConnectionError, HTTPClientError) as error:
            reason = f"cannot connect to {self._endpoint_name()}: {error}; check AWS_ENDPOINT_URL and the network"
            raise unusable(self.description, reason, self.secret_values()) from error
        verify_round_trip(self, self.secret_values())

    def _delete_chunk(self, full_paths: Sequence[str]) -> None:
        keys = [{"Key": self._key(path)} for path in full_paths]
        response = sync(self.fs.loop, self._delete_objects, keys)

        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f'deleting {len(errors)} of {len(keys)} objects from "{self.description}" failed',
                detail=f'first failure: {first.get("Code")} on "{first.get("Key")}": {first.get("Message")}',
            )

    async def _delete_objects(self, keys: list[dict[str, str]]) -> dict[str, Any]:
        client = await self.fs.set_session()
        response: dict[str, Any] = await client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
        )
        return response

    async def _create_object(self, key: str, data: bytes) -> bool:
        client = await self.fs.set_session()
        try:
            await client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def _key(self, full_path: str) -> str:
        return full_path[len(self.bucket) + 1 :]

    def _check_client(self) -> Any:
        config = Config(
            connect_timeout=_CONNECT_TIMEOUT,
            read_timeout=_CHECK_READ_TIMEOUT,
            retries={"max_attempts": _CHECK_MAX_ATTEMPTS, "mode": "standard"},
            s3={"addressing_style": "path" if self.settings.path_style else "auto"},
        )
        return self._session.create_client(
            "s3",
            region_name=self.region,
            endpoint_url=self.settings.endpoint_url,
            aws_access_key_id=self.settings.access_key_id,
            aws_secret_access_key=self.settings.secret_access_key,
            aws_session_token=self.settings.session_token,
            config=config,
        )

    def _client_error_reason(self, error: ClientError) -> str:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or status == 404:
            return f'bucket "{self.bucket}" does not exist; create it or fix --storage'
        if code in _CREDENTIAL_ERRORS:
            return f"the S3 credentials were rejected ({code}); fix AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
        if code in _REGION_ERRORS:
            return f'bucket "{self.bucket}" is not in region "{self.region}" ({code}); set AWS_REGION to the bucket\'s region'
        if code == "AccessDenied" or status == 403:
            return f'access to bucket "{self.bucket}" was denied ({code or status}); grant s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject'
        return f"S3 returned {code or status}: {error}"

    def _endpoint_name(self) -> str:
        if self.settings.endpoint_url:
            return f'the S3 endpoint "{self.settings.endpoint_url}"'
        return f'the AWS S3 endpoint of region "{self.region}"'


def _s3fs_options(settings: S3Settings, region: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "connect_timeout": _CONNECT_TIMEOUT,
        "read_timeout": _READ_TIMEOUT,
        "retries": {"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    }
    if settings.path_style:
        config["s3"] = {"addressing_style": "path"}

    options: dict[str, Any] = {
        "endpoint_url": settings.endpoint_url,
        "client_kwargs": {"region_name": region},
        "config_kwargs": config,
        "skip_instance_cache": True,
        "use_listings_cache": False,
    }
    if settings.access_key_id:
        options["key"] = settings.access_key_id
        options["secret"] = settings.secret_access_key
        options["token"] = settings.session_token
    return options
