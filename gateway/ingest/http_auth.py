"""Token authentication of the HTTP write endpoint.

Tokens come from a file (one per line, blank lines and ``#`` comments
skipped) and from ``LAKEGATE_HTTP_TOKENS`` (comma-separated). When at least
one token is configured, a write request must carry one of them in one of
the forms InfluxDB clients send:

- ``Authorization: Token <token>`` (InfluxDB 2.x), on every write route;
- on the 1.x route ``/write`` only, the query parameter ``p=<token>`` (``u``
  is ignored) or ``Authorization: Basic`` with the token as the password.

Tokens are compared through their SHA-256 digests with
``hmac.compare_digest`` against every configured token, so the time taken
does not depend on how much of a token matched or on which token matched.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from gateway.config import read_settings_file
from gateway.errors import ConfigurationError

TOKENS_VARIABLE = "LAKEGATE_HTTP_TOKENS"


class Decision(enum.Enum):
    """The outcome of checking one request's credentials."""

    AUTHORIZED = "authorized"
    #: No credentials in a form that the route accepts.
    MISSING = "missing"
    #: Credentials were sent, but they match no configured token.
    INVALID = "invalid"


class WriteAuthorizer:
    """Decides whether an HTTP write request is authorised; without tokens every request is."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self._digests = [_digest(token) for token in dict.fromkeys(tokens)]

    @property
    def required(self) -> bool:
        """Whether requests must carry a token."""
        return bool(self._digests)

    def check(self, authorization: str | None, query: Mapping[str, str], *, v1: bool) -> Decision:
        """Check the ``Authorization`` header and, on the 1.x route (``v1``), the ``p`` query parameter.

        A header in an accepted scheme is used when present, and the query
        parameter otherwise. A malformed header counts as a wrong token.
        """
        if not self.required:
            return Decision.AUTHORIZED

        candidate = _token_from_header(authorization, v1=v1) if authorization else None
        if candidate is None and v1:
            candidate = query.get("p")
        if candidate is None:
            return Decision.MISSING
        return Decision.AUTHORIZED if self._matches(candidate) else Decision.INVALID

    def _matches(self, candidate: str) -> bool:
        digest = _digest(candidate)
        matched = False
        # Every token is compared, without stopping at the first match.
        for expected in self._digests:
            matched |= hmac.compare_digest(digest, expected)
        return matched


def load_tokens(tokens_file: str | None, tokens_text: str | None) -> list[str]:
    """Read the tokens file and the ``LAKEGATE_HTTP_TOKENS`` value; an empty result means no tokens.

    Raises ConfigurationError for a file that cannot be read or lists no
    token, a variable that is set but lists no token, and a token with
    characters other than visible ASCII. Messages name the file and line
    or the variable's item number, never a token.
    """
    tokens: list[str] = []
    if tokens_file is not None:
        source = f"HTTP tokens file {tokens_file}"
        tokens += _require_some(_parse_tokens_file(_read_tokens_file(tokens_file), source), source)
    if tokens_text:
        tokens += _require_some(_parse_tokens_variable(tokens_text), TOKENS_VARIABLE)
    return tokens


def _token_from_header(authorization: str, *, v1: bool) -> str | None:
    """Return the token of an ``Authorization`` value; "" for a malformed one, None for another scheme."""
    scheme, _, credentials = authorization.strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "token":
        return credentials
    if scheme == "basic" and v1:
        return _basic_password(credentials)
    return None


def _basic_password(credentials: str) -> str:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    _, colon, password = decoded.partition(":")
    return password if colon else ""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _parse_tokens_file(text: str, source: str) -> list[str]:
    tokens = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        _check_token(line, f"{source} line {number}")
        tokens.append(line)
    return tokens


def _parse_tokens_variable(text: str) -> list[str]:
    tokens = []
    for number, item in enumerate(text.split(","), start=1):
        token = item.strip()
        if token:
            _check_token(token, f"{TOKENS_VARIABLE} item {number}")
            tokens.append(token)
    return tokens


def _check_token(token: str, where: str) -> None:
    # A token travels in an HTTP header after "Token ". http.server decodes
    # headers as ISO-8859-1 (http.client.parse_headers in Python 3.11), so
    # only visible ASCII characters compare reliably.
    if not all("!" <= char <= "~" for char in token):
        raise ConfigurationError(f"{where}: a token must be visible ASCII characters, without spaces")


def _require_some(tokens: list[str], source: str) -> list[str]:
    # A source that is given but empty would leave the endpoint open, which
    # must not happen by accident.
    if not tokens:
        raise ConfigurationError(f"{source} lists no tokens; add tokens or leave it out")
    return tokens


def _read_tokens_file(path: str) -> str:
    return read_settings_file(path, "HTTP tokens file", "--http-tokens-file")
