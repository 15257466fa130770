"""SCRAM-SHA-256 server side (RFC 5802, RFC 7677), compatible with PostgreSQL and libpq.

Everything here is a pure function over message text, so each step of an
exchange is testable without a socket.

- The user name inside the SCRAM messages is ignored, as in PostgreSQL,
  because the StartupMessage already named the user (libpq sends ``n=``).
- Channel binding (SCRAM-SHA-256-PLUS) is not offered, so a client-first
  message must start with the gs2 flag ``n`` or ``y``. The flag ``y`` means
  that the client could bind but believes the server cannot, which is true.
- A stored verifier has PostgreSQL's form
  ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, with salt
  and keys in standard base64.
- Passwords are normalised with SASLprep the way PostgreSQL does it (see
  ``saslprep``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from dataclasses import dataclass

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096  # PostgreSQL's scram_iterations default
SALT_BYTES = 16  # PostgreSQL's salt length
NONCE_BYTES = 18  # PostgreSQL's server nonce length, before base64
KEY_BYTES = 32  # SHA-256 digest size

_VERIFIER_PREFIX = MECHANISM + "$"


class ScramError(Exception):
    """A malformed or unsupported SCRAM message, which the server rejects with SQLSTATE 08P01."""


class ScramAuthenticationFailed(Exception):
    """A client proof that does not match the verifier, which means a wrong password."""


@dataclass(frozen=True)
class Verifier:
    """The stored form of one password, from which the password cannot be recovered."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def encode(self) -> str:
        """Return the verifier in PostgreSQL's ``SCRAM-SHA-256$...`` spelling."""
        return (f"{_VERIFIER_PREFIX}{self.iterations}:{_b64(self.salt)}"
                f"${_b64(self.stored_key)}:{_b64(self.server_key)}")


@dataclass(frozen=True)
class ClientFirst:
    """The parsed client-first-message."""

    gs2_header: str
    bare: str
    nonce: str


@dataclass(frozen=True)
class ServerFirst:
    """The server-first-message and the nonce that both sides now share."""

    message: str
    nonce: str


# Verifiers

def make_verifier(password: str, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS) -> Verifier:
    """Derive a verifier from a password, with a random 16-byte salt unless ``salt`` is given."""
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    salted = salted_password(password, salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return Verifier(iterations, salt, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """Return Hi(Normalize(password), salt, i), which is PBKDF2-HMAC-SHA-256."""
    return hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)


def is_verifier(secret: str) -> bool:
    """Tell whether ``secret`` claims to be a SCRAM-SHA-256 verifier (by its prefix)."""
    return secret.startswith(_VERIFIER_PREFIX)


def parse_verifier(text: str) -> Verifier:
    """Parse PostgreSQL's verifier spelling, raising ValueError that names the invalid part."""
    if not is_verifier(text):
        raise ValueError(f"verifier does not start with {_VERIFIER_PREFIX}")
    parameters, separator, keys = text[len(_VERIFIER_PREFIX):].partition("$")
    iterations_text, colon, salt_text = parameters.partition(":")
    stored_text, colon2, server_text = keys.partition(":")
    if not (separator and colon and colon2):
        raise ValueError("verifier must read SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")
    if not iterations_text.isdigit() or int(iterations_text) < 1:
        raise ValueError("verifier iteration count must be a positive integer")
    salt = _unb64(salt_text, "salt")
    stored_key = _unb64(stored_text, "StoredKey")
    server_key = _unb64(server_text, "ServerKey")
    if not salt:
        raise ValueError("verifier salt is empty")
    if len(stored_key) != KEY_BYTES or len(server_key) != KEY_BYTES:
        raise ValueError(f"verifier keys must be {KEY_BYTES} bytes each")
    return Verifier(int(iterations_text), salt, stored_key, server_key)


def mock_verifier(user: str, key: bytes) -> Verifier:
    """Return a verifier that no password matches, stable per user for one ``key``.

    The server runs the whole exchange with it for unknown users, so the
    salt a client sees does not reveal whether the user exists.
    """
    salt = _hmac(key, b"salt:" + user.encode())[:SALT_BYTES]
    return Verifier(DEFAULT_ITERATIONS, salt, secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))


# The exchange

def new_server_nonce() -> str:
    return _b64(secrets.token_bytes(NONCE_BYTES))


