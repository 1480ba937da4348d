"""`python -m services.linking --host 127.0.0.1 --port 8081 --demo [--database-url URL]`."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from services.linking.app import RouteAccessLogger, create_app
from services.linking.settings import InsecureSettings, LinkingSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.linking",
        description="Simulated VK ID + Sferum + MESH linking backend",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on")
    parser.add_argument(
        "--demo", action="store_true", help="seed demo teachers and enable /dev endpoints"
    )
    parser.add_argument(
        "--database-url", default=None, help="overrides LINKING_DATABASE_URL (SQLite file default)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = LinkingSettings(**overrides)
    try:
        app = create_app(settings, demo=args.demo)
    except InsecureSettings as error:
        raise SystemExit(f"linking backend refuses to start: {error}") from None
    logging.getLogger(__name__).info(
        "linking backend on http://%s:%d (demo=%s)", args.host, args.port, args.demo
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log_class=RouteAccessLogger)


if __name__ == "__main__":
    main()
