"""`db upgrade` leaves every database with the countries and the question catalogue.

Given an empty database (SQLite file, or a PostgreSQL database of the test's own), when the
migrations run, then it holds every ISO 3166-1 country (Better Work's five with their
programme flag, roll-out date and overlay) and the shipped catalogue of each of the five;
loading the shipped catalogue again changes nothing; a database seeded before revision
0003 keeps the catalogue it had.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.db import make_engine
from reference import catalogue
from reference.loader import load_reference
from tests.test_migrations import upgrade

FIVE = {"ID", "BD", "VN", "KH", "ET"}


async def run(url: str, work: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def dump(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))]  # noqa: S608
        for table, key in (("country", "code"), ("question", "id"))
    }


def sql(statement: str) -> Any:
    return lambda conn: conn.execute(text(statement)).all()


async def test_upgrade_loads_every_country_and_the_catalogue(empty_url: str) -> None:
    await upgrade(empty_url)

    # Raw SQL: SQLite hands back dates as text and flags as 0/1.
    countries = {
        row[0]: (row[1], bool(row[2]), None if row[3] is None else str(row[3]), row[4])
        for row in await run(
            empty_url,
            sql(
                "SELECT code, name, betterwork_programme, slcp_rollout_on, overlay_version"
                " FROM country"
            ),
        )
    }
    questions = await run(
        empty_url,
        sql(
            "SELECT country_code, tool_version, overlay_version, count(*) FROM question"
            " GROUP BY country_code, tool_version, overlay_version"
        ),
    )

    assert len(countries) == 249
    assert countries["ID"] == ("Indonesia", True, "2021-05-31", "2021.1")
    assert countries["KH"] == ("Cambodia", True, None, None)
    assert countries["FR"] == ("France", False, None, None)
    assert {code for code, c in countries.items() if c[1]} == FIVE
    size = len(catalogue().questions)
    assert sorted(tuple(q) for q in questions) == sorted(
        (code, "CAF 1.4", "2021.1", size) for code in FIVE
    )


async def test_loading_the_shipped_catalogue_again_changes_nothing(empty_url: str) -> None:
    await upgrade(empty_url)
    before = await run(empty_url, dump)

    report = await run(empty_url, lambda conn: load_reference(conn, catalogue()))

    assert report.countries_added == 0
    assert report.versions_added == []
    assert len(report.versions_unchanged) == len(FIVE)
    assert await run(empty_url, dump) == before


async def test_a_database_seeded_before_the_revision_keeps_its_catalogue(empty_url: str) -> None:
    await upgrade(empty_url, "0002")
    await run(
        empty_url,
        lambda conn: conn.execute(
            text(
                "INSERT INTO country (code, name, betterwork_programme, slcp_rollout_on,"
                " overlay_version) VALUES ('ID', 'Indonesia (as seeded)', true, '2021-05-31',"
                " '2021.1')"
            )
        ),
    )
    await run(
        empty_url,
        lambda conn: conn.execute(
            text(
                "INSERT INTO question (country_code, overlay_version, code, cluster,"
                " compliance_point, caf_ref, step, public_reporting, zero_tolerance) VALUES"
                " ('ID', '2021.1', 'CL.01.1', 'CHILD_LABOUR', 'Child labourers', 'RH-CL01-01',"
                " 1, true, true)"
            )
        ),
    )

    await upgrade(empty_url)

    kept = await run(
        empty_url,
        sql("SELECT code, tool_version FROM question WHERE country_code = 'ID'"),
    )
    name = await run(empty_url, sql("SELECT name FROM country WHERE code = 'ID'"))
    others = await run(empty_url, sql("SELECT count(DISTINCT country_code) FROM question"))
    assert [tuple(r) for r in kept] == [("CL.01.1", "CAF 1.4")]
    assert [tuple(r) for r in name] == [("Indonesia (as seeded)",)]
    assert others == [(len(FIVE),)]
