"""SCRAM-SHA-256 server steps as pure functions, checked against RFC 7677 and hashlib/hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gateway.server import scram

# The example exchange of RFC 7677 section 3 (user "user", password "pencil").
RFC_PASSWORD = "pencil"
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
RFC_CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
RFC_SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _client_proof(password: str, salt: bytes, iterations: int, auth_message: bytes) -> bytes:
    """Compute a client proof the way RFC 5802 section 3 defines it, independently of the gateway."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
    return bytes(a ^ b for a, b in zip(client_key, signature, strict=True))


def _rfc_exchange() -> tuple[scram.ClientFirst, scram.ServerFirst, scram.Verifier]:
    verifier = scram.make_verifier(RFC_PASSWORD, salt=RFC_SALT, iterations=4096)
    client_first = scram.parse_client_first(RFC_CLIENT_FIRST)
    return client_first, scram.server_first(client_first, verifier, RFC_SERVER_NONCE), verifier


def test_rfc7677_server_first() -> None:
    client_first, server_first, _ = _rfc_exchange()
    assert client_first.gs2_header == "n,,"
    assert client_first.bare == "n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert client_first.nonce == "rOprNGfwEbeRWgbNEkqO"
    assert server_first.message == RFC_SERVER_FIRST
    assert server_first.nonce == "rOprNGfwEbeRWgbNEkqO" + RFC_SERVER_NONCE


def test_rfc7677_server_final() -> None:
    client_first, server_first, verifier = _rfc_exchange()
    assert scram.verify_client_final(RFC_CLIENT_FINAL, client_first, server_first, verifier) == RFC_SERVER_FINAL


