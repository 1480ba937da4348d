"""The simulated network of a teacher: whether her connection is flagged as VPN."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.db import rows_affected
from services.linking.errors import NotFound, VpnDetected
from services.linking.models import MeshAccount


async def ensure_no_vpn(
    session: AsyncSession, *, mesh_account_id: str | None = None, phone: str | None = None
) -> None:
    """Refuse with `vpn_detected` when the teacher (by MESH account or phone) is on VPN."""
    conditions = []
    if mesh_account_id is not None:
        conditions.append(MeshAccount.id == mesh_account_id)
    if phone is not None:
        conditions.append(MeshAccount.phone == phone)
    if not conditions:
        return
    flagged = await session.scalar(
        select(MeshAccount.id).where(or_(*conditions), MeshAccount.vpn_enabled.is_(True)).limit(1)
    )
    if flagged is not None:
        raise VpnDetected()


async def set_vpn(
    session: AsyncSession, enabled: bool, *, mesh_account_id: str | None, phone: str | None
) -> None:
    """The sandbox's VPN switch, for one MESH account or every account with that phone."""
    condition = MeshAccount.id == mesh_account_id if mesh_account_id else MeshAccount.phone == phone
    result = await session.execute(
        update(MeshAccount)
        .where(condition)
        .values(vpn_enabled=enabled)
        .execution_options(synchronize_session=False)
    )
    if rows_affected(result) == 0:
        raise NotFound("No MESH account matches.")
