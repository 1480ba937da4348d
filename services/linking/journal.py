"""The e-journal's side of the phone rule: the teacher confirms her number in her MESH profile.

A link flow accepts only the MESH account's phone. A teacher whose VK ID uses another number
confirms that number in the e-journal (signed in there as herself); the e-journal then calls
`POST /v1/mesh-accounts/{id}/phone` and the teacher sends the number to the bot again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.db import get
from services.linking.errors import NotFound, ensure_plausible_id
from services.linking.models import LinkFlow, MeshAccount
from services.linking.phones import mask_phone, validate_phone

logger = logging.getLogger(__name__)


async def confirm_phone(session: AsyncSession, mesh_account_id: str, phone: str) -> dict[str, Any]:
    """Record `phone` as the MESH account's number; answers the account id and masked phone."""
    phone = validate_phone(phone)
    mesh = await get(session, MeshAccount, ensure_plausible_id(mesh_account_id, "MESH account"))
    if mesh is None:
        raise NotFound(f"Unknown MESH account '{mesh_account_id}'.")
    mesh.phone = phone
    logger.info("MESH account %s confirmed phone %s", mesh.id, mask_phone(phone))
    return {"mesh_account_id": mesh.id, "phone_masked": mask_phone(phone)}


async def newest_flow(session: AsyncSession, mesh_account_id: str) -> LinkFlow | None:
    """The MESH account's most recent link flow (open or finished), for the e-journal's window."""
    return await session.scalar(
        select(LinkFlow)
        .where(LinkFlow.mesh_account_id == ensure_plausible_id(mesh_account_id, "MESH account"))
        .order_by(LinkFlow.created_at.desc(), LinkFlow.id.desc())
        .limit(1)
    )
