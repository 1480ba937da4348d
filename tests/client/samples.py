"""Answers shaped like docs/linking-api.md, for stub servers and parsing tests."""

MESH_ACCOUNT = {
    "id": "mesh-1001",
    "full_name": "Иванова Мария Петровна",
    "school": "ГБОУ Школа № 1234",
}
PROFILE = {
    "profile_id": "sf-1",
    "full_name": "Иванова Мария Петровна",
    "birth_date": "1985-03-14",
    "gender": "female",
    "school": "ГБОУ Школа № 1234",
}
CHALLENGE = {
    "challenge_id": "ch-1",
    "channel": "call",
    "code_length": 4,
    "sent_to": "+7 *** ***-**-67",
    "expires_at": "2026-11-25T07:10:00Z",
    "resend_available_at": "2026-11-25T07:00:56Z",
    "resend_after": 56,
    "attempts_left": 5,
}
FLOW = {
    "flow_id": "fl-1",
    "state": "code",
    "scenario": "existing_profile",
    "mesh_account": MESH_ACCOUNT,
    "phone_masked": "+7 *** ***-**-67",
    "vk_account": {"masked_name": "Мария И.", "session_authorised": False},
    "challenge": CHALLENGE,
    "profiles": [PROFILE],
    "personal_data": None,
    "linked_profile": None,
    "expires_at": "2026-11-26T07:00:00Z",
}
RECOVERY = {
    "recovery_id": "rc-1",
    "state": "method",
    "phone_masked": "+7 *** ***-**-67",
    "account": {"masked_name": "Мария И."},
    "methods": ["totp", "email", "friends"],
    "email_masked": "ma***@mail.ru",
    "challenge": None,
    "logout_other_sessions": None,
}
