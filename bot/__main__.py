"""`python -m bot`: the sandbox without BOT_TOKEN, else `--polling` (default) or `--webhook URL`."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.app import run_polling, run_webhook
from bot.config import Settings
from bot.replica_guard import ReplicaConflict


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--polling", action="store_true", help="long polling (the default)")
    mode.add_argument("--webhook", metavar="URL", help="serve a webhook at this public URL")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    try:
        if settings.bot_token is None:
            from services.sandbox.runner import run_sandbox

            asyncio.run(run_sandbox(settings))
        elif args.webhook:
            asyncio.run(run_webhook(settings, args.webhook))
        else:
            asyncio.run(run_polling(settings))
    except ReplicaConflict as conflict:
        logging.getLogger("bot").critical("not starting: %s", conflict)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
