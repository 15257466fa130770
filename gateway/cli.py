"""The ``lakegate`` command: serve, demo, passwd and version."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from gateway import __version__
from gateway.config import (
    SecuritySettings,
    Settings,
    WriterSettings,
    azure_settings_from_env,
    s3_settings_from_env,
    security_settings_from_env,
)
from gateway.errors import ConfigurationError, GatewayError
from gateway.runtime import Runtime
from gateway.sql.durations import format_duration, positive_duration
from gateway.sql.session_settings import parse_duration_ms

if TYPE_CHECKING:
    from gateway.ingest.http import WriteServer
    from gateway.ingest.http_auth import WriteAuthorizer

logger = logging.getLogger("gateway")


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5433, help="TCP port to listen on (default 5433)")
    parser.add_argument("--http-port", type=int, default=8086,
                        help="TCP port of the InfluxDB line-protocol write endpoint (default 8086)")
    parser.add_argument("--no-http", action="store_true", help="do not start the HTTP write endpoint")
    parser.add_argument("--http-tokens-file", metavar="FILE",
                        help="file of tokens, one per line, that HTTP writes must send as 'Authorization: Token "
                        "<token>'; LAKEGATE_HTTP_TOKENS may hold more, comma-separated. When users are configured, "
                        "the HTTP endpoint starts only with tokens")
    parser.add_argument("--http-max-body", type=_positive_int, default=Settings.http_max_body_bytes,
                        metavar="BYTES",
                        help="maximum size of an HTTP write body, as sent or after gzip decompression; a larger "
                        "one gets a 413 response and nothing of it is written "
                        f"(default {Settings.http_max_body_bytes})")
    parser.add_argument("--http-idle-timeout", type=_seconds, default=Settings.http_idle_timeout, metavar="SECONDS",
                        help="close an HTTP connection whose client sends nothing for this long, between requests "
                        "or in the middle of one, which gets 408 (default "
                        f"{Settings.http_idle_timeout:g})")
    parser.add_argument("--http-max-line", type=_positive_int, default=Settings.http_max_line_bytes,
                        metavar="BYTES",
                        help="maximum length of a line of an HTTP write; a longer one is rejected as an invalid "
                        "line while the other lines are written. The default leaves room for long string fields and "
                        f"bounds the memory the parser spends on one line (default {Settings.http_max_line_bytes})")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level (default INFO)")
    parser.add_argument("--delete-max-rows", type=_positive_int, default=Settings.delete_max_rows, metavar="N",
                        help="reject a DELETE that would remove more than N rows, before it changes anything "
                        f"(default {Settings.delete_max_rows}); TRUNCATE and DROP are not limited")
    parser.add_argument("--insert-max-rows", type=_positive_int, default=Settings.insert_max_rows, metavar="N",
                        help="reject an INSERT ... VALUES or INSERT ... SELECT of more than N rows with SQLSTATE "
                        f"54000, before any row is buffered (default {Settings.insert_max_rows}); each INSERT is "
                        "held in memory whole, so this bounds one statement's memory. COPY FROM STDIN and HTTP "
                        "writes are not limited")
    parser.add_argument("--superseded-grace", type=_interval, default=Settings.superseded_grace, metavar="DURATION",
                        help="how long the old version of a file rewritten by DELETE stays for queries that "
                        f"started before it, such as 30s or 5m (default {format_duration(Settings.superseded_grace)})")
    _add_limit_arguments(parser)


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-connections", type=_positive_int, default=Settings.max_connections, metavar="N",
                        help="client sessions served at once; one more gets SQLSTATE 53300 and is closed "
                        f"(default {Settings.max_connections})")
    parser.add_argument("--statement-timeout", type=_timeout_ms("statement_timeout"), default=Settings.statement_timeout_ms,
                        metavar="DURATION",
                        help="default statement_timeout of each session, such as 500ms, 30s or 5min (a bare number "
                        "is milliseconds): a statement running longer fails with SQLSTATE 57014; sessions may SET "
                        "another value (default 0, no timeout)")
    parser.add_argument("--idle-session-timeout", type=_timeout_ms("idle_session_timeout"), default=Settings.idle_session_timeout_ms,
                        metavar="DURATION",
                        help="default idle_session_timeout of each session, in the same units: a session idle "
                        "outside a transaction for longer is closed with SQLSTATE 57P05; sessions may SET another "
                        "value (default 0, no timeout)")


def _timeout_ms(setting: str) -> Callable[[str], int]:
    """Return the argument parser of a timeout flag, whose errors name the session ``setting`` it sets."""

    def parse(text: str) -> int:
        try:
            return round(parse_duration_ms(text, setting))
        except GatewayError as error:
            hint = f"; {error.hint}" if error.hint else ""
            raise argparse.ArgumentTypeError(f"{error.message}{hint}") from None

    return parse


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retention-interval", type=_interval, default=Settings.retention_interval,
                        metavar="DURATION",
                        help="time between two runs of the active retention policies, such as '30 minutes', "
                        f"15m or 1h, the first one interval after start "
                        f"(default {format_duration(Settings.retention_interval)})")
    parser.add_argument("--continuous-query-interval", type=_interval, default=Settings.continuous_query_interval,
                        metavar="DURATION",
                        help="time between two checks for continuous queries with a complete window to process, "
                        f"such as 30s or 5m (default {format_duration(Settings.continuous_query_interval)})")


def _interval(text: str) -> timedelta:
    try:
        return positive_duration(text, "interval")
    except GatewayError as error:
        hint = f"; {error.hint}" if error.hint else ""
        raise argparse.ArgumentTypeError(f"{error.message}{hint}") from None


def _add_security_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="PEM file of the server certificate (chain). With --tls-key, clients may connect "
                        "with TLS 1.2 or later (sslmode=require)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key file of --tls-cert, unencrypted")
    parser.add_argument("--users-file", metavar="FILE",
                        help="file of <user>:<secret> lines, the secret a SCRAM-SHA-256 verifier, an md5 hash or "
                        "a plaintext password; LAKEGATE_USERS may hold more lines in the same format. "
                        "Without users every client is trusted")
    parser.add_argument("--auth-method", choices=["scram-sha-256", "md5"], default="scram-sha-256",
                        help="password method (default scram-sha-256); md5 applies to users whose secret is "
                        "plaintext or an md5 hash, users with a SCRAM verifier still use SCRAM-SHA-256")
    parser.add_argument("--allow-remote-trust", action="store_true",
                        help="start without users on a non-loopback --host, trusting every client")


def _add_writer_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = WriterSettings()
    parser.add_argument("--wal-dir", metavar="DIR",
                        help="local directory of the write-ahead log (default: <store>/_lakegate/wal for a "
                        "local store, else $XDG_STATE_HOME/lakegate/wal/<hash of the storage URL>)")
    parser.add_argument("--wal-sync", choices=["always", "interval"], default=defaults.wal_sync,
                        help="fsync the write-ahead log before every acknowledgement (always, the default), or "
                        "every --wal-sync-interval seconds: faster, but a power loss or operating-system crash "
                        "may lose the writes of the last interval")
    parser.add_argument("--wal-sync-interval", type=float, default=defaults.wal_sync_interval, metavar="SECONDS",
                        help=f"seconds between fsyncs with --wal-sync interval (default {defaults.wal_sync_interval:g})")
    parser.add_argument("--flush-rows", type=_positive_int, default=defaults.flush_rows, metavar="N",
                        help=f"flush a measurement's buffer to Parquet at N rows (default {defaults.flush_rows})")
    parser.add_argument("--flush-bytes", type=_positive_int, default=defaults.flush_bytes, metavar="BYTES",
                        help=f"flush a measurement's buffer at this many bytes (default {defaults.flush_bytes})")
    parser.add_argument("--flush-age", type=float, default=defaults.flush_age, metavar="SECONDS",
                        help=f"flush a buffer this many seconds after its first row (default {defaults.flush_age:g})")
    parser.add_argument("--buffer-memory", type=_positive_int, default=defaults.buffer_memory, metavar="BYTES",
                        help="bytes all buffers may hold before writers wait for flushes "
                        f"(default {defaults.buffer_memory})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds such as 1 or 0.5, got {text}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def writer_settings(args: argparse.Namespace) -> WriterSettings:
    """Build the writer settings from the flags of ``serve`` or ``demo``."""
    if args.flush_age < 0 or args.wal_sync_interval <= 0:
        raise ConfigurationError("--flush-age must be 0 or more and --wal-sync-interval above 0")
    return WriterSettings(wal_dir=args.wal_dir, wal_sync=args.wal_sync, wal_sync_interval=args.wal_sync_interval,
                          flush_rows=args.flush_rows, flush_bytes=args.flush_bytes, flush_age=args.flush_age,
                          buffer_memory=args.buffer_memory)


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s3-endpoint", help="S3 endpoint URL, for S3-compatible stores "
                        "(default: AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--s3-region", help="S3 region (default: AWS_REGION)")
    parser.add_argument("--s3-path-style", action=argparse.BooleanOptionalAction, default=None,
                        help="use path-style S3 URLs (default: on when an endpoint is given)")
    parser.add_argument("--azure-endpoint", help="Azure blob endpoint URL, for Azurite or sovereign clouds")
    parser.add_argument("--azure-auth", choices=["auto", "managed-identity"], default="auto",
                        help="Azure credentials: from AZURE_STORAGE_* variables (auto) or managed identity")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakegate",
        description="PostgreSQL-wire SQL gateway for time-series Parquet files on local disk, S3 or Azure",
    )
    parser.add_argument("--version", action="version", version=f"lakegate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a store over the PostgreSQL protocol")
    serve.add_argument("--storage", required=True,
                       help="storage URL: a path, file:///path, s3://bucket[/prefix] or az://container[/prefix]")
    _add_listen_arguments(serve)
    _add_security_arguments(serve)
    _add_writer_arguments(serve)
    _add_store_arguments(serve)
    serve.add_argument("--listing-cache-ttl", type=_seconds, default=Settings.listing_cache_ttl, metavar="SECONDS",
                       help="how long queries reuse a listing of an S3 or Azure store, so objects written by "
                       "another gateway appear within that time; this gateway's own writes are seen at once, "
                       "and 0 lists on every query. A local store's listings are checked against directory "
                       f"times instead (default {Settings.listing_cache_ttl:g})")
    _add_job_arguments(serve)
    demo = commands.add_parser("demo", help="load the demo database into a local store and serve it")
    demo.add_argument("--data", default="./data", help="local store directory (default ./data)")
    _add_listen_arguments(demo)
    _add_job_arguments(demo)
    _add_security_arguments(demo)
    _add_writer_arguments(demo)
    passwd = commands.add_parser(
        "passwd", help="read a password from the terminal or standard input and print a users-file line for it")
    passwd.add_argument("user", help="user name of the printed line")
    passwd.add_argument("--method", choices=["scram-sha-256", "md5"], default="scram-sha-256",
                        help="print a SCRAM-SHA-256 verifier (default) or an md5 hash")
    ingest = commands.add_parser("ingest", help="import .lp, .csv and .parquet files into a store")
    ingest.add_argument("files", nargs="+", metavar="FILE", help="files to import")
    ingest.add_argument("--db", required=True, help="database to import into")
    ingest.add_argument("--measurement", help="measurement of CSV and Parquet files (default: the file's stem)")
    ingest.add_argument("--storage", default="./data", help="storage URL (default ./data)")
    ingest.add_argument("--precision", default="ns",
                        help="timestamp precision of .lp files: ns, us, ms or s (default ns)")
    ingest.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level (default WARNING)")
    _add_store_arguments(ingest)
    commands.add_parser("version", help="print the version")
    return parser


def settings_from(args: argparse.Namespace, storage: str) -> Settings:
    """Build the settings of ``serve`` (store flags and environment) or ``demo`` (a local directory)."""
    security = _security_settings(args)
    if args.command == "demo":
        return Settings(storage_url=storage, host=args.host, port=args.port, security=security,
                        http_port=None if args.no_http else args.http_port,
                        http_max_body_bytes=args.http_max_body, http_max_line_bytes=args.http_max_line,
                        http_idle_timeout=args.http_idle_timeout,
                        writer=writer_settings(args),
                        log_level=args.log_level, delete_max_rows=args.delete_max_rows,
                        insert_max_rows=args.insert_max_rows,
                        superseded_grace=args.superseded_grace, retention_interval=args.retention_interval,
                        continuous_query_interval=args.continuous_query_interval,
                        max_connections=args.max_connections, statement_timeout_ms=args.statement_timeout,
                        idle_session_timeout_ms=args.idle_session_timeout)
    return Settings(
        storage_url=storage,
        host=args.host,
        port=args.port,
        http_port=None if args.no_http else args.http_port,
        http_max_body_bytes=args.http_max_body,
        http_max_line_bytes=args.http_max_line,
        http_idle_timeout=args.http_idle_timeout,
        s3=s3_settings_from_env(endpoint_url=args.s3_endpoint, region=args.s3_region,
                                path_style=args.s3_path_style),
        azure=azure_settings_from_env(endpoint=args.azure_endpoint, auth=args.azure_auth),
        listing_cache_ttl=args.listing_cache_ttl,
        security=security,
        writer=writer_settings(args),
        log_level=args.log_level,
        delete_max_rows=args.delete_max_rows,
        insert_max_rows=args.insert_max_rows,
        superseded_grace=args.superseded_grace,
        retention_interval=args.retention_interval,
        continuous_query_interval=args.continuous_query_interval,
        max_connections=args.max_connections,
        statement_timeout_ms=args.statement_timeout,
        idle_session_timeout_ms=args.idle_session_timeout,
    )


def _security_settings(args: argparse.Namespace) -> SecuritySettings:
    return security_settings_from_env(
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        users_file=args.users_file,
        auth_method=args.auth_method,
        allow_remote_trust=args.allow_remote_trust,
        http_tokens_file=args.http_tokens_file,
    )


def serve(settings: Settings, *, load_demo: bool = False) -> int:
    """Start the runtime and serve until SIGINT or SIGTERM; return the exit status."""
    from gateway.allocator import limit_malloc_arenas
    from gateway.ingest.http_auth import WriteAuthorizer, load_tokens
    from gateway.server.auth import build_authenticator
    from gateway.server.server import GatewayServer

    limit_malloc_arenas()

    # Users, HTTP tokens, TLS files and the trust rule are checked before the
    # store is probed and before anything listens.
    try:
        authenticator = build_authenticator(settings.security, settings.host)
        http_authorizer = WriteAuthorizer(load_tokens(settings.security.http_tokens_file,
                                                      settings.security.http_tokens_text))
        tls_context = _tls_context(settings.security)
        runtime = Runtime.start(settings)
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2
    if load_demo:
        from gateway.demo import load_demo as write_demo

        write_demo(runtime.measurements)
    runtime.recover_jobs()
    # The HTTP endpoint listens first, so that once the PostgreSQL port accepts
    # connections the whole gateway is ready.
    http_server = _start_http(settings, runtime, http_authorizer, users_configured=bool(authenticator.users))
    try:
        server = GatewayServer((settings.host, settings.port), runtime, authenticator, tls_context)
    except OSError as error:
        logger.error("cannot listen on %s:%d: %s; choose another --port (make run PORT=...)",
                     settings.host, settings.port, error.strerror or error)
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        runtime.close()
        return 2
    signal.signal(signal.SIGTERM, lambda *_: _stop(server))
    runtime.start_jobs()
    logger.info("lakegate %s serving %s on %s:%d%s", __version__, runtime.backend.description,
                settings.host, server.port, " (TLS available)" if tls_context else "")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        runtime.close()
        logger.info("lakegate stopped")
    return 0


def _start_http(settings: Settings, runtime: Runtime, authorizer: WriteAuthorizer, *,
                users_configured: bool) -> WriteServer | None:
    """Start the HTTP write endpoint unless it is off; return its server or None.

    With users configured, the endpoint starts only when it has tokens, so
    that it never accepts writes that the PostgreSQL port would reject.
    """
    from gateway.ingest.http import WriteServer
    from gateway.ingest.line_writer import LineProtocolWriter

    if settings.http_port is None:
        return None
    if users_configured and not authorizer.required:
        logger.warning("HTTP write endpoint not started: users are configured but no HTTP tokens; "
                       "configure --http-tokens-file or LAKEGATE_HTTP_TOKENS, or pass --no-http")
        return None
    writer = LineProtocolWriter(runtime.writer, runtime.catalog.invalidate, settings.http_max_line_bytes)
    try:
        http_server = WriteServer((settings.host, settings.http_port), writer, authorizer,
                                  settings.http_max_body_bytes, settings.http_idle_timeout)
    except OSError as error:
        logger.error("cannot listen for HTTP writes on %s:%d: %s; choose another --http-port or --no-http",
                     settings.host, settings.http_port, error.strerror or error)
        return None
    http_server.start()
    logger.info("InfluxDB line-protocol writes on http://%s:%d/write%s", settings.host, http_server.port,
                " (token required)" if authorizer.required else "")
    return http_server


def ingest(args: argparse.Namespace) -> int:
    """Run ``lakegate ingest``: import the files, print a summary; exit 1 if lines were rejected."""
    from pathlib import Path

    from gateway.bulk_ingest import ingest_files
    from gateway.progress import ProgressLine

    settings = Settings(
        storage_url=args.storage,
        s3=s3_settings_from_env(endpoint_url=args.s3_endpoint, region=args.s3_region,
                                path_style=args.s3_path_style),
        azure=azure_settings_from_env(endpoint=args.azure_endpoint, auth=args.azure_auth),
    )
    try:
        runtime = Runtime.start(settings, write_ahead=False)
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2
    progress = ProgressLine(sys.stderr)
    try:
        summary = ingest_files(runtime, [Path(name) for name in args.files], args.db,
                               measurement=args.measurement, precision=args.precision, progress=progress)
    except (GatewayError, ValueError, OSError) as error:
        progress.close()
        message = error.message if isinstance(error, GatewayError) else str(error)
        print(f"lakegate ingest: {message}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    for rejected in summary.rejected[:100]:
        print(f"rejected: {rejected}", file=sys.stderr)
    target = f"database {args.db}"
    if summary.table_measurements:
        names = ", ".join(sorted(summary.table_measurements))
        target += f" (measurement{'s' if len(summary.table_measurements) > 1 else ''} {names})"
    print(f"ingested {summary.rows} rows into {target}: {summary.files_written} Parquet files written, "
          f"{len(summary.rejected)} lines rejected")
    return 1 if summary.rejected else 0


def _tls_context(security: SecuritySettings) -> ssl.SSLContext | None:
    from gateway.server.tls import server_context

    if security.tls_cert is None or security.tls_key is None:
        return None
    return server_context(security.tls_cert, security.tls_key)


def _stop(server: object) -> None:
    import threading

    threading.Thread(target=server.shutdown, daemon=True).start()  # type: ignore[attr-defined]


def passwd(user: str, method: str) -> int:
    """Read a password and print ``<user>:<secret>`` for the users file; return the exit status.

    On a terminal the password is asked twice without echo; otherwise the
    first line of standard input is the password.
    """
    from gateway.server.scram import make_verifier
    from gateway.server.users import md5_hash

    if not user or ":" in user or user != user.strip():
        print(f"lakegate passwd: invalid user name {user!r}: it must be non-empty, without ':' "
              "and without surrounding spaces", file=sys.stderr)
        return 2
    password = _read_new_password()
    if password is None:
        return 1
    secret = md5_hash(user, password) if method == "md5" else make_verifier(password).encode()
    print(f"{user}:{secret}")
    return 0


def _read_new_password() -> str | None:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            print("lakegate passwd: the passwords do not match", file=sys.stderr)
            return None
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        print("lakegate passwd: the password is empty", file=sys.stderr)
        return None
    return password


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"lakegate {__version__}")
        return 0
    if args.command == "passwd":
        return passwd(args.user, args.method)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            return serve(settings_from(args, args.data), load_demo=True)
        if args.command == "ingest":
            return ingest(args)
        return serve(settings_from(args, args.storage))
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2
    except GatewayError as error:
        logger.error("%s (SQLSTATE %s)", error.message, error.sqlstate)
        return 1


if __name__ == "__main__":
    sys.exit(main())
