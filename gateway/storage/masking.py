"""Removal of credentials from text that may reach a log or an error message."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_MIN_KNOWN_SECRET_LENGTH = 8

# Each pattern keeps its first group (the name of the credential) and
# replaces what follows with MASK.
_PATTERNS = [
    # Azure connection strings.
    re.compile(r"(AccountKey=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s'\"]+", re.IGNORECASE),
    # SAS tokens and presigned Azure URLs.
    re.compile(r"(\bsig=)[^&;\s'\"]+", re.IGNORECASE),
    # Presigned S3 URLs.
    re.compile(
        r"(X-Amz-(?:Signature|Security-Token|Credential)=)[^&;\s'\"]+", re.IGNORECASE
    ),
    # AWS variables, config-file entries and JSON/XML fields.
    re.compile(
        r"((?:aws_secret_access_key|aws_session_token|SecretAccessKey|SessionToken)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s'\",;&<]+",
        re.IGNORECASE,
    ),
    # DuckDB CREATE SECRET parameters.
    re.compile(
        r"(\b(?:SECRET|SESSION_TOKEN|CONNECTION_STRING|ACCESS_TOKEN|ACCOUNT_KEY)\s+')(?:[^']|'')*(?=')",
        re.IGNORECASE,
    ),
    # A password in a URL's user information.
    re.compile(r"(://[^/\s:@]+:)[^/\s@]+(?=@)"),
]


def mask_secrets(text: str, known_secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with credentials replaced by ``***``.

    Masks Azure ``AccountKey=``, ``SharedAccessSignature=`` and ``sig=``
    values, AWS secret keys and session tokens (variables, config entries,
    presigned URL parameters), secret values in DuckDB ``CREATE SECRET``
    statements and URL passwords. Each string of 8 or more characters in
    ``known_secrets`` is also replaced wherever it occurs, which catches a
    credential that a library echoes in an unknown format.
    """
    for secret in known_secrets:
        # Real keys and tokens are longer, and short values would mask ordinary words.
        if secret and len(secret) >= _MIN_KNOWN_SECRET_LENGTH:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text
