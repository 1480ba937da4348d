"""A throwaway PostgreSQL database per test for the linking backend.

Skipped when the server is not reachable, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

ADMIN_DSN = os.environ.get("LINKING_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """`postgresql+asyncpg://…/<fresh database>`, dropped after the test."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {error!r}")
        pytest.skip(f"PostgreSQL unreachable: {error!r}")
    name = f"linking_test_{uuid.uuid4().hex[:16]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
