"""Writes countries and a question catalogue into the database, idempotently.

Called by the migration that makes reference data part of the schema (``0003``), by
``millgate catalogue load FILE`` and by test and demo worlds built with ``create_all``. It
speaks SQLAlchemy Core on a synchronous ``Connection`` (Alembic's ``op.get_bind()``, or
``AsyncConnection.run_sync``) through table descriptions of its own, so a migration does not
follow the ORM models as they change later; and it reads reference data only, no row of any
organisation, which is why it stands outside the scoped query builder.

Rules:
- A country missing from the database is added (every ISO 3166-1 country; the catalogue's
  countries with their Better Work flag, roll-out date and overlay version). A country that
  exists is left as it is: its roll-out date is the platform's to change.
- A catalogue version (country, tool version, overlay version) is added once and never
  changed: loading the same questions again changes nothing, loading other questions under a
  loaded version is refused. The newest loaded version (highest question ids) is a country's
  current one; findings and answers keep the version they were recorded under.
- A rolled-out country whose new overlay version is loaded moves to it.

Example:
    async with engine.begin() as conn:
        report = await conn.run_sync(load_reference, parse_text(path.read_text()))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import select  # noqa: TID251 - reference data only, see the docstring
from sqlalchemy.engine import Connection

from core.errors import CatalogueError
from reference import Catalogue, iso_countries

country = sa.table(
    "country",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("betterwork_programme", sa.Boolean),
    sa.column("slcp_rollout_on", sa.Date),
    sa.column("overlay_version", sa.String),
)
question = sa.table(
    "question",
    sa.column("id", sa.Integer),
    sa.column("country_code", sa.String),
    sa.column("tool_version", sa.String),
    sa.column("overlay_version", sa.String),
    sa.column("code", sa.String),
    sa.column("cluster", sa.String),
    sa.column("compliance_point", sa.String),
    sa.column("caf_ref", sa.String),
    sa.column("step", sa.Integer),
    sa.column("public_reporting", sa.Boolean),
    sa.column("zero_tolerance", sa.Boolean),
)
_COMPARED = (
    "code",
    "cluster",
    "compliance_point",
    "caf_ref",
    "step",
    "public_reporting",
    "zero_tolerance",
)


@dataclass
class LoadReport:
    """What a load changed: countries added, versions added, versions already there."""

    countries_added: int = 0
    versions_added: list[str] = field(default_factory=list)
    versions_unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.countries_added} countries added; "
            f"{len(self.versions_added)} catalogue versions added"
            f"{' (' + ', '.join(self.versions_added) + ')' if self.versions_added else ''}; "
            f"{len(self.versions_unchanged)} already loaded"
        )


def _rows(ref: Catalogue, code: str, overlay: str) -> list[dict[str, object]]:
    return [
        {
            "country_code": code,
            "tool_version": ref.tool_version,
            "overlay_version": overlay,
            "code": q.code,
            "cluster": None if q.cluster is None else q.cluster.value,
            "compliance_point": q.compliance_point,
            "caf_ref": q.caf_ref,
            "step": ref.step_of(q.caf_ref),
            "public_reporting": q.public_reporting,
            "zero_tolerance": q.zero_tolerance,
        }
        for q in ref.questions.values()
    ]


def _load_countries(conn: Connection, ref: Catalogue, with_world: bool) -> int:
    present = set(conn.scalars(select(country.c.code)))
    listed = {c.code: c for c in ref.countries}
    names = iso_countries() if with_world else {}
    added = []
    for code in sorted(set(names) | set(listed)):
        if code in present:
            continue
        entry = listed.get(code)
        added.append(
            {
                "code": code,
                "name": entry.name if entry else names[code],
                "betterwork_programme": bool(entry and entry.betterwork_programme),
                "slcp_rollout_on": entry.slcp_rollout_on if entry else None,
                "overlay_version": (
                    entry.overlay_version if entry and entry.slcp_rollout_on else None
                ),
            }
        )
    if added:
        conn.execute(country.insert(), added)
    return len(added)


def load_reference(
    conn: Connection, ref: Catalogue, *, with_world: bool = True, strict: bool = True
) -> LoadReport:
    """Adds what of ``ref`` the database lacks (see the module docstring).

    A loaded version whose questions differ from ``ref``'s raises CatalogueError (the caller
    rolls back) when ``strict``; otherwise it is kept as it is, as the migration keeps the
    catalogue a database was seeded with before versions existed.
    """
    report = LoadReport(countries_added=_load_countries(conn, ref, with_world))
    for entry in ref.countries:
        label = f"{entry.code} {ref.tool_version} / {entry.overlay_version}"
        version = (
            question.c.country_code == entry.code,
            question.c.tool_version == ref.tool_version,
            question.c.overlay_version == entry.overlay_version,
        )
        wanted = _rows(ref, entry.code, entry.overlay_version)
        stored = conn.execute(
            select(*(question.c[name] for name in _COMPARED)).where(*version)
        ).all()
        if stored:
            same = {tuple(r) for r in stored} == {tuple(w[n] for n in _COMPARED) for w in wanted}
            if strict and not same:
                raise CatalogueError(
                    f"countries ({entry.code}): catalogue {ref.tool_version} / overlay "
                    f"{entry.overlay_version} is loaded with other questions; a changed "
                    "catalogue needs a new toolVersion or overlayVersion"
                )
            report.versions_unchanged.append(label)
        else:
            conn.execute(question.insert(), wanted)
            report.versions_added.append(label)
            # A country whose overlay is signed off follows its newest loaded overlay.
            conn.execute(
                country.update()
                .where(country.c.code == entry.code, country.c.slcp_rollout_on.is_not(None))
                .values(overlay_version=entry.overlay_version)
            )
    return report
