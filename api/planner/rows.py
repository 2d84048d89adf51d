"""The columns of each level's rows, by position: what the generated builders index.

Assessment and finding pages are :func:`authz.paging.first_per_parent` rows
(``columns=True``): the mapped columns in mapper order, then the extras. The factory page
selects the few columns a factory's fields read, and its country's beside them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

import models as m


def _positions(entity: Any, extra: tuple[str, ...] = ()) -> dict[str, int]:
    names = [attr.key for attr in inspect(entity).column_attrs] + list(extra)
    return {name: i for i, name in enumerate(names)}


FACTORY_COLUMNS = (
    m.Factory.id,
    m.Factory.name,
    m.Factory.country_code,
    m.Factory.enrolled_on,
    m.Factory.high_performance,
)
COUNTRY_COLUMNS = (
    m.Country.code,
    m.Country.name,
    m.Country.slcp_rollout_on,
    m.Country.overlay_version,
    m.Country.betterwork_programme,
)
FACTORY = {column.key: i for i, column in enumerate(FACTORY_COLUMNS)}
COUNTRY = {column.key: len(FACTORY_COLUMNS) + i for i, column in enumerate(COUNTRY_COLUMNS)}
ASSESSMENT = _positions(m.Assessment, ("cycle_number",))
FINDING = _positions(m.Finding)
