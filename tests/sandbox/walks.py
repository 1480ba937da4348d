"""Steps a teacher takes in the sandbox page, shared by the end-to-end tests (polling, webhook)."""

from __future__ import annotations


async def start_linking(teacher, *, has_profile: str) -> None:
    await teacher.opens_from_journal()
    await teacher.press("Начнём")
    await teacher.press("VPN выключен")
    await teacher.press(has_profile)
    await teacher.shares_contact()


async def enter_password(teacher, password: str) -> None:
    await teacher.sees("Пароль от VK ID")
    sent = await teacher.says(password)
    await teacher.live.wait(
        lambda: True if teacher.message_is_gone(sent["message_id"]) else None,
        "the password message to be deleted",
    )


async def confirm_with_call_code(teacher) -> None:
    await teacher.sees("Подтвердите вход")
    await teacher.says(await teacher.reads_code("call"))


async def link_new_profile(teacher) -> None:
    """Scenario A from the e-journal to «успешно привязан»."""
    await start_linking(teacher, has_profile="Нет")
    await teacher.press("Создать учебный профиль")
    await enter_password(teacher, teacher.teacher.vk_password)
    await confirm_with_call_code(teacher)
    await teacher.sees("ФИО")
    await teacher.says(teacher.teacher.full_name)
    await teacher.sees("дату рождения")
    await teacher.says("14.03.1985")
    await teacher.press("Мужской")
    await teacher.press("Всё верно")
    await teacher.sees("Добавление профиля Сферум")
    await teacher.press("Привязать")
    await teacher.sees("успешно привязан")


async def link_existing_profile(teacher, *, password_asked: bool = True) -> None:
    """Scenario B from the e-journal to «успешно привязан»."""
    await start_linking(teacher, has_profile="Да")
    if password_asked:
        await enter_password(teacher, teacher.teacher.vk_password)
    await confirm_with_call_code(teacher)
    await teacher.sees("Ваш профиль для связки")
    await teacher.press("Продолжить")
    await teacher.press("Всё верно")
    await teacher.press("Привязать")
    await teacher.sees("успешно привязан")