def test_rfc7677_proof_computed_independently() -> None:
    auth_message = (b"n=user,r=rOprNGfwEbeRWgbNEkqO," + RFC_SERVER_FIRST.encode()
                    + b",c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    proof = _client_proof(RFC_PASSWORD, RFC_SALT, 4096, auth_message)
    assert b"p=" + base64.b64encode(proof) == RFC_CLIENT_FINAL.rpartition(b",")[2]


def test_verifier_matches_independent_computation() -> None:
    salt = bytes(range(16))
    salted = hashlib.pbkdf2_hmac("sha256", b"correct horse", salt, 4096)
    stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    server_key = _hmac(salted, b"Server Key")
    expected = (f"SCRAM-SHA-256$4096:{base64.b64encode(salt).decode()}"
                f"${base64.b64encode(stored_key).decode()}:{base64.b64encode(server_key).decode()}")

    verifier = scram.make_verifier("correct horse", salt=salt)

    assert verifier.encode() == expected
    assert scram.parse_verifier(expected) == verifier


def test_exchange_with_libpq_style_client() -> None:
    # libpq sends an empty user name and may send gs2 flag "y" when it
    # could bind a channel but the server offers no -PLUS mechanism.
    verifier = scram.make_verifier("s3cret", salt=b"0123456789abcdef", iterations=4096)
    client_first = scram.parse_client_first(b"y,,n=,r=clientnonce")
    server_first = scram.server_first(client_first, verifier, "servernonce")
    without_proof = b"c=" + base64.b64encode(b"y,,") + b",r=clientnonceservernonce"
    auth_message = b"n=,r=clientnonce," + server_first.message.encode() + b"," + without_proof
    proof = _client_proof("s3cret", b"0123456789abcdef", 4096, auth_message)
    final = without_proof + b",p=" + base64.b64encode(proof)

    server_final = scram.verify_client_final(final, client_first, server_first, verifier)

    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", b"0123456789abcdef", 4096)
    expected_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
    assert server_final == "v=" + base64.b64encode(expected_signature).decode()


def test_wrong_password_fails() -> None:
    client_first, server_first, _ = _rfc_exchange()
    other = scram.make_verifier("not pencil", salt=RFC_SALT, iterations=4096)
    with pytest.raises(scram.ScramAuthenticationFailed):
        scram.verify_client_final(RFC_CLIENT_FINAL, client_first, server_first, other)


def test_mock_verifier_never_matches() -> None:
    key = b"k" * 32
    first = scram.mock_verifier("ghost", key)
    again = scram.mock_verifier("ghost", key)
    other = scram.mock_verifier("phantom", key)
    assert first.salt == again.salt
    assert first.salt != other.salt
    assert len(first.salt) == scram.SALT_BYTES
    client_first = scram.parse_client_first(RFC_CLIENT_FIRST)
    server_first = scram.server_first(client_first, first, RFC_SERVER_NONCE)
    with pytest.raises(scram.ScramAuthenticationFailed):
        scram.verify_client_final(RFC_CLIENT_FINAL, client_first, server_first, first)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"p=tls-server-end-point,,n=,r=abc",
         ("the client selected SCRAM-SHA-256 without channel binding, "
          "but the SCRAM message includes channel binding data")),
        (b"x,,n=,r=abc", "malformed SCRAM message: unexpected channel binding flag 'x'"),
        (b"n,a=admin,n=,r=abc", "client uses an authorization identity, which is not supported"),
        (b"n,,m=ext,n=,r=abc", "client requires an unsupported SCRAM extension"),
        (b"n,,r=abc", "malformed SCRAM message: expected n= and r= attributes in 'r=abc'"),
        (b"n,,n=,r=", "malformed SCRAM message: the client nonce is empty or contains invalid characters"),
        (b"n,,n=,r=a b", "malformed SCRAM message: the client nonce is empty or contains invalid characters"),
        (b"n,", "malformed SCRAM message: the gs2 header is incomplete"),
        ("n,,n=,r=\u00e9".encode(), "malformed SCRAM message: it contains non-ASCII bytes"),
    ],
)
def test_client_first_rejected(message: bytes, error: str) -> None:
    with pytest.raises(scram.ScramError) as excinfo:
        scram.parse_client_first(message)
    assert str(excinfo.value) == error


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
         "malformed SCRAM message: the client proof is missing"),
        (b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
         "SCRAM channel binding check failed"),
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqOother,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
         "SCRAM nonce does not match"),
        (b"r=x,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
         "malformed SCRAM message: expected c= and r= attributes in the final message"),
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=***",
         "malformed SCRAM message: the client proof is not base64"),
        (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
         "malformed SCRAM message: the client proof must be 32 bytes"),
    ],
)
def test_client_final_rejected(message: bytes, error: str) -> None:
    client_first, server_first, verifier = _rfc_exchange()
    with pytest.raises(scram.ScramError) as excinfo:
        scram.verify_client_final(message, client_first, server_first, verifier)
    assert str(excinfo.value) == error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("md5abc", "verifier does not start with SCRAM-SHA-256$"),
        ("SCRAM-SHA-256$4096:c2FsdA==", "verifier must read SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"),
        ("SCRAM-SHA-256$0:c2FsdA==$" + "A" * 44 + ":" + "A" * 44, "verifier iteration count must be a positive integer"),
        ("SCRAM-SHA-256$4096:!!$" + "A" * 44 + ":" + "A" * 44, "verifier salt is not valid base64"),
        ("SCRAM-SHA-256$4096:$" + "A" * 44 + ":" + "A" * 44, "verifier salt is empty"),
        ("SCRAM-SHA-256$4096:c2FsdA==$AAAA:" + "A" * 44, "verifier keys must be 32 bytes each"),
    ],
)
def test_verifier_rejected(text: str, error: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        scram.parse_verifier(text)
    assert str(excinfo.value) == error


@pytest.mark.parametrize(
    ("password", "prepared"),
    [
        # The examples of RFC 4013 section 3, where a rejected string stays as it was.
        ("I\u00adX", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("\u0007", "\u0007"),
        ("\u0627\u0031", "\u0627\u0031"),
        # Non-ASCII spaces map to U+0020. ASCII passes untouched, control characters included.
        ("a\u00a0b", "a b"),
        ("tab\there", "tab\there"),
        ("caf\u0065\u0301", "caf\u00e9"),
        # A password that maps to nothing is rejected, as PostgreSQL does.
        ("\u00ad", "\u00ad"),
    ],
)
def test_saslprep(password: str, prepared: str) -> None:
    assert scram.saslprep(password) == prepared


def test_verifier_uses_saslprep() -> None:
    salt = b"s" * 16
    assert scram.make_verifier("I\u00adX", salt=salt) == scram.make_verifier("IX", salt=salt)
