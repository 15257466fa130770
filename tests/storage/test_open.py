"""Storage URLs, settings, start-up checks, credential masking and DuckDB secrets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from botocore.credentials import ReadOnlyCredentials

from gateway.config import AzureSettings, S3Settings, Settings
from gateway.errors import ConfigurationError
from gateway.storage.azure import AzureBackend
from gateway.storage.duckdb_extensions import load_statements, quote_literal
from gateway.storage.duckdb_secrets import (
    SecretRefresher,
    credential_expiry,
    secret_statements,
)
from gateway.storage.local import LocalBackend
from gateway.storage.open import (
    StorageLocation,
    mask_secrets,
    open_backend,
    parse_storage_url,
)
from gateway.storage.s3 import S3Backend
from tests.emulators import (
    AZURITE_ACCOUNT,
    AZURITE_ACCOUNT_KEY,
    MOTO_SECRET_ACCESS_KEY,
    StorageTarget,
    free_port,
    moto_s3_settings,
    start_moto,
)
from tests.storage.test_contract import parquet_bytes

# A wrong endpoint must fail start-up within seconds, not minutes.
_MAX_CHECK_SECONDS = 15.0

# ---------------------------------------------------------------- URL parsing


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/var/lib/lakegate", StorageLocation("local", path="/var/lib/lakegate")),
        ("/var/lib/lakegate/", StorageLocation("local", path="/var/lib/lakegate")),
        ("file:///srv/lake", StorageLocation("local", path="/srv/lake")),
        ("file://localhost/srv/lake", StorageLocation("local", path="/srv/lake")),
        ("file:///srv/my%20lake", StorageLocation("local", path="/srv/my lake")),
        ("s3://bucket", StorageLocation("s3", bucket="bucket")),
        ("s3://bucket/", StorageLocation("s3", bucket="bucket")),
        (
            "s3://bucket/some/prefix",
            StorageLocation("s3", bucket="bucket", prefix="some/prefix"),
        ),
        (
            "s3://bucket/some/prefix/",
            StorageLocation("s3", bucket="bucket", prefix="some/prefix"),
        ),
        ("S3://my.bucket-1/p", StorageLocation("s3", bucket="my.bucket-1", prefix="p")),
        ("az://container", StorageLocation("azure", bucket="container")),
        (
            "az://container/a/b/c",
            StorageLocation("azure", bucket="container", prefix="a/b/c"),
        ),
        (
            "abfs://container/a",
            StorageLocation("azure", bucket="container", prefix="a"),
        ),
        ("  s3://bucket/p  ", StorageLocation("s3", bucket="bucket", prefix="p")),
    ],
)
def test_parse_storage_url(url: str, expected: StorageLocation) -> None:
    assert parse_storage_url(url) == expected


def test_parse_relative_path_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert parse_storage_url("data") == StorageLocation(
        "local", path=str(tmp_path / "data")
    )


_FORMS = "a directory, file:///absolute/path, s3://bucket[/prefix] or az://container[/prefix]"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", f"storage URL is empty; give {_FORMS}"),
        (
            "gs://bucket",
            f'invalid storage URL "gs://bucket": scheme "gs" is not supported; use {_FORMS}',
        ),
        (
            "http://host/x",
            f'invalid storage URL "http://host/x": scheme "http" is not supported; use {_FORMS}',
        ),
        (
            "s3://",
            'invalid storage URL "s3://": the bucket name is empty; use s3://bucket[/prefix]',
        ),
        (
            "s3:///prefix",
            'invalid storage URL "s3:///prefix": the bucket name is empty; use s3://bucket[/prefix]',
        ),
        (
            "az://",
            'invalid storage URL "az://": the container name is empty; use az://container[/prefix]',
        ),
        (
            "s3://Bucket",
            (
                'invalid storage URL "s3://Bucket": bucket name "Bucket" is invalid; use 3-63 lowercase letters, '
                "digits, dots and hyphens, starting and ending with a letter or digit"
            ),
        ),
        (
            "s3://ab",
            (
                'invalid storage URL "s3://ab": bucket name "ab" is invalid; use 3-63 lowercase letters, '
                "digits, dots and hyphens, starting and ending with a letter or digit"
            ),
        ),
        (
            "az://a--b",
            (
                'invalid storage URL "az://a--b": container name "a--b" is invalid; use 3-63 lowercase letters, '
                "digits and single hyphens, starting and ending with a letter or digit"
            ),
        ),
        (
            "s3://bucket/a//c",
            "invalid storage URL \"s3://bucket/a//c\": the prefix has an empty, '.' or '..' component",
        ),
        (
            "s3://bucket/a/../c",
            "invalid storage URL \"s3://bucket/a/../c\": the prefix has an empty, '.' or '..' component",
        ),
        (
            "file://host/x",
            'invalid storage URL "file://host/x": file URLs cannot name a host ("host"); use file:///absolute/path',
        ),
        (
            "s3://AKIAEXAMPLE:verysecretvalue@bucket/x",
            (
                'invalid storage URL "s3://AKIAEXAMPLE:***@bucket/x": it contains user information; '
                "pass credentials through the environment"
            ),
        ),
        (
            "az://container/p?sv=2024&sig=verysecretvalue",
            (
                'invalid storage URL "az://container/p?sv=2024&sig=***": it has a query string or fragment; '
                "pass credentials through the environment"
            ),
        ),
    ],
)
def test_parse_rejects_bad_url(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        parse_storage_url(url)

    assert str(excinfo.value) == message
    assert "verysecretvalue" not in str(excinfo.value)


# ---------------------------------------------------------------- opening


def test_open_local_creates_directory(tmp_path: Path) -> None:
    root = tmp_path / "new" / "store"

    backend = open_backend(f"file://{root}", Settings())

    assert isinstance(backend, LocalBackend)
    assert root.is_dir()
    assert backend.root_uri() == f"{root}/"


def test_open_s3_with_multi_level_prefix(moto_endpoint: str) -> None:
    backend = open_backend(
        "s3://some-bucket/a/b/c/", Settings(s3=moto_s3_settings(moto_endpoint))
    )

    assert isinstance(backend, S3Backend)
    assert backend.description == "s3://some-bucket/a/b/c"
    assert backend.root_uri() == "s3://some-bucket/a/b/c/"


def test_open_abfs_as_azure() -> None:
    settings = Settings(
        azure=AzureSettings(
            account_name=AZURITE_ACCOUNT,
            account_key=AZURITE_ACCOUNT_KEY,
            endpoint="http://127.0.0.1:1/x",
        )
    )

    backend = open_backend("abfs://container/p", settings)

    assert isinstance(backend, AzureBackend)
    assert backend.root_uri() == "az://container/p/"


def test_open_azure_without_credentials() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        open_backend("az://container/p", Settings())

    assert str(excinfo.value) == (
        'no Azure credentials for "az://container/p": set AZURE_STORAGE_CONNECTION_STRING, '
        "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_ACCOUNT_KEY, "
        "or use --azure-auth managed-identity"
    )


def test_open_s3_key_without_secret() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        open_backend(
            "s3://bucket",
            Settings(
                s3=S3Settings(
                    endpoint_url="http://127.0.0.1:1", access_key_id="AKIAONLY"
                )
            ),
        )

    assert (
        str(excinfo.value)
        == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither"
    )


def test_managed_identity_needs_https_endpoint() -> None:
    settings = AzureSettings(
        account_name="acct", endpoint="http://127.0.0.1:1/acct", auth="managed-identity"
    )

    with pytest.raises(ConfigurationError) as excinfo:
        AzureBackend("container", "p", settings)

    assert str(excinfo.value) == (
        'managed identity for "az://container/p" needs an https blob endpoint, not "http://127.0.0.1:1/acct"'
    )


# ---------------------------------------------------------------- check() failures


def _check_error(backend: Any) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as excinfo:
        backend.check()
    return str(excinfo.value), time.monotonic() - started


def test_check_s3_missing_bucket(moto_endpoint: str) -> None:
    backend = open_backend(
        "s3://lakegate-no-such-bucket/p", Settings(s3=moto_s3_settings(moto_endpoint))
    )

    message, _ = _check_error(backend)

    assert message == (
        'storage "s3://lakegate-no-such-bucket/p" is not usable: '
        'bucket "lakegate-no-such-bucket" does not exist; create it or fix --storage'
    )


def test_check_s3_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    backend = open_backend("s3://bucket/p", Settings(s3=moto_s3_settings(endpoint)))

    message, seconds = _check_error(backend)

    assert message.startswith(
        f'storage "s3://bucket/p" is not usable: cannot connect to the S3 endpoint "{endpoint}": '
    )
    assert message.endswith("; check AWS_ENDPOINT_URL and the network")
    assert MOTO_SECRET_ACCESS_KEY not in message
    assert seconds < _MAX_CHECK_SECONDS


@pytest.fixture(scope="module")
def moto_with_iam_checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server that checks credentials against its IAM state, where no user exists."""
    service, endpoint = start_moto(
        tmp_path_factory.mktemp("moto-iam"), {"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    )
    yield endpoint
    service.stop()


def test_check_s3_rejected_credentials(moto_with_iam_checks: str) -> None:
    backend = open_backend(
        "s3://bucket/p", Settings(s3=moto_s3_settings(moto_with_iam_checks))
    )

    message, _ = _check_error(backend)

    assert message == (
        'storage "s3://bucket/p" is not usable: the S3 credentials were rejected (InvalidAccessKeyId); '
        "fix AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
    )


def test_check_azure_missing_container(
    azurite_endpoint: str, make_settings: Callable[..., Settings]
) -> None:
    backend = open_backend(
        "az://lakegate-no-such-container/p",
        make_settings("az://lakegate-no-such-container/p"),
    )

    message, _ = _check_error(backend)

    assert message == (
        'storage "az://lakegate-no-such-container/p" is not usable: '
        'container "lakegate-no-such-container" does not exist; create it or fix --storage'
    )
    assert AZURITE_ACCOUNT_KEY not in message


def test_check_azure_wrong_key(azure_storage_url: StorageTarget) -> None:
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    azure = AzureSettings(
        account_name=AZURITE_ACCOUNT,
        account_key=wrong_key,
        endpoint=azure_storage_url.settings.azure.endpoint,
    )
    backend = open_backend(azure_storage_url.url, Settings(azure=azure))

    message, _ = _check_error(backend)

    assert message == (
        f'storage "{azure_storage_url.url}" is not usable: the Azure credentials were rejected '
        "(AuthorizationFailure); fix the account key, SAS token or connection string"
    )
    assert wrong_key not in message


def test_check_azure_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}"
    azure = AzureSettings(
        account_name=AZURITE_ACCOUNT, account_key=AZURITE_ACCOUNT_KEY, endpoint=endpoint
    )
    backend = open_backend("az://container/p", Settings(azure=azure))

    message, seconds = _check_error(backend)

    assert message.startswith(
        f'storage "az://container/p" is not usable: cannot connect to the blob endpoint "{endpoint}": '
    )
    assert message.endswith(
        "; check --azure-endpoint, the account name and the network"
    )
    assert AZURITE_ACCOUNT_KEY not in message
    assert seconds < _MAX_CHECK_SECONDS


# ---------------------------------------------------------------- other Azure credentials


def _container_sas(container: str) -> str:
    permission = ContainerSasPermissions(read=True, write=True, delete=True, list=True)
    expiry = datetime.now(UTC) + timedelta(hours=1)
    return generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=AZURITE_ACCOUNT_KEY,
        permission=permission,
        expiry=expiry,
    )


