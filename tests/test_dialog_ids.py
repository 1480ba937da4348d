"""aiogram-dialog ids stay unique when many dialogs start in the same second."""

from aiogram_dialog.api.entities import stack

from bot.dialog_ids import install_unique_dialog_ids


def test_ids_started_in_one_second_never_collide_and_stay_short() -> None:
    install_unique_dialog_ids()
    ids = [stack.new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert max(len(i) for i in ids) <= 9, "ids travel in 64-byte callback data"
