"""The VK ID password window: attempts, lock, and the lock running out."""

from __future__ import annotations

from tests.linking.http_api import Api


async def test_wrong_passwords_count_down_then_lock_the_account(api: Api, backend) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    path = f"/v1/flows/{flow['flow_id']}/password"
    limit = backend.settings.password_max_attempts
    for left in range(limit - 1, 0, -1):
        error = await api.refused("POST", path, {"password": "wrong-Pass1!"}, "wrong_password", 422)
        assert error["attempts_left"] == left
    error = await api.refused("POST", path, {"password": "wrong-Pass1!"}, "password_locked", 423)
    assert error["retry_after"] == backend.settings.password_lock_seconds

    # Locked: even the right password waits, and the lock holds for this end user on this
    # VK ID in any flow (another MESH account whose e-journal knows the number).
    api.clock.advance(100)
    error = await api.refused(
        "POST", path, {"password": teacher["vk_password"]}, "password_locked", 423
    )
    assert error["retry_after"] == backend.settings.password_lock_seconds - 100
    colleague = await api.teacher("no_vkid")
    await api.confirm_phone(colleague["mesh_account_id"], teacher["phone"])
    other = await api.start_flow(colleague["mesh_account_id"])
    other = await api.step(other["flow_id"], "phone", {"phone": teacher["phone"]})
    await api.refused(
        "POST",
        f"/v1/flows/{other['flow_id']}/password",
        {"password": teacher["vk_password"]},
        "password_locked",
        423,
    )

    api.clock.advance(backend.settings.password_lock_seconds - 100)
    flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    assert flow["state"] == "code"


async def test_right_password_resets_the_count(api: Api, backend) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    path = f"/v1/flows/{flow['flow_id']}/password"
    await api.refused("POST", path, {"password": "nope"}, "wrong_password", 422)
    await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    api.clock.advance(56)  # the same number again counts as a resend
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert flow["state"] == "password"
    error = await api.refused("POST", path, {"password": "nope"}, "wrong_password", 422)
    assert error["attempts_left"] == backend.settings.password_max_attempts - 1


async def test_password_step_only_in_password_state(api: Api) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    error = await api.refused(
        "POST",
        f"/v1/flows/{flow['flow_id']}/password",
        {"password": teacher["vk_password"]},
        "wrong_state",
        409,
    )
    assert error["state"] == "phone"
