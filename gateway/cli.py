"""The ``lakegate`` command: serve, demo and version."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.config import Settings, azure_settings_from_env, s3_settings_from_env
from gateway.errors import ConfigurationError, GatewayError
from gateway.runtime import Runtime

logger = logging.getLogger("gateway")


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5433, help="TCP port to listen on (default 5433)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level (default INFO)")


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
    _add_store_arguments(serve)
    demo = commands.add_parser("demo", help="load the demo database into a local store and serve it")
    demo.add_argument("--data", default="./data", help="local store directory (default ./data)")
    _add_listen_arguments(demo)
    commands.add_parser("version", help="print the version")
    return parser


def settings_from(args: argparse.Namespace, storage: str) -> Settings:
    """Build the settings of ``serve`` (store flags and environment) or ``demo`` (a local directory)."""
    if args.command == "demo":
        return Settings(storage_url=storage, host=args.host, port=args.port, log_level=args.log_level)
    return Settings(
        storage_url=storage,
        host=args.host,
        port=args.port,
        s3=s3_settings_from_env(endpoint_url=args.s3_endpoint, region=args.s3_region,
                                path_style=args.s3_path_style),
        azure=azure_settings_from_env(endpoint=args.azure_endpoint, auth=args.azure_auth),
        log_level=args.log_level,
    )


def serve(settings: Settings, *, load_demo: bool = False) -> int:
    """Start the runtime and serve until SIGINT or SIGTERM; return the exit status."""
    from gateway.server.server import GatewayServer

    try:
        runtime = Runtime.start(settings)
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2
    if load_demo:
        from gateway.demo import load_demo as write_demo

        write_demo(runtime.measurements)
    try:
        server = GatewayServer((settings.host, settings.port), runtime)
    except OSError as error:
        logger.error("cannot listen on %s:%d: %s; choose another --port (make run PORT=...)",
                     settings.host, settings.port, error.strerror or error)
        runtime.close()
        return 2
    signal.signal(signal.SIGTERM, lambda *_: _stop(server))
    logger.info("lakegate %s serving %s on %s:%d", __version__, runtime.backend.description,
                settings.host, server.port)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        runtime.close()
        logger.info("lakegate stopped")
    return 0


def _stop(server: object) -> None:
    import threading

    threading.Thread(target=server.shutdown, daemon=True).start()  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"lakegate {__version__}")
        return 0
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            return serve(settings_from(args, args.data), load_demo=True)
        return serve(settings_from(args, args.storage))
    except GatewayError as error:
        logger.error("%s (SQLSTATE %s)", error.message, error.sqlstate)
        return 1


if __name__ == "__main__":
    sys.exit(main())
