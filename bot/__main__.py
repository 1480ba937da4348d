"""`python -m bot`: the sandbox without BOT_TOKEN, else `--polling` (default) or `--webhook [URL]`.

Operations: `python -m bot migrate` (the database to the newest schema, before starting) and
`python -m bot set-webhook [URL]` (once per deployment). Container health checks use
`python -m bot.observability.probe URL`, which does not load aiogram every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import run_polling
from bot.config import Settings
from bot.migrate import migrate
from bot.observability.logs import configure_logging
from bot.replica_guard import ReplicaConflict
from bot.sandbox import run_sandbox
from bot.webhook import WebhookConfigError, run_set_webhook, run_webhook

logger = logging.getLogger("bot")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--polling", action="store_true", help="long polling (the default)")
    mode.add_argument(
        "--webhook",
        metavar="URL",
        nargs="?",
        const="",
        help="serve the webhook of this public URL (default: WEBHOOK_URL)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("migrate", help="upgrade the bot database to the newest schema")
    set_webhook = commands.add_parser(
        "set-webhook", help="point Telegram at the webhook (once per deployment)"
    )
    set_webhook.add_argument("url", nargs="?", help="public HTTPS URL (default: WEBHOOK_URL)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        return migrate(settings)
    if settings.bot_token is None:
        if args.command or args.webhook is not None or args.polling:
            logger.error("BOT_TOKEN is not set")
            return 2
        asyncio.run(run_sandbox(settings))
        return 0
    try:
        if args.command == "set-webhook":
            asyncio.run(run_set_webhook(settings, args.url))
        elif args.webhook is not None:
            asyncio.run(run_webhook(settings, args.webhook or None))
        else:
            # Polling is one process by Telegram's rule (one getUpdates at a time), so it owns
            # the schema; webhook replicas only check it (`migrate` runs before them).
            if migrate(settings) != 0:
                return 1
            asyncio.run(run_polling(settings))
    except WebhookConfigError as error:
        logger.error("%s", error)
        return 2
    except ReplicaConflict as conflict:  # another live process on a one-process database
        logger.critical("not starting: %s", conflict)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
