"""A sweep of hostile request bodies over every POST route."""

from __future__ import annotations

from tests.linking.http_api import Api


async def assert_hostile_bodies_get_4xx(api: Api) -> None:
    """Every POST route, every field mistyped or absurd: a 4xx (or a success), never a 5xx."""
    teacher = await api.teacher("forgot_password_app")
    flow = await api.start_flow(teacher["mesh_account_id"])
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    flow_path = f"/v1/flows/{flow['flow_id']}"
    recovery_path = f"/v1/recoveries/{recovery['recovery_id']}"
    routes = [
        "/v1/link-tokens",
        "/v1/flows",
        *(
            f"{flow_path}/{action}"
            for action in (
                "phone",
                "password",
                "code",
                "code/verify",
                "profile",
                "switch-account",
                "personal-data",
                "consent",
                "restart",
            )
        ),
        "/v1/recoveries",
        *(
            f"{recovery_path}/{action}"
            for action in (
                "code",
                "code/verify",
                "confirm",
                "method",
                "method/code",
                "method/verify",
                "friends/code",
                "friends/verify",
                "password",
                "password/confirm",
            )
        ),
        "/dev/link-token",
        "/dev/vpn",
    ]
    fields = [
        *("mesh_account_id", "token", "phone", "password", "channel", "code", "profile_id"),
        *("full_name", "birth_date", "gender", "decision", "flow_id", "confirmed", "method"),
        *("logout_other_sessions", "enabled"),
    ]
    hostile_values = [None, 0, -1, 1.5, True, [], {}, "", " ", "x" * 5000, "\u0000", "💥"]
    bodies = [[], "text", 42, None, *({name: value for name in fields} for value in hostile_values)]
    for route in routes:
        for body in bodies:
            reply = await api.call("POST", route, body)
            assert 400 <= reply.status < 500 or reply.status in (200, 201), (route, body, reply)
            assert reply.status < 500, (route, body, reply)