@pytest.fixture
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    for statement in load_statements():
        connection.execute(statement)
    yield connection
    connection.close()


def _duckdb_count(
    connection: duckdb.DuckDBPyConnection, backend: Any, path: str
) -> Any:
    for statement in secret_statements(backend):
        connection.execute(statement)
    return connection.execute(
        f"SELECT count(*) FROM read_parquet({quote_literal(backend.uri(path))})"
    ).fetchone()


def test_azure_sas_token_serves_adlfs_and_duckdb(
    azure_storage_url: StorageTarget, duckdb_connection: duckdb.DuckDBPyConnection
) -> None:
    import pyarrow as pa

    sas = _container_sas(azure_storage_url.bucket)
    azure = AzureSettings(
        account_name=AZURITE_ACCOUNT,
        sas_token=sas,
        endpoint=azure_storage_url.settings.azure.endpoint,
    )
    backend = open_backend(azure_storage_url.url, Settings(azure=azure))

    backend.check()
    backend.write("db/m/f.parquet", parquet_bytes(pa.table({"x": [1, 2]})))

    assert backend.list("") == ["db/m/f.parquet"]
    assert _duckdb_count(duckdb_connection, backend, "db/m/f.parquet") == (2,)


def test_azure_connection_string_serves_adlfs_and_duckdb(
    azure_storage_url: StorageTarget, duckdb_connection: duckdb.DuckDBPyConnection
) -> None:
    import pyarrow as pa

    endpoint = azure_storage_url.settings.azure.endpoint
    connection_string = f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_ACCOUNT_KEY};BlobEndpoint={endpoint}"
    backend = open_backend(
        azure_storage_url.url,
        Settings(azure=AzureSettings(connection_string=connection_string)),
    )

    backend.check()
    backend.write("db/m/f.parquet", parquet_bytes(pa.table({"x": [1, 2, 3]})))

    assert _duckdb_count(duckdb_connection, backend, "db/m/f.parquet") == (3,)


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+/def==;EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net",
        ),
        (
            "BlobEndpoint=https://h/;SharedAccessSignature=sv=2024&sig=abc%2B",
            "BlobEndpoint=https://h/;SharedAccessSignature=***",
        ),
        (
            "GET https://acct.blob.core.windows.net/c/b?sv=2024&sig=abc%2Bdef&se=x",
            "GET https://acct.blob.core.windows.net/c/b?sv=2024&sig=***&se=x",
        ),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG",
            "aws_secret_access_key = ***",
        ),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG other",
            "AWS_SECRET_ACCESS_KEY=*** other",
        ),
        ("AWS_SESSION_TOKEN=FwoGZXIvYXdzEBY", "AWS_SESSION_TOKEN=***"),
        (
            '{"SecretAccessKey": "wJalrXUtnFEMI", "AccessKeyId": "AKIA1"}',
            '{"SecretAccessKey": "***", "AccessKeyId": "AKIA1"}',
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=abcdef&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Expires=60",
        ),
        (
            "CREATE OR REPLACE SECRET s (TYPE s3, KEY_ID 'AKIA1', SECRET 'wJal''rX', SESSION_TOKEN 'tok', REGION 'eu')",
            "CREATE OR REPLACE SECRET s (TYPE s3, KEY_ID 'AKIA1', SECRET '***', SESSION_TOKEN '***', REGION 'eu')",
        ),
        (
            "CREATE SECRET a (TYPE azure, CONNECTION_STRING 'AccountName=x;AccountKey=y')",
            "CREATE SECRET a (TYPE azure, CONNECTION_STRING '***')",
        ),
        ("s3://user:password@bucket/x", "s3://user:***@bucket/x"),
        (
            "nothing secret here: s3://bucket/prefix",
            "nothing secret here: s3://bucket/prefix",
        ),
    ],
)
def test_mask_secrets(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


def test_mask_secrets_known_values() -> None:
    assert (
        mask_secrets(
            "error: key Zm9vYmFyYmF6cXV4 rejected", ["Zm9vYmFyYmF6cXV4", None, ""]
        )
        == "error: key *** rejected"
    )


# ---------------------------------------------------------------- DuckDB secrets


def test_s3_secret_statement(moto_endpoint: str) -> None:
    backend = open_backend(
        "s3://bucket/a/b", Settings(s3=moto_s3_settings(moto_endpoint))
    )
    host = moto_endpoint.removeprefix("http://")

    assert secret_statements(backend) == [
        (
            "CREATE OR REPLACE SECRET lakegate_storage (TYPE s3, KEY_ID 'AKIALAKEGATETESTING1', "
            f"SECRET '{MOTO_SECRET_ACCESS_KEY}', REGION 'us-east-1', ENDPOINT '{host}', USE_SSL false, "
            "URL_STYLE 'path', SCOPE 's3://bucket/a/b/')"
        )
    ]


def test_secret_values_are_quoted(moto_endpoint: str) -> None:
    settings = S3Settings(
        endpoint_url=moto_endpoint,
        region="us-east-1",
        access_key_id="AKIA",
        secret_access_key="it's",
    )
    backend = open_backend("s3://bucket", Settings(s3=settings))

    assert "SECRET 'it''s'" in secret_statements(backend)[0]


def test_managed_identity_secret_statement() -> None:
    backend = AzureBackend(
        "container", "p", AzureSettings(account_name="acct", auth="managed-identity")
    )

    assert secret_statements(backend) == [
        (
            "CREATE OR REPLACE SECRET lakegate_storage (TYPE azure, PROVIDER credential_chain, "
            "CHAIN 'env;workload_identity;managed_identity;cli', ACCOUNT_NAME 'acct', SCOPE 'az://container/p/')"
        )
    ]


def test_managed_identity_secret_sovereign_cloud() -> None:
    settings = AzureSettings(
        account_name="acct",
        endpoint="https://acct.blob.core.chinacloudapi.cn",
        auth="managed-identity",
    )
    backend = AzureBackend("container", "", settings)

    assert secret_statements(backend) == [
        (
            "CREATE OR REPLACE SECRET lakegate_storage (TYPE azure, PROVIDER credential_chain, "
            "CHAIN 'env;workload_identity;managed_identity;cli', ACCOUNT_NAME 'acct', "
            "ENDPOINT 'blob.core.chinacloudapi.cn', SCOPE 'az://container/')"
        )
    ]


def test_managed_identity_statement_is_accepted_by_duckdb(
    duckdb_connection: duckdb.DuckDBPyConnection,
) -> None:
    backend = AzureBackend(
        "container", "p", AzureSettings(account_name="acct", auth="managed-identity")
    )

    for statement in secret_statements(backend):
        duckdb_connection.execute(statement)

    rows = duckdb_connection.execute(
        "SELECT name, type, provider, scope FROM duckdb_secrets()"
    ).fetchall()
    assert rows == [
        ("lakegate_storage", "azure", "credential_chain", ["az://container/p/"])
    ]


def test_local_backend_needs_no_secret(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)

    assert secret_statements(backend) == []
    assert credential_expiry(backend) is None


def test_secret_name_must_be_identifier(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        secret_statements(LocalBackend(tmp_path), name="x; DROP")


# ---------------------------------------------------------------- credential expiry and refresh

# Real expiring credentials (STS, instance roles) cannot be produced on
# demand here, so these tests give the backend a fake credentials object.
# The fake replaces only botocore's RefreshableCredentials interface, and
# the key pairs it hands out still go to the real moto server and DuckDB.


class RotatingCredentials:
    """Hand out a new key pair on each read, expiring ``lifetime`` after it."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.reads = 0
        self._expiry_time = datetime.now(UTC) + lifetime

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        self.reads += 1
        self._expiry_time = datetime.now(UTC) + self.lifetime
        return ReadOnlyCredentials(
            f"AKIAROTATED{self.reads:09d}",
            f"rotated-secret-{self.reads}",
            f"token-{self.reads}",
        )


def _secret_key_id(connection: duckdb.DuckDBPyConnection) -> str:
    row = connection.execute(
        "SELECT secret_string FROM duckdb_secrets() WHERE name = 'lakegate_storage'"
    ).fetchone()
    assert row is not None
    fields = dict(part.split("=", 1) for part in row[0].split(";"))
    return fields["key_id"]


def test_credential_expiry_of_static_keys(s3_storage_url: StorageTarget) -> None:
    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)

    assert credential_expiry(backend) is None


def test_credential_expiry_of_temporary_credentials(
    s3_storage_url: StorageTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)
    credentials = RotatingCredentials(timedelta(hours=1))
    monkeypatch.setattr(backend, "credentials", lambda: credentials)

    assert credential_expiry(backend) == credentials._expiry_time


def test_refresh_recreates_secret(
    s3_storage_url: StorageTarget,
    duckdb_connection: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow as pa

    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)
    backend.write("db/m/f.parquet", parquet_bytes(pa.table({"x": [1, 2, 3, 4]})))
    credentials = RotatingCredentials(timedelta(minutes=20))
    monkeypatch.setattr(backend, "credentials", lambda: credentials)
    refresher = SecretRefresher(backend, duckdb_connection.execute)

    first_expiry = refresher.refresh()
    first_key = _secret_key_id(duckdb_connection)
    second_expiry = refresher.refresh()

    assert first_key == "AKIAROTATED000000001"
    assert _secret_key_id(duckdb_connection) == "AKIAROTATED000000002"
    assert (
        first_expiry is not None
        and second_expiry is not None
        and second_expiry > first_expiry
    )
    uri = quote_literal(backend.uri("db/m/f.parquet"))
    assert duckdb_connection.execute(
        f"SELECT count(*) FROM read_parquet({uri})"
    ).fetchone() == (4,)


def test_seconds_until_refresh(tmp_path: Path) -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    refresher = SecretRefresher(
        LocalBackend(tmp_path),
        lambda statement: None,
        lead_time=timedelta(minutes=5),
        clock=lambda: now,
    )

    assert refresher.seconds_until_refresh(now + timedelta(hours=1)) == 55 * 60
    assert refresher.seconds_until_refresh(now + timedelta(minutes=1)) == 30
    assert refresher.seconds_until_refresh(None) == 10 * 60


def test_refresher_thread_refreshes_and_stops(
    s3_storage_url: StorageTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend(s3_storage_url.url, s3_storage_url.settings)
    credentials = RotatingCredentials(timedelta(minutes=2))
    monkeypatch.setattr(backend, "credentials", lambda: credentials)
    statements: list[str] = []
    refreshed = threading.Event()

    def execute(statement: str) -> None:
        statements.append(statement)
        if len(statements) == 2:
            refreshed.set()

    # Expiry is within the 5-minute lead time, so each refresh is due after min_interval.
    refresher = SecretRefresher(
        backend, execute, min_interval=timedelta(milliseconds=50)
    )
    refresher.start()
    try:
        assert refreshed.wait(timeout=10)
    finally:
        refresher.stop()

    assert refresher.is_running() is False
    assert "KEY_ID 'AKIAROTATED000000001'" in statements[0]
    assert "KEY_ID 'AKIAROTATED000000002'" in statements[1]
