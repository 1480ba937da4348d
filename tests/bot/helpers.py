"""Conversation helpers: demo teachers, their deep links, and the codes their phones receive."""

from __future__ import annotations

from dataclasses import dataclass

from services.linking_client import DemoCase, DevAccount, LinkingClient
from tests.support.fake_telegram import Person


@dataclass
class Demo:
    """The backend's demo teachers by case, and the dev endpoints tests read codes from."""

    linking: LinkingClient
    accounts: dict[str, DevAccount]

    @classmethod
    async def load(cls, linking: LinkingClient) -> Demo:
        accounts = await linking.dev_accounts()
        return cls(linking, {account.case: account for account in accounts})

    def __getitem__(self, case: str) -> DevAccount:
        return self.accounts[case]

    async def fresh(self, case: DemoCase) -> DevAccount:
        """A new teacher of `case` (also the cases made on request only); `self[case]` is her."""
        account = await self.linking.dev_create_account(case)
        self.accounts[case] = account
        return account

    async def token(self, case: str) -> str:
        """What the e-journal puts into t.me/<bot>?start=<token> for this teacher."""
        return (await self.linking.dev_link_token(self[case].mesh_account_id)).token

    async def confirm_phone(self, case: str, phone: str) -> None:
        """The teacher of `case` confirms `phone` as her number in the e-journal."""
        await self.linking.confirm_mesh_phone(self[case].mesh_account_id, phone)

    async def last_code(self, case: str) -> str:
        """The code the teacher's phone got last (call-reset digits or SMS)."""
        inbox = await self.linking.dev_inbox(self[case].phone)
        assert inbox, "no code was delivered to the phone"
        return inbox[-1].code

    async def codes_received(self, case: str) -> int:
        return len(await self.linking.dev_inbox(self[case].phone))


# --------------------------------------------------------------------------- walking the steps


async def open_from_journal(
    teacher: Person, demo: Demo, case: str, answer: str = "Не знаю"
) -> None:
    """The teacher opens the deep link, passes the pre-checks and answers the branch question."""
    await teacher.send("/start " + await demo.token(case))
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click(answer)


async def reach_password(teacher: Person, demo: Demo, case: str = "vkid_no_profile") -> None:
    """Scenario A up to the password window."""
    await open_from_journal(teacher, demo, case, "Нет")
    await teacher.send(demo[case].phone)
    await teacher.click("Создать учебный профиль")


async def reach_code(teacher: Person, demo: Demo, case: str = "vkid_no_profile") -> None:
    """Scenario A up to the code window (the call-reset code is on its way)."""
    await reach_password(teacher, demo, case)
    await teacher.send(demo[case].vk_password or "")


async def reach_personal_data(teacher: Person, demo: Demo, case: str = "vkid_no_profile") -> None:
    await reach_code(teacher, demo, case)
    await teacher.send(await demo.last_code(case))


async def fill_personal_data(teacher: Person, full_name: str, born: str, gender: str) -> None:
    await teacher.send(full_name)
    await teacher.send(born)
    await teacher.click(gender)
