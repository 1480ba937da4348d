"""`python -m bot.observability.probe URL`: a container health check without curl or aiogram.

Run every few seconds by Docker, so it imports nothing heavy (not even `bot/__main__`).
"""

from __future__ import annotations

import logging
import sys
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)
PROBE_TIMEOUT = 5.0


def probe(url: str) -> int:
    """0 when `url` answers 200 within the timeout, else 1 (the exit code)."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
            status = response.status
    except (urllib.error.URLError, OSError) as error:
        logger.error("probe %s failed: %s", url, error)
        return 1
    if status != 200:
        logger.error("probe %s answered %d", url, status)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bot.observability.probe URL")
    sys.exit(probe(sys.argv[1]))
