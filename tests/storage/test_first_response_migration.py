"""The first-response revision fills the new columns of existing tickets from their message log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from tests.storage.test_migrations import alembic_config

BEFORE = "0a86603156a9"  # the initial tables
TICKET = (
    "INSERT INTO helpdesk_tickets (id, user_id, chat_id, teacher_name, status, opened_at)"
    " VALUES (?, ?, ?, 'T', 'open', '2026-11-25 07:00:00.000000')"
)
MESSAGE = (
    "INSERT INTO helpdesk_messages (ticket_id, at, direction, author_id, author_name, kind,"
    " delivered) VALUES (?, ?, ?, ?, ?, 'text', 1)"
)


def test_existing_tickets_get_their_first_operator_answer(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, BEFORE)
    with sqlite3.connect(path) as db:
        db.execute(TICKET, (1, 100, 100))
        db.execute(TICKET, (2, 200, 200))  # never answered
        db.executemany(
            MESSAGE,
            [
                (1, "2026-11-25 07:01:00.000000", "teacher", 100, None),
                (1, "2026-11-25 07:02:00.000000", "note", 7, "Ольга"),
                (1, "2026-11-25 07:03:00.000000", "refused", 8, "Павел"),
                (1, "2026-11-25 07:04:00.000000", "operator", 8, "Павел"),
                (1, "2026-11-25 07:05:00.000000", "operator", 7, "Ольга"),
                (2, "2026-11-25 07:06:00.000000", "note", 7, "Ольга"),
            ],
        )

    command.upgrade(config, "head")

    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT id, first_response_at, first_responder_id, first_responder_name"
            " FROM helpdesk_tickets ORDER BY id"
        ).fetchall()
    assert rows == [
        (1, "2026-11-25 07:04:00.000000", 8, "Павел"),
        (2, None, None, None),
    ]
