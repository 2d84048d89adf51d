"""The query a host pulls its exports through (the ``gatewayExports`` field)."""

from __future__ import annotations

from sqlalchemy import Select, select  # noqa: TID251 - a pure builder; the API marks it

import models as m
from exports.grants import host_may_receive


def visible_exports_query(host_org_id: int) -> Select[m.GatewayExport]:
    """The exports of one host that it may still read, newest first.

    An export stays readable while the factory holds an active ASSESSMENT grant to the host
    (not revoked, not expired by the database clock). That is any such grant, not only the
    one the export was made under: revoking hides the export at once, and a factory that
    grants the host again shows it again (the job never writes a cycle twice for one host).

    Returns an unmarked statement; the API layer adds its scoping marker, filters and
    pagination.
    """
    return (
        select(m.GatewayExport)
        .where(
            m.GatewayExport.host_id == host_org_id,
            host_may_receive(m.GatewayExport.factory_id, m.GatewayExport.host_id),
        )
        .order_by(m.GatewayExport.created_at.desc(), m.GatewayExport.id.desc())
    )