def parse_client_first(data: bytes) -> ClientFirst:
    """Parse the client-first-message, raising ScramError when it is malformed or requests an unsupported feature."""
    text = _decode(data)
    gs2_header, bare = _split_gs2_header(text)
    attributes = bare.split(",")
    if attributes[0].startswith("m="):
        raise ScramError("client requires an unsupported SCRAM extension")
    if len(attributes) < 2 or not attributes[0].startswith("n=") or not attributes[1].startswith("r="):
        raise ScramError(f"malformed SCRAM message: expected n= and r= attributes in {bare!r}")
    nonce = attributes[1][2:]
    if not nonce or not all(_is_nonce_char(char) for char in nonce):
        raise ScramError("malformed SCRAM message: the client nonce is empty or contains invalid characters")
    return ClientFirst(gs2_header, bare, nonce)


def server_first(client: ClientFirst, verifier: Verifier, server_nonce: str) -> ServerFirst:
    """Build the server-first-message: combined nonce, salt and iteration count."""
    nonce = client.nonce + server_nonce
    message = f"r={nonce},s={_b64(verifier.salt)},i={verifier.iterations}"
    return ServerFirst(message, nonce)


def verify_client_final(data: bytes, client: ClientFirst, server: ServerFirst, verifier: Verifier) -> str:
    """Check the client-final-message and return the server-final-message ``v=<signature>``.

    Raise ScramError when the message is malformed or its channel binding or
    nonce does not match, and ScramAuthenticationFailed when the proof is wrong.
    """
    text = _decode(data)
    without_proof, separator, proof_text = text.rpartition(",p=")
    if not separator:
        raise ScramError("malformed SCRAM message: the client proof is missing")
    attributes = without_proof.split(",")
    if len(attributes) < 2 or not attributes[0].startswith("c=") or not attributes[1].startswith("r="):
        raise ScramError("malformed SCRAM message: expected c= and r= attributes in the final message")
    if attributes[0][2:] != _b64(client.gs2_header.encode()):
        raise ScramError("SCRAM channel binding check failed")
    if attributes[1][2:] != server.nonce:
        raise ScramError("SCRAM nonce does not match")
    proof = _unb64_message(proof_text)

    auth_message = f"{client.bare},{server.message},{without_proof}".encode()
    client_signature = _hmac(verifier.stored_key, auth_message)
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    if not hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key):
        raise ScramAuthenticationFailed()

    return "v=" + _b64(_hmac(verifier.server_key, auth_message))


def _split_gs2_header(text: str) -> tuple[str, str]:
    flag, _, rest = text.partition(",")
    if flag.startswith("p="):
        raise ScramError("the client selected SCRAM-SHA-256 without channel binding, "
                         "but the SCRAM message includes channel binding data")
    if flag not in ("n", "y"):
        raise ScramError(f"malformed SCRAM message: unexpected channel binding flag {flag!r}")
    authzid, comma, bare = rest.partition(",")
    if not comma:
        raise ScramError("malformed SCRAM message: the gs2 header is incomplete")
    if authzid:
        raise ScramError("client uses an authorization identity, which is not supported")
    return f"{flag},,", bare


def _is_nonce_char(char: str) -> bool:
    return "\x21" <= char <= "\x7e" and char != ","


def _decode(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as error:
        raise ScramError("malformed SCRAM message: it contains non-ASCII bytes") from error


def _unb64_message(text: str) -> bytes:
    try:
        proof = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ScramError("malformed SCRAM message: the client proof is not base64") from error
    if len(proof) != KEY_BYTES:
        raise ScramError(f"malformed SCRAM message: the client proof must be {KEY_BYTES} bytes")
    return proof


def _unb64(text: str, part: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"verifier {part} is not valid base64") from error


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


# SASLprep (RFC 4013, profile of stringprep, RFC 3454)

_PROHIBITED = (
    stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3, stringprep.in_table_c4,
    stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
    stringprep.in_table_c9, stringprep.in_table_a1,
)


def saslprep(password: str) -> str:
    """Normalise a password with SASLprep, or return it unchanged when SASLprep rejects it.

    This follows PostgreSQL's src/common/saslprep.c, which the server and
    libpq share: pure ASCII passes untouched, a password that maps to nothing
    is rejected, and the prohibited-character and bidi checks run on the
    mapped string before NFKC. A rejected password is used as it is, as
    PostgreSQL does, so plaintext users here log in with libpq's proofs.
    """
    if password.isascii():
        return password
    mapped = "".join(" " if stringprep.in_table_c12(char) else char
                     for char in password if not stringprep.in_table_b1(char))
    if not mapped:
        return password
    if any(check(char) for char in mapped for check in _PROHIBITED) or not _bidi_allowed(mapped):
        return password
    return unicodedata.normalize("NFKC", mapped)


def _bidi_allowed(text: str) -> bool:
    """Apply RFC 3454 section 6: right-to-left text contains no left-to-right characters."""
    if not any(stringprep.in_table_d1(char) for char in text):
        return True
    if any(stringprep.in_table_d2(char) for char in text):
        return False
    return stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1])
