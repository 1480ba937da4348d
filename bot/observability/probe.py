"""`python -m bot probe URL`: a health check for containers that have Python but no curl."""

from __future__ import annotations

import logging
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
