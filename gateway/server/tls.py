"""The server's TLS context, built once at start-up from a certificate and key file."""

from __future__ import annotations

import ssl

from gateway.errors import ConfigurationError

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """Return a server-side context for TLS 1.2 and later; raise ConfigurationError if the files do not load.

    Clients are not asked for certificates. A key protected by a passphrase
    is rejected, because the server runs without a terminal to ask for it.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_passphrase)
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"TLS file {error.filename or cert_file} does not exist; check --tls-cert and --tls-key"
        ) from error
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"cannot load TLS certificate {cert_file} with key {key_file}: {error.reason or error}; "
            "the files must be PEM, the key unencrypted and matching the certificate"
        ) from error
    except OSError as error:
        raise ConfigurationError(f"cannot read TLS certificate {cert_file} or key {key_file}: "
                                 f"{error.strerror or error}") from error
    return context


def _no_passphrase() -> bytes:
    # An empty passphrase makes OpenSSL fail on an encrypted key instead of
    # prompting on the terminal.
    return b""
