"""«Информация о себе»: every reason code, alone and together."""

from __future__ import annotations

from typing import Any

import pytest

from tests.linking.http_api import Api

VALID = {"full_name": "Кузнецов Андрей Сергеевич", "birth_date": "1986-09-03", "gender": "male"}
# The FakeClock starts on 2026-11-25.
CASES = [
    ({"full_name": "Kuznetsov Andrey"}, {"full_name": "not_cyrillic"}),
    ({"full_name": "Кузнецов Andrey"}, {"full_name": "not_cyrillic"}),
    ({"full_name": "Кузнецов2 Андрей"}, {"full_name": "not_cyrillic"}),
    ({"full_name": "Кузнецов"}, {"full_name": "too_short"}),
    ({"full_name": "   "}, {"full_name": "too_short"}),
    ({"full_name": "Кузнецов " + "А" * 100}, {"full_name": "too_long"}),
    ({"birth_date": "03.09.1986"}, {"birth_date": "invalid"}),
    ({"birth_date": "1986-02-30"}, {"birth_date": "invalid"}),
    ({"birth_date": "2027-01-01"}, {"birth_date": "invalid"}),
    ({"birth_date": "2008-11-26"}, {"birth_date": "too_young"}),
    ({"birth_date": "1925-11-25"}, {"birth_date": "too_old"}),  # 101 today
    ({"gender": "other"}, {"gender": "invalid"}),
    (
        {"full_name": "Kuznetsov", "birth_date": "x", "gender": "f"},
        {"full_name": "not_cyrillic", "birth_date": "invalid", "gender": "invalid"},
    ),
]


@pytest.fixture
async def at_personal_data(api: Api) -> dict[str, Any]:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    return await api.enter_code(flow, teacher["phone"])


@pytest.mark.parametrize(("change", "reasons"), CASES)
async def test_rejected_personal_data_names_each_reason(
    api: Api, at_personal_data: dict[str, Any], change: dict[str, str], reasons: dict[str, str]
) -> None:
    flow_id = at_personal_data["flow_id"]
    error = await api.refused(
        "POST",
        f"/v1/flows/{flow_id}/personal-data",
        {**VALID, **change},
        "invalid_personal_data",
        422,
    )
    assert error["fields"] == reasons
    assert (await api.get_flow(flow_id))["state"] == "personal_data"


async def test_boundaries_are_accepted_and_names_normalised(
    api: Api, at_personal_data: dict[str, Any]
) -> None:
    data = {
        "full_name": "  Петрова-Водкина   Анна  ",
        "birth_date": "2008-11-25",  # 18 today
        "gender": "female",
    }
    flow = await api.step(at_personal_data["flow_id"], "personal-data", data)
    assert flow["personal_data"]["full_name"] == "Петрова-Водкина Анна"
    assert flow["state"] == "consent"
    # «Назад» from consent: the data can be corrected again.
    flow = await api.step(flow["flow_id"], "personal-data", {**data, "birth_date": "1926-11-25"})
    assert flow["state"] == "consent" and flow["personal_data"]["birth_date"] == "1926-11-25"
