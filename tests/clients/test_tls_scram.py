"""Every client logs in with SCRAM-SHA-256 over TLS, and a wrong password is rejected with 28P01.

The gateway here runs with a throwaway self-signed certificate and one user,
``secure``, whose password is in the users file. Clients require TLS without
verifying the certificate (libpq's ``sslmode=require``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pg8000.dbapi
import psycopg
import psycopg2
import pyodbc
import pytest
import sqlalchemy

from gateway.config import Settings
from tests.clients.test_odbc import odbc_driver
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.tls_files import write_self_signed

USER = "secure"
PASSWORD = "correct horse battery staple"
REPO_ROOT = Path(__file__).resolve().parents[2]
JDBC_JAR = Path("/usr/share/java/postgresql.jar")

NODE_SCRIPT = """
const { Client } = require('pg')
const [port, password] = process.argv.slice(2)
const client = new Client({ host: '127.0.0.1', port: Number(port), user: 'secure', password,
                            database: 'telemetry', ssl: { rejectUnauthorized: false } })
client.connect()
  .then(() => client.query('SELECT current_user AS u, 1 AS one'))
  .then(result => { console.log(JSON.stringify(result.rows[0])); return client.end() })
  .catch(error => { console.log(JSON.stringify({ error: error.code })); process.exit(0) })
