"""Users and their password secrets, read from a users file and ``LAKEGATE_USERS``.

Both sources use one format, one user per line::

    # comment
    alice:SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>
    bob:md5<32 hex digits>
    carol:plaintext password

The user name is everything before the first ``:`` and the secret everything
after it, both without surrounding whitespace. Blank lines and lines
starting with ``#`` are skipped. As in PostgreSQL, a secret is a SCRAM
verifier when it starts with ``SCRAM-SHA-256$``, an md5 hash when it is
``md5`` followed by 32 hexadecimal digits (the md5 of password and user name
concatenated), and a plaintext password otherwise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.config import read_settings_file
from gateway.errors import ConfigurationError
from gateway.server import scram

USERS_VARIABLE = "LAKEGATE_USERS"

_MD5_HASH = re.compile(r"md5[0-9a-f]{32}")


@dataclass(frozen=True)
class UserSecret:
    """The stored forms of one user's password. A plaintext password yields both."""

    verifier: scram.Verifier | None = field(default=None, repr=False)
    md5_hash: str | None = field(default=None, repr=False)


def md5_hash(user: str, password: str) -> str:
    """Return PostgreSQL's md5 password hash: ``md5`` + hex md5 of password then user name."""
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


def parse_secret(user: str, secret: str) -> UserSecret:
    """Classify one secret; raise ValueError for a malformed SCRAM verifier."""
    if scram.is_verifier(secret):
        return UserSecret(verifier=scram.parse_verifier(secret))
    if _MD5_HASH.fullmatch(secret):
        return UserSecret(md5_hash=secret)
    return UserSecret(verifier=scram.make_verifier(secret), md5_hash=md5_hash(user, secret))


def parse_users(text: str, source: str) -> dict[str, UserSecret]:
    """Parse the users format; raise ConfigurationError naming ``source`` and the line, never the secret."""
    users: dict[str, UserSecret] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue

        user, colon, secret = line.partition(":")
        user = user.strip()
        secret = secret.strip()
        where = f"{source} line {number}"
        if not colon:
            raise ConfigurationError(f"{where}: expected <user>:<secret>, found no ':'")
        if not user:
            raise ConfigurationError(f"{where}: the user name is empty")
        if not secret:
            raise ConfigurationError(f'{where}: the secret of user "{user}" is empty')
        if user in users:
            raise ConfigurationError(f'{where}: user "{user}" is listed twice')

        try:
            users[user] = parse_secret(user, secret)
        except ValueError as error:
            raise ConfigurationError(f'{where}: invalid SCRAM-SHA-256 verifier for user "{user}": {error}') from error
    return users


def load_users(users_file: str | None, users_text: str | None) -> dict[str, UserSecret]:
    """Read the users file and the ``LAKEGATE_USERS`` text; a user may appear in only one of them."""
    users: dict[str, UserSecret] = {}
    if users_file is not None:
        users.update(_require_some(parse_users(_read_users_file(users_file), f"users file {users_file}"),
                                   f"users file {users_file}"))
    if users_text:
        _merge(users, _require_some(parse_users(users_text, USERS_VARIABLE), USERS_VARIABLE))
    return users


def _require_some(users: dict[str, UserSecret], source: str) -> dict[str, UserSecret]:
    # Without users the server trusts every client, which an empty source
    # must not switch on by accident.
    if not users:
        raise ConfigurationError(f"{source} lists no users; add <user>:<secret> lines or leave it out")
    return users


def _read_users_file(path: str) -> str:
    return read_settings_file(path, "users file", "--users-file")


def _merge(users: dict[str, UserSecret], more: Mapping[str, UserSecret]) -> None:
    for user, secret in more.items():
        if user in users:
            raise ConfigurationError(f'user "{user}" is listed both in the users file and in {USERS_VARIABLE}')
        users[user] = secret
