"""Fixtures every test folder may use live in tests/support/fixtures.py."""

pytest_plugins = ["tests.support.fixtures"]
