"""Authentication exchanges over scripted messages, users-file parsing, the trust rule and the TLS context."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import ssl
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import SecuritySettings, security_settings_from_env
from gateway.errors import ConfigurationError, ProtocolViolation
from gateway.server import auth, scram, tls
from gateway.server.users import md5_hash, parse_users

# ---------------------------------------------------------------- a scripted client


class ScriptedClient:
    """A frontend whose replies are computed from the backend messages it has received so far."""

    def __init__(self, replies: list[Callable[[list[bytes]], bytes]]) -> None:
        self.replies = replies
        self.received: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.received.append(data)

    def receive(self) -> tuple[bytes, bytes]:
        reply = self.replies.pop(0)
        return b"p", reply(self.received)


def _auth_code(message: bytes) -> int:
    assert message[:1] == b"R"
    return int(struct.unpack("!i", message[5:9])[0])


def _sasl_initial(mechanism: str, data: bytes) -> bytes:
    return mechanism.encode() + b"\x00" + struct.pack("!i", len(data)) + data


def _scram_client(password: str, nonce: str = "clientnonce") -> list[Callable[[list[bytes]], bytes]]:
    """Return the two replies of a SCRAM client, computed with hashlib and hmac only."""
    bare = f"n=,r={nonce}"

    def first(_: list[bytes]) -> bytes:
        return _sasl_initial("SCRAM-SHA-256", b"n,," + bare.encode())

    def final(received: list[bytes]) -> bytes:
        server_first = received[-1][9:].decode()
        fields = dict(part.split("=", 1) for part in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    return [first, final]


def _md5_client(user: str, password: str) -> list[Callable[[list[bytes]], bytes]]:
    def response(received: list[bytes]) -> bytes:
        salt = received[-1][9:13]
        inner = hashlib.md5((password + user).encode()).hexdigest()
        return ("md5" + hashlib.md5(inner.encode() + salt).hexdigest()).encode() + b"\x00"

    return [response]


def _users(text: str) -> auth.Authenticator:
    return auth.Authenticator(parse_users(text, "test users"))


# ---------------------------------------------------------------- SCRAM


def test_scram_right_password() -> None:
    authenticator = _users("alice:wonderland")
    client = ScriptedClient(_scram_client("wonderland"))

    assert authenticator.authenticate("alice", client.send, client.receive) == "scram-sha-256"

    assert client.received[0] == b"R\x00\x00\x00\x17\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"
    assert [_auth_code(message) for message in client.received] == [10, 11, 12]
    assert client.received[2][9:].startswith(b"v=")


def test_scram_verifier_from_passwd() -> None:
    verifier = scram.make_verifier("from a file").encode()
    authenticator = _users(f"bob:{verifier}")
    client = ScriptedClient(_scram_client("from a file"))
    assert authenticator.authenticate("bob", client.send, client.receive) == "scram-sha-256"


def test_scram_wrong_password() -> None:
    authenticator = _users("alice:wonderland")
    client = ScriptedClient(_scram_client("looking-glass"))
    with pytest.raises(auth.InvalidPassword) as excinfo:
        authenticator.authenticate("alice", client.send, client.receive)
    assert excinfo.value.sqlstate == "28P01"
    assert excinfo.value.message == 'password authentication failed for user "alice"'
    assert excinfo.value.reason == "password does not match"
    assert [_auth_code(message) for message in client.received] == [10, 11]


def test_scram_unknown_user_runs_whole_exchange() -> None:
    authenticator = _users("alice:wonderland")
    client = ScriptedClient(_scram_client("wonderland"))
    with pytest.raises(auth.InvalidPassword) as excinfo:
        authenticator.authenticate("mallory", client.send, client.receive)
    assert excinfo.value.message == 'password authentication failed for user "mallory"'
    assert excinfo.value.reason == "user does not exist"
    assert [_auth_code(message) for message in client.received] == [10, 11]


def test_scram_plus_rejected() -> None:
    authenticator = _users("alice:wonderland")
    client = ScriptedClient([lambda _: _sasl_initial("SCRAM-SHA-256-PLUS", b"p=tls-server-end-point,,n=,r=abc")])
    with pytest.raises(ProtocolViolation) as excinfo:
        authenticator.authenticate("alice", client.send, client.receive)
    assert excinfo.value.sqlstate == "08P01"
    assert excinfo.value.message == "client selected an invalid SASL authentication mechanism"


def test_scram_channel_binding_data_rejected() -> None:
    authenticator = _users("alice:wonderland")
    client = ScriptedClient([lambda _: _sasl_initial("SCRAM-SHA-256", b"p=tls-server-end-point,,n=,r=abc")])
    with pytest.raises(ProtocolViolation) as excinfo:
        authenticator.authenticate("alice", client.send, client.receive)
    assert excinfo.value.message == ("the client selected SCRAM-SHA-256 without channel binding, "
                                     "but the SCRAM message includes channel binding data")


def test_unexpected_message_type_rejected() -> None:
    authenticator = _users("alice:wonderland")
    with pytest.raises(ProtocolViolation) as excinfo:
        authenticator.authenticate("alice", lambda _: None, lambda: (b"Q", b"SELECT 1\x00"))
    assert excinfo.value.message == "expected SASL response, got message type 'Q'"


# ---------------------------------------------------------------- md5


def _md5_authenticator(text: str) -> auth.Authenticator:
    return auth.Authenticator(parse_users(text, "test users"), auth.MD5)


def test_md5_right_password() -> None:
    for line in ("carol:tea party", f"carol:{md5_hash('carol', 'tea party')}"):
        client = ScriptedClient(_md5_client("carol", "tea party"))
        assert _md5_authenticator(line).authenticate("carol", client.send, client.receive) == "md5"
        assert _auth_code(client.received[0]) == 5
        assert len(client.received[0]) == 13


def test_md5_wrong_password() -> None:
    client = ScriptedClient(_md5_client("carol", "coffee"))
    with pytest.raises(auth.InvalidPassword) as excinfo:
        _md5_authenticator("carol:tea party").authenticate("carol", client.send, client.receive)
    assert excinfo.value.message == 'password authentication failed for user "carol"'
    assert excinfo.value.reason == "password does not match"


def test_md5_unknown_user() -> None:
    client = ScriptedClient(_md5_client("dave", "tea party"))
    with pytest.raises(auth.InvalidPassword) as excinfo:
        _md5_authenticator("carol:tea party").authenticate("dave", client.send, client.receive)
    assert excinfo.value.message == 'password authentication failed for user "dave"'
    assert excinfo.value.reason == "user does not exist"


def test_md5_method_keeps_scram_verifiers() -> None:
    verifier = scram.make_verifier("secret").encode()
    authenticator = _md5_authenticator(f"bob:{verifier}\ncarol:tea party")
    assert authenticator.method_for("bob") == "scram-sha-256"
    assert authenticator.method_for("carol") == "md5"
    assert authenticator.method_for("nobody") == "md5"


def test_md5_hash_under_scram_rejected() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        _users(f"carol:{md5_hash('carol', 'x')}")
    assert str(excinfo.value) == (
        'user "carol" has an md5 hash, which SCRAM-SHA-256 cannot check; give a SCRAM-SHA-256 verifier '
        "(lakegate passwd) or a plaintext password, or start with --auth-method md5"
    )


def test_no_users_means_trust() -> None:
    authenticator = auth.Authenticator({})
    sent: list[bytes] = []
    assert authenticator.authenticate("anyone", sent.append, lambda: (b"p", b"")) == "trust"
    assert sent == []


def test_md5_hash_matches_postgresql() -> None:
    # PostgreSQL stores md5(password || user); "md5" + md5("secretpostgres").
    assert md5_hash("postgres", "secret") == "md5" + hashlib.md5(b"secretpostgres").hexdigest()


# ---------------------------------------------------------------- users format


def test_users_format() -> None:
    verifier = scram.make_verifier("v").encode()
    users = parse_users(
        f"# comment\n\n  alice : wonder:land  \nbob:{verifier}\r\ncarol:{md5_hash('carol', 'x')}\n"
        "dave:md5notahash\n",
        "test users",
    )
    assert sorted(users) == ["alice", "bob", "carol", "dave"]
    assert users["alice"].verifier is not None
    assert users["alice"].md5_hash == md5_hash("alice", "wonder:land")
    assert users["bob"].verifier == scram.parse_verifier(verifier)
    assert users["bob"].md5_hash is None
    assert users["carol"].verifier is None
    assert users["carol"].md5_hash == md5_hash("carol", "x")
    assert users["dave"].md5_hash == md5_hash("dave", "md5notahash")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("alice", "test users line 1: expected <user>:<secret>, found no ':'"),
        ("# c\n:pw", "test users line 2: the user name is empty"),
        ("alice:", 'test users line 1: the secret of user "alice" is empty'),
        ("alice:a\nalice:b", 'test users line 2: user "alice" is listed twice'),
        ("alice:SCRAM-SHA-256$4096:c2FsdA==",
         ('test users line 1: invalid SCRAM-SHA-256 verifier for user "alice": '
          "verifier must read SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")),
    ],
)
def test_users_format_errors(text: str, error: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        parse_users(text, "test users")
    assert str(excinfo.value) == error


def test_users_repr_hides_secrets() -> None:
    users = parse_users("alice:wonderland", "test users")
    assert "wonderland" not in repr(users)
    assert "md5" not in repr(users)
    settings = SecuritySettings(users_text="alice:wonderland")
    assert "wonderland" not in repr(settings)


def test_users_from_file_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice:one\n")
    security = security_settings_from_env({"LAKEGATE_USERS": "bob:two"}, users_file=str(path))
    authenticator = auth.build_authenticator(security, "127.0.0.1")
    assert sorted(authenticator.users) == ["alice", "bob"]


def test_user_in_file_and_variable_rejected(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice:one\n")
    security = security_settings_from_env({"LAKEGATE_USERS": "alice:two"}, users_file=str(path))
    with pytest.raises(ConfigurationError) as excinfo:
        auth.build_authenticator(security, "127.0.0.1")
    assert str(excinfo.value) == 'user "alice" is listed both in the users file and in LAKEGATE_USERS'


def test_missing_users_file(tmp_path: Path) -> None:
    security = security_settings_from_env({}, users_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError) as excinfo:
        auth.build_authenticator(security, "127.0.0.1")
    assert str(excinfo.value) == f"users file {tmp_path / 'absent'} does not exist; check --users-file"


def test_empty_users_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# nobody yet\n\n")
    security = security_settings_from_env({}, users_file=str(path))
    with pytest.raises(ConfigurationError) as excinfo:
        auth.build_authenticator(security, "127.0.0.1")
    assert str(excinfo.value) == f"users file {path} lists no users; add <user>:<secret> lines or leave it out"


def test_empty_users_variable_means_unset() -> None:
    security = security_settings_from_env({"LAKEGATE_USERS": ""})
    assert auth.build_authenticator(security, "127.0.0.1").method_for("anyone") == "trust"
    commented = security_settings_from_env({"LAKEGATE_USERS": "# none"})
    with pytest.raises(ConfigurationError) as excinfo:
        auth.build_authenticator(commented, "127.0.0.1")
    assert str(excinfo.value) == "LAKEGATE_USERS lists no users; add <user>:<secret> lines or leave it out"


def test_tls_pair_required() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        security_settings_from_env({}, tls_cert="cert.pem")
    assert str(excinfo.value) == "--tls-cert and --tls-key must be given together"


# ---------------------------------------------------------------- trust


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_trust_on_loopback(host: str) -> None:
    auth.check_trust(host, allow_remote_trust=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.1"])
def test_trust_off_loopback_rejected(host: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        auth.check_trust(host, allow_remote_trust=False)
    assert str(excinfo.value) == (
        f"no users are configured, so every client would connect without a password, and --host {host} "
        "accepts clients from other machines; give users with --users-file or LAKEGATE_USERS, "
        "or pass --allow-remote-trust to trust remote clients anyway"
    )


def test_remote_trust_allowed_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.server.auth"):
        auth.check_trust("0.0.0.0", allow_remote_trust=True)
    assert [record.getMessage() for record in caplog.records] == [
        "no users configured: trusting every client without a password on 0.0.0.0 (--allow-remote-trust)"
    ]


def test_users_allow_any_host() -> None:
    security = security_settings_from_env({"LAKEGATE_USERS": "alice:one"})
    assert auth.build_authenticator(security, "0.0.0.0").method_for("alice") == "scram-sha-256"


# ---------------------------------------------------------------- TLS context


def test_tls_context_minimum_version(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    context = tls.server_context(str(cert), str(key))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE


def test_tls_mismatched_key_rejected(tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cert, _ = tls_files
    other_key = tmp_path / "other.key"
    other_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ConfigurationError) as excinfo:
        tls.server_context(str(cert), str(other_key))
    assert str(excinfo.value).startswith(f"cannot load TLS certificate {cert} with key {other_key}: ")


def test_tls_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        tls.server_context(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert str(excinfo.value) == f"TLS file {tmp_path / 'cert.pem'} does not exist; check --tls-cert and --tls-key"


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    from tests.tls_files import write_self_signed

    return write_self_signed(tmp_path)


def test_tls_encrypted_key_rejected(tmp_path: Path) -> None:
    from tests.tls_files import write_self_signed

    cert, key = write_self_signed(tmp_path, passphrase=b"hunter2")
    with pytest.raises(ConfigurationError) as excinfo:
        tls.server_context(str(cert), str(key))
    assert str(excinfo.value).startswith(f"cannot load TLS certificate {cert} with key {key}: ")