"""

JAVA_SOURCE = """
import java.sql.*;
public class TlsLogin {
    public static void main(String[] args) {
        try (Connection c = DriverManager.getConnection(args[0])) {
            try (ResultSet r = c.createStatement().executeQuery("SELECT current_user, 1")) {
                r.next();
                System.out.println(r.getString(1) + " " + r.getInt(2));
            }
        } catch (SQLException e) {
            System.out.println("error " + e.getSQLState());
        }
    }
}
"""


@pytest.fixture(scope="module")
def secure_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("secure-gateway")
    root = directory / "store"
    root.mkdir()
    cert, key = write_self_signed(directory)
    users = directory / "users"
    users.write_text(f"{USER}:{PASSWORD}\n")
    saved = os.environ.pop("LAKEGATE_USERS", None)
    try:
        process = start_gateway(Settings(storage_url=str(root)), directory / "gateway.log",
                                "--users-file", str(users), "--tls-cert", str(cert), "--tls-key", str(key))
    finally:
        if saved is not None:
            os.environ["LAKEGATE_USERS"] = saved
    yield process
    process.stop()


def _dsn(gateway: GatewayProcess, password: str) -> str:
    return (f"host=127.0.0.1 port={gateway.port} dbname=telemetry user={USER} password='{password}' "
            "sslmode=require")


def _no_verify() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_psql(secure_gateway: GatewayProcess) -> None:
    psql = shutil.which("psql")
    assert psql is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    dsn = f"host=127.0.0.1 port={secure_gateway.port} dbname=telemetry user={USER} sslmode=require"
    good = subprocess.run([psql, "-X", "-At", dsn, "-c", "SELECT current_user"],
                          capture_output=True, text=True, timeout=60, env={**env, "PGPASSWORD": PASSWORD},
                          check=False)
    assert good.stdout == f"{USER}\n", good.stderr
    bad = subprocess.run([psql, "-X", "-At", dsn, "-c", "SELECT 1"], capture_output=True, text=True,
                         timeout=60, env={**env, "PGPASSWORD": "wrong"}, check=False)
    assert bad.returncode == 2
    assert f'password authentication failed for user "{USER}"' in bad.stderr


def test_psycopg(secure_gateway: GatewayProcess) -> None:
    with psycopg.connect(_dsn(secure_gateway, PASSWORD)) as connection:
        assert connection.pgconn.ssl_in_use
        assert connection.execute("SELECT current_user, 1").fetchone() == (USER, 1)
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(secure_gateway, "wrong"))
    assert f'password authentication failed for user "{USER}"' in str(excinfo.value)


def test_psycopg2(secure_gateway: GatewayProcess) -> None:
    connection = psycopg2.connect(_dsn(secure_gateway, PASSWORD))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT current_user, 1")
        assert cursor.fetchone() == (USER, 1)
    finally:
        connection.close()
    with pytest.raises(psycopg2.OperationalError) as excinfo:
        psycopg2.connect(_dsn(secure_gateway, "wrong"))
    assert f'password authentication failed for user "{USER}"' in str(excinfo.value)


def test_asyncpg(secure_gateway: GatewayProcess) -> None:
    async def login(password: str) -> object:
        connection = await asyncpg.connect(host="127.0.0.1", port=secure_gateway.port, user=USER,
                                           password=password, database="telemetry", ssl=_no_verify())
        try:
            return tuple(await connection.fetchrow("SELECT current_user, 1"))
        finally:
            await connection.close()

    assert asyncio.run(login(PASSWORD)) == (USER, 1)
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(login("wrong"))


def test_pg8000(secure_gateway: GatewayProcess) -> None:
    connection = pg8000.dbapi.connect(user=USER, password=PASSWORD, host="127.0.0.1", port=secure_gateway.port,
                                      database="telemetry", ssl_context=_no_verify())
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT current_user, 1")
        assert tuple(cursor.fetchone()) == (USER, 1)
    finally:
        connection.close()
    with pytest.raises(pg8000.dbapi.DatabaseError) as excinfo:
        pg8000.dbapi.connect(user=USER, password="wrong", host="127.0.0.1", port=secure_gateway.port,
                             database="telemetry", ssl_context=_no_verify())
    assert "28P01" in str(excinfo.value)


def test_sqlalchemy(secure_gateway: GatewayProcess) -> None:
    url = sqlalchemy.engine.URL.create("postgresql+psycopg", username=USER, password=PASSWORD,
                                       host="127.0.0.1", port=secure_gateway.port, database="telemetry")
    engine = sqlalchemy.create_engine(url, connect_args={"sslmode": "require"})
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT current_user, 1")).one() == (USER, 1)
    finally:
        engine.dispose()


def test_odbc(secure_gateway: GatewayProcess) -> None:
    base = (f"DRIVER={{{odbc_driver()}}};SERVER=127.0.0.1;PORT={secure_gateway.port};DATABASE=telemetry;"
            f"UID={USER};SSLmode=require;")
    connection = pyodbc.connect(base + f"PWD={PASSWORD};", autocommit=True)
    try:
        assert tuple(connection.cursor().execute("SELECT current_user, 1").fetchone()) == (USER, 1)
    finally:
        connection.close()
    with pytest.raises(pyodbc.Error) as excinfo:
        pyodbc.connect(base + "PWD=wrong;", autocommit=True)
    assert "password authentication failed" in str(excinfo.value)


def test_node_pg(secure_gateway: GatewayProcess, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    script = tmp_path / "login.js"
    script.write_text(NODE_SCRIPT)
    env = {**os.environ, "NODE_PATH": str(REPO_ROOT / "node_modules")}

    def login(password: str) -> object:
        result = subprocess.run([node, str(script), str(secure_gateway.port), password], capture_output=True,
                                text=True, timeout=60, env=env, check=True)
        return json.loads(result.stdout)

    assert login(PASSWORD) == {"u": USER, "one": 1}
    assert login("wrong") == {"error": "28P01"}


def test_pgjdbc(secure_gateway: GatewayProcess, tmp_path: Path) -> None:
    javac, java = shutil.which("javac"), shutil.which("java")
    assert javac is not None and java is not None
    (tmp_path / "TlsLogin.java").write_text(JAVA_SOURCE)
    subprocess.run([javac, "-d", str(tmp_path), "-cp", str(JDBC_JAR), str(tmp_path / "TlsLogin.java")],
                   check=True, capture_output=True, timeout=120)

    def login(password: str) -> str:
        url = (f"jdbc:postgresql://127.0.0.1:{secure_gateway.port}/telemetry?user={USER}&password={password}"
               "&sslmode=require")
        result = subprocess.run([java, "-cp", f"{JDBC_JAR}:{tmp_path}", "TlsLogin", url], capture_output=True,
                                text=True, timeout=120, check=True)
        return result.stdout.strip()

    assert login(PASSWORD.replace(" ", "%20")) == f"{USER} 1"
    assert login("wrong") == "error 28P01"
