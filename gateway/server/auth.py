"""Client authentication during startup: trust, SCRAM-SHA-256 or md5.

Without configured users every client is trusted, which start-up allows
only on a loopback address unless ``--allow-remote-trust`` is given. With
users, each client proves its password with SCRAM-SHA-256, or with md5 when
``--auth-method md5`` is set and the user's secret is a plaintext password
or an md5 hash. An unknown user goes through the same exchange as a known
one and fails at the end with the same message as a wrong password, so a
client cannot tell which of the two it was.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Mapping

from gateway.config import SecuritySettings
from gateway.errors import ConfigurationError, GatewayError, ProtocolViolation
from gateway.server import auth_messages, scram
from gateway.server.users import USERS_VARIABLE, UserSecret, load_users

logger = logging.getLogger(__name__)

TRUST = "trust"
SCRAM_SHA_256 = "scram-sha-256"
MD5 = "md5"
METHODS = (SCRAM_SHA_256, MD5)

Send = Callable[[bytes], None]
"""Send one backend message and flush it to the client."""

Receive = Callable[[], tuple[bytes, bytes]]
"""Read the next frontend message: its type byte and payload."""


class InvalidPassword(GatewayError):
    """Wrong password or unknown user (SQLSTATE 28P01). Its ``reason`` goes to the server log only."""

    sqlstate = "28P01"

    def __init__(self, user: str, reason: str) -> None:
        super().__init__(f'password authentication failed for user "{user}"')
        self.reason = reason


class Authenticator:
    """The users, the method each of them gets and the exchanges that check passwords, shared by all connections."""

    def __init__(self, users: Mapping[str, UserSecret], method: str = SCRAM_SHA_256) -> None:
        if method not in METHODS:
            raise ConfigurationError(f'invalid authentication method "{method}": use {" or ".join(METHODS)}')
        if method == SCRAM_SHA_256:
            _require_verifiers(users)
        self.users = dict(users)
        self.method = method
        # Salts of the mock exchange for unknown users derive from this key,
        # so they stay the same across attempts within one process.
        self._mock_key = secrets.token_bytes(32)

    def method_for(self, user: str) -> str:
        """Return ``trust``, ``scram-sha-256`` or ``md5``: the method a client logging in as ``user`` gets."""
        if not self.users:
            return TRUST
        secret = self.users.get(user)
        if self.method == MD5 and (secret is None or secret.md5_hash is not None):
            return MD5
        return SCRAM_SHA_256

    def authenticate(self, user: str, send: Send, receive: Receive) -> str:
        """Run the exchange for ``user`` and return the method used.

        Raise InvalidPassword (28P01) for a wrong password or an unknown user
        and ProtocolViolation (08P01) for a malformed or unexpected message.
        The caller sends AuthenticationOk after a successful return.
        """
        method = self.method_for(user)
        if method == SCRAM_SHA_256:
            self._scram(user, send, receive)
        elif method == MD5:
            self._md5(user, send, receive)
        return method

    def _scram(self, user: str, send: Send, receive: Receive) -> None:
        secret = self.users.get(user)
        verifier = secret.verifier if secret is not None else None
        if verifier is None:
            verifier = scram.mock_verifier(user, self._mock_key)

        send(auth_messages.authentication_sasl([scram.MECHANISM]))
        initial = auth_messages.parse_sasl_initial_response(_password_message(receive, "SASL response"))
        if initial.mechanism != scram.MECHANISM:
            raise ProtocolViolation("client selected an invalid SASL authentication mechanism",
                                    detail=f'the server offers only {scram.MECHANISM}, not "{initial.mechanism}"')

        try:
            client_first = scram.parse_client_first(initial.data)
            server_first = scram.server_first(client_first, verifier, scram.new_server_nonce())
            send(auth_messages.authentication_sasl_continue(server_first.message))
            final = _password_message(receive, "SASL response")
            server_final = scram.verify_client_final(final, client_first, server_first, verifier)
        except scram.ScramError as error:
            raise ProtocolViolation(str(error)) from error
        except scram.ScramAuthenticationFailed:
            raise InvalidPassword(user, "user does not exist" if secret is None else "password does not match") from None

        send(auth_messages.authentication_sasl_final(server_final))

    def _md5(self, user: str, send: Send, receive: Receive) -> None:
        salt = secrets.token_bytes(auth_messages.MD5_SALT_BYTES)
        send(auth_messages.authentication_md5_password(salt))
        response = auth_messages.parse_password(_password_message(receive, "password response"))

        secret = self.users.get(user)
        if secret is None or secret.md5_hash is None:
            raise InvalidPassword(user, "user does not exist")
        expected = "md5" + hashlib.md5(secret.md5_hash[3:].encode("ascii") + salt).hexdigest()
        if not hmac.compare_digest(response.encode(), expected.encode()):
            raise InvalidPassword(user, "password does not match")


def build_authenticator(security: SecuritySettings, host: str) -> Authenticator:
    """Load the users and check that the listening address may trust clients when there are none.

    Raise ConfigurationError for an unreadable or malformed users file, an md5
    hash under SCRAM-SHA-256, or trust on a non-loopback address without
    ``allow_remote_trust``.
    """
    users = load_users(security.users_file, security.users_text)
    authenticator = Authenticator(users, security.auth_method)
    if users:
        logger.info("clients authenticate with a password (%s, %d users)", security.auth_method, len(users))
        return authenticator

    check_trust(host, allow_remote_trust=security.allow_remote_trust)
    return authenticator


def check_trust(host: str, *, allow_remote_trust: bool) -> None:
    """Allow trust on a loopback ``host``; elsewhere raise ConfigurationError, or warn when allowed."""
    if is_loopback(host):
        logger.info("no users configured: trusting every client on loopback address %s", host)
        return
    if not allow_remote_trust:
        raise ConfigurationError(
            f"no users are configured, so every client would connect without a password, and --host {host} "
            f"accepts clients from other machines; give users with --users-file or {USERS_VARIABLE}, "
            "or pass --allow-remote-trust to trust remote clients anyway"
        )
    logger.warning("no users configured: trusting every client without a password on %s "
                   "(--allow-remote-trust)", host)


def is_loopback(host: str) -> bool:
    """Tell whether every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(address).is_loopback for address in addresses)


def _password_message(receive: Receive, expected: str) -> bytes:
    kind, payload = receive()
    if kind != b"p":
        raise ProtocolViolation(f"expected {expected}, got message type {kind.decode('latin-1')!r}")
    return payload


def _require_verifiers(users: Mapping[str, UserSecret]) -> None:
    for user, secret in users.items():
        if secret.verifier is None:
            raise ConfigurationError(
                f'user "{user}" has an md5 hash, which SCRAM-SHA-256 cannot check; '
                "give a SCRAM-SHA-256 verifier (lakegate passwd) or a plaintext password, "
                "or start with --auth-method md5"
            )
