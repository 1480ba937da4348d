"""Simulated linking backend: VK ID + Sferum + MESH, strict like the real services.

`create_app` builds the aiohttp application; `python -m services.linking` runs it alone;
`services.linking.in_process.serve_backend` serves it on loopback for tests.
"""

from services.clock import Clock, FakeClock, SystemClock
from services.linking.app import create_app
from services.linking.settings import LinkingSettings

__all__ = ["Clock", "FakeClock", "LinkingSettings", "SystemClock", "create_app"]
