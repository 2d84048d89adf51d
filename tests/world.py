"""The worlds tests run in, and what the database holds between tests.

Three ways to get rows: the demo world (`demo_world`: `demo` seeded once per database,
then restored from the copy the database keeps: `kept_world`, for any world), the
authorization worlds (`build_matrix_world`, `build_mutation_world`), and the export world
(`make_world`). Single rows come from the `make_*` builders in tests/builders.py.

Emptying, saving and restoring a world are each one script, one round trip to the server.

Keeping a world: a test marked `reads_only` does not empty the database when it ends, so
the next read-only test that asks for the same world finds it there and skips the copy. The
access events its reads logged are deleted (the next test reads a pristine log); a read-only
test that changed any other row count fails, and the database is emptied. (Every mutation
that succeeds appends to the audit trail, so the count check catches updates too.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import audit
import models as m
from authz.guard import system_read
from core.crypto import KeyMaterial
from demo import DemoWorld, seed_demo, seed_reference
from exports.job import run_once
from tests.builders import (
    ROLLOUT_ON,
    Host,
    days,
    make_catalogue,
    make_coded_finding,
    make_country,
    make_cycle_assessment,
    make_export,
    make_export_country,
    make_export_factory,
    make_export_grant,
    make_factory,
    make_grant,
    make_host,
    make_org,
    make_released_cycle,
    make_submitted_self_assessment,
    make_user,
)

# --- what the database holds between tests ------------------------------------------------

T = TypeVar("T")

EMPTY = ""


@dataclass
class _Held:
    world: str = EMPTY  # the world in the database, or EMPTY
    counts: tuple[int, ...] = ()  # its row counts when made
    last_access_event: int = 0  # the highest access_event id when made
    made_now: bool = False  # set when the running test asked for it


_HELD: dict[str, _Held] = {}  # by database URL, in this test process


def _held(engine: AsyncEngine) -> _Held:
    return _HELD.setdefault(str(engine.url), _Held())


def tables_made(engine: AsyncEngine) -> None:
    """The database's tables were (re)made empty: it holds no world. (pytest makes a
    backend's `engine` again when a process comes back to that backend after tests of the
    other, as when it takes tests queued for another process; PostgreSQL's database is the
    same, and keeps its saved worlds, but its tables are new.)"""
    _HELD[str(engine.url)] = _Held()


def keeps_world(node: pytest.Item) -> bool:
    """Whether this test only reads (marked `reads_only`, and not `writes`)."""
    return (
        node.get_closest_marker("reads_only") is not None
        and node.get_closest_marker("writes") is None
    )


def _sql_script(engine: AsyncEngine, statements: list[str]) -> str:
    return "BEGIN; " + "; ".join(statements) + "; COMMIT"


async def _run_script(engine: AsyncEngine, statements: list[str]) -> None:
    """The statements in one transaction and one round trip (the driver's own script call:
    no parameters, our own table names only)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        script = _sql_script(engine, statements)
        if engine.dialect.name == "postgresql":
            await driver.execute(script)
        else:
            await driver.executescript(script)


def _tables() -> list[Any]:
    """Our tables, parents first."""
    return list(m.Base.metadata.sorted_tables)


def _restart_sequences(engine: AsyncEngine) -> list[str]:
    """PostgreSQL: each id sequence moved past the highest id in its table (1 when empty)."""
    if engine.dialect.name != "postgresql":
        return []  # SQLite takes the next id from the rows themselves
    last = 'COALESCE((SELECT max(id) FROM "{}"), 0)'  # our own table names only
    moves = [
        f"setval(pg_get_serial_sequence('\"{t.name}\"', 'id'), {last.format(t.name)} + 1, false)"
        for t in _tables()
        if "id" in t.c and t.c.id.primary_key and t.c.id.autoincrement
    ]
    return ["SELECT " + ", ".join(moves)]


async def empty_database(engine: AsyncEngine, *, only_if_used: bool = False) -> None:
    """DELETE every row, children first, and restart the id sequences, in one round trip.

    (TRUNCATE would be simpler, but costs PostgreSQL about a second a test.)
    """
    held = _held(engine)
    if only_if_used and held.world == EMPTY:
        return
    deletes = [f'DELETE FROM "{t.name}"' for t in reversed(_tables())]  # noqa: S608 - ours
    await _run_script(engine, deletes + _restart_sequences(engine))
    _HELD[str(engine.url)] = _Held()


async def _row_counts(engine: AsyncEngine) -> tuple[int, ...]:
    names = [t.name for t in m.Base.metadata.sorted_tables]
    counts = ", ".join(f'(SELECT count(*) FROM "{n}")' for n in names)  # noqa: S608 - ours
    async with engine.connect() as conn:
        row = (await conn.execute(text(f"SELECT {counts}"))).one()
    return tuple(int(n) for n in row)


async def _keep(engine: AsyncEngine, name: str) -> bool:
    """True when the database already holds `name` for this test; else empties it."""
    held = _held(engine)
    held.made_now = True
    if held.world == name:
        return True
    if held.world != EMPTY:
        await empty_database(engine)
        _held(engine).made_now = True
    return False


async def _made(engine: AsyncEngine, name: str) -> None:
    held = _held(engine)
    held.world, held.counts = name, await _row_counts(engine)
    async with engine.connect() as conn:
        last = await conn.scalar(text("SELECT max(id) FROM access_event"))
    held.last_access_event = int(last or 0)


async def leave_world(engine: AsyncEngine, node: pytest.Item) -> None:
    """After a read-only test: keep the world it read, if it wrote nothing."""
    held = _held(engine)
    if not held.made_now:  # it built its rows by hand: nothing to keep
        await empty_database(engine)
        return
    held.made_now = False
    async with engine.begin() as conn:  # reading logs access events: forget this test's
        await conn.execute(
            text("DELETE FROM access_event WHERE id > :last"), {"last": held.last_access_event}
        )
    if await _row_counts(engine) != held.counts:
        await empty_database(engine)
        pytest.fail(f"{node.nodeid} is marked reads_only but changed rows; mark it `writes`")


# --- worlds kept inside the database ----------------------------------------------------

_BUILT: dict[tuple[str, str], Any] = {}  # (database URL, world) -> what its builder returned


def _copy_of(engine: AsyncEngine, world: str, table: str) -> str:
    """Where the database keeps its copy of `table` as `world` left it."""
    name = "".join(c if c.isalnum() else "_" for c in world)
    if engine.dialect.name == "postgresql":
        return f'"world_{name}"."{table}"'
    return f'"world_{name}__{table}"'


async def _save(engine: AsyncEngine, world: str) -> None:
    """Copies every table into the database itself (PostgreSQL: a schema of its own; SQLite:
    tables beside ours), so that a restore is one statement a table, run by the server."""
    copies = [(t.name, _copy_of(engine, world, t.name)) for t in _tables()]
    if engine.dialect.name == "postgresql":
        schema = copies[0][1].split(".")[0]
        statements = [f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}"]
    else:
        statements = [f"DROP TABLE IF EXISTS {copy}" for _, copy in copies]
    statements += [
        f'CREATE TABLE {copy} AS SELECT * FROM "{table}"'  # noqa: S608 - our tables
        for table, copy in copies
    ]
    await _run_script(engine, statements)


async def _restore(engine: AsyncEngine, world: str) -> None:
    """The saved world back into the (empty) tables, parents first, in one round trip."""
    inserts = [
        f'INSERT INTO "{t.name}" SELECT * FROM {_copy_of(engine, world, t.name)}'  # noqa: S608
        for t in _tables()
    ]
    await _run_script(engine, inserts + _restart_sequences(engine))


async def kept_world(engine: AsyncEngine, name: str, build: Callable[[], Awaitable[T]]) -> T:
    """The world `name`, committed: `build` makes it (and commits) the first time in this
    database; later tests get the copy the database keeps, restored by the server in one round
    trip, or, when read-only, the world an earlier read-only test left (see `keeps_world`).
    `build` returns plain values (ids, names, keys) that stay true for every copy; it may
    itself start from another kept world."""
    key = (str(engine.url), name)
    if await _keep(engine, name):
        return cast(T, _BUILT[key])
    if key in _BUILT:
        await _restore(engine, name)
    else:
        built = await build()
        await _save(engine, name)
        _BUILT[key] = built
    await _made(engine, name)
    return cast(T, _BUILT[key])


# --- the demo world -----------------------------------------------------------------------


async def demo_world(
    session: AsyncSession, keys: KeyMaterial, api: Any, backend: str | None = None
) -> DemoWorld:
    """The demo world, committed: seeded by `demo` once per database (see `kept_world`).
    (`backend` is accepted for older callers; the database URL tells the backends apart.)"""
    return await demo_world_in(api.runtime.engine, session, keys)


async def demo_world_in(engine: AsyncEngine, session: AsyncSession, keys: KeyMaterial) -> DemoWorld:
    """`demo_world` for a test without an app: `engine` is the test's database (`db`)."""

    async def seed() -> DemoWorld:
        await seed_reference(session)
        seeded = await seed_demo(session, keys)
        await session.commit()
        return seeded

    return await kept_world(engine, "demo", seed)


async def demo_exported(session: AsyncSession, keys: KeyMaterial, api: Any) -> DemoWorld:
    """The demo world after one run of the export job (a row of every Node type), committed:
    made once per database from the kept demo, then restored or kept (see `kept_world`)."""

    async def build() -> DemoWorld:
        seeded = await demo_world(session, keys, api)
        await run_once(api.runtime.sessionmaker, api.runtime.keys)
        return seeded

    made = await kept_world(api.runtime.engine, "demo with exports", build)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection
    return made


async def seed_world(session: AsyncSession, keys: KeyMaterial, api: Any) -> DemoWorld:
    """The demo world (the adversarial tests' older name for `demo_world`)."""
    world = await demo_world(session, keys, api)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection
    return world


# --- callers of the demo world ------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A signed-in user of the demo: `api.gql(DOC, variables, **caller.auth)`."""

    email: str
    user_id: int
    organization_id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"token": self.token}


async def sign_in(api: Any, session: AsyncSession, email: str) -> Caller:
    """The user with this email, with a token as `millgate token issue` prints one."""
    row = (
        await session.execute(
            text("SELECT id, organization_id FROM app_user WHERE email = :email"),
            {"email": email},
        )
    ).one()
    await session.rollback()
    return Caller(email, row.id, row.organization_id, api.runtime.token_service.issue(row.id, 600))


@dataclass(frozen=True)
class People:
    """The adversarial tests' callers of the demo world."""

    manager: Caller  # Sinar's manager
    worker_rep: Caller  # Sinar's worker representative
    mitra_manager: Caller
    brand: Caller  # Northwind
    lumen: Caller  # Lumen Basics
    assessor: Caller  # Better Work Indonesia
    bd_assessor: Caller  # Better Work Bangladesh
    constituent: Caller
    inspectorate: Caller
    admin: Caller
    host_key: str  # Open Audit Hub's API key

    def by_name(self, name: str) -> dict[str, str]:
        """Credentials for `api.post(..., **people.by_name("brand"))`."""
        if name == "host":
            return {"api_key": self.host_key}
        if name == "anonymous":
            return {}
        caller: Caller = getattr(self, name)
        return caller.auth


@dataclass(frozen=True)
class Rows:
    """Primary keys of rows in the demo world, read straight from the database."""

    grants: dict[tuple[str, str], int]  # (factory slug, grantee slug) -> grant id
    assessments: dict[tuple[str, int], int]  # (factory name, cycle) -> assessment id
    drafts: set[int]
    finding_of: dict[int, int]  # assessment id -> one of its findings
    self_assessments: dict[str, int]  # factory name -> one self-assessment
    users: dict[str, int]  # email -> id
    api_key: int


# --- the authorization worlds (tests/authz) -----------------------------------------------
# ``build_matrix_world`` is one target factory **F** seen from every kind of caller: its own
# users, another factory, brands and hosts in every grant state, programmes, constituents,
# labour inspectorates, the platform and the anonymous public. Everything a test expects is
# written in the test's own table; this part only names the rows.

HOME = "ID"
ABROAD = "VN"
CL = m.ComplianceCluster.CHILD_LABOUR
FL = m.ComplianceCluster.FORCED_LABOUR
WT = m.ComplianceCluster.WORKING_TIME
DI = m.ComplianceCluster.DISCRIMINATION

# Grant states of the brands and hosts: (label suffix, scopes, expires in days, revoked, factory)
BOTH = (m.DataScope.ASSESSMENT, m.DataScope.SELF_ASSESSMENT)
GRANT_STATES: list[tuple[str, tuple[m.DataScope, ...], int | None, bool, str]] = [
    ("with active grant", BOTH, 30, False, "F"),
    ("with expired grant", BOTH, -1, False, "F"),
    ("with revoked grant", BOTH, None, True, "F"),
    ("with self-assessment scope only", (m.DataScope.SELF_ASSESSMENT,), None, False, "F"),
    ("with assessment scope only", (m.DataScope.ASSESSMENT,), None, False, "F"),
    ("with grant for another factory", BOTH, None, False, "G"),
]


@dataclass
class MatrixWorld:
    users: dict[str, m.User | None] = field(default_factory=dict)  # caller → user (None: anonymous)
    org_names: dict[str, str] = field(default_factory=dict)  # caller → organisation name
    factory_ids: dict[str, int] = field(default_factory=dict)  # "F", "G", "V", "fill1".."fill5"
    factory_names: dict[str, str] = field(default_factory=dict)
    assessment_ids: dict[int, int] = field(default_factory=dict)  # F's cycle → id
    finding_ids: dict[str, int] = field(default_factory=dict)  # question code → id (F's)
    finding_cycle: dict[str, int] = field(default_factory=dict)  # F's question code → cycle
    details: dict[str, str] = field(default_factory=dict)  # question code → plaintext detail
    # F's cycle → id: step 1 of cycles 1 and 2 (submitted), step 2 of cycle 3 (being filled in)
    self_assessment_ids: dict[int, int] = field(default_factory=dict)
    grant_ids: dict[str, int] = field(default_factory=dict)  # caller → id of its grant to F
    export_ids: dict[str, int] = field(default_factory=dict)  # host caller → id of its export
    api_keys: dict[str, str] = field(default_factory=dict)  # caller → its API key's secret


async def build_matrix_world(session: AsyncSession, keys: KeyMaterial) -> MatrixWorld:
    """F (registered with SLCP) and G in the home country, five filler factories there for
    statistics, V abroad. F has four cycles: 1 released long ago, 2 released (its latest),
    3 released with a release date to come, 4 a draft."""
    w = MatrixWorld()
    await make_country(session, HOME)
    await make_country(session, ABROAD)

    f = await make_factory(
        session,
        HOME,
        name="Target Factory",
        registered_on=days(-500),
        sharing_confirmed_on=days(-500),
        gateway_id="GW-TARGET",
    )
    g = await make_factory(session, HOME, name="Neighbour Factory")
    v = await make_factory(session, ABROAD, name="Abroad Factory")
    fillers = [await make_factory(session, HOME, name=f"Filler {n}") for n in range(1, 6)]
    for label, row in [("F", f), ("G", g), ("V", v)] + [
        (f"fill{n}", row) for n, row in enumerate(fillers, 1)
    ]:
        w.factory_ids[label] = row.id
        w.factory_names[label] = row.name

    # F's cycles: (cycle, assessed, released, findings (code, cluster, nc, public, zt, detail))
    Findings = list[tuple[str, m.ComplianceCluster, bool, bool, bool, str | None]]
    f_cycles: list[tuple[int, int, int | None, Findings]] = [
        (1, -400, -390, [("F1.PUB", DI, False, True, False, None)]),
        (
            2,
            -60,
            -40,
            [
                ("F2.PUB", CL, True, True, False, None),
                ("F2.ZT", FL, True, False, True, "F2: supervisor A. Rahman withheld passports"),
                ("F2.WT", WT, False, False, False, "F2: overtime records complete"),
            ],
        ),
        (
            3,
            -5,
            5,
            [
                ("F3.PUB", CL, True, True, False, None),
                ("F3.ZT", FL, True, False, True, "F3: not yet released"),
            ],
        ),
        (
            4,
            -2,
            None,
            [
                ("F4.PUB", CL, True, True, False, None),
                ("F4.ZT", FL, True, False, True, "F4: draft only"),
            ],
        ),
    ]
    f_cycle_rows: dict[int, m.ServiceCycle] = {}
    for number, assessed, released, findings in f_cycles:
        cyc, a = await make_cycle_assessment(
            session, f, number, assessed=assessed, released=released
        )
        f_cycle_rows[number] = cyc
        w.assessment_ids[number] = a.id
        for code, cluster, nc, public, zt, detail in findings:
            finding = await make_coded_finding(
                session,
                a,
                keys,
                code,
                cluster,
                non_compliant=nc,
                public=public,
                zero_tolerance=zt,
                detail=detail,
            )
            w.finding_ids[code] = finding.id
            w.finding_cycle[code] = number
            if detail is not None:
                w.details[code] = detail
    for number in (1, 2):
        sa = await make_submitted_self_assessment(session, keys, f_cycle_rows[number])
        w.self_assessment_ids[number] = sa.id
    # Step 2 of cycle 3 is being filled in: the factory's alone until submitted.
    in_progress = await make_submitted_self_assessment(session, keys, f_cycle_rows[3], step=2)
    in_progress.submitted_at = None
    await session.flush()
    w.self_assessment_ids[3] = in_progress.id

    g_cycle, g1 = await make_cycle_assessment(session, g, 1, assessed=-50, released=-30)
    await make_coded_finding(session, g1, keys, "G1.PUB", CL, non_compliant=False, public=True)
    await make_coded_finding(session, g1, keys, "G1.ZT", FL, zero_tolerance=True, detail="G1 case")
    await make_submitted_self_assessment(session, keys, g_cycle)
    _, v1 = await make_cycle_assessment(session, v, 1, assessed=-50, released=-30)
    await make_coded_finding(session, v1, keys, "V1.PUB", CL, public=True)
    await make_coded_finding(session, v1, keys, "V1.ZT", FL, zero_tolerance=True)
    for n, filler in enumerate(fillers, 1):
        # fill1-4 released (fill1 and fill2 non-compliant); fill5 only a draft
        _, a = await make_cycle_assessment(
            session, filler, 1, assessed=-50, released=None if n == 5 else -30
        )
        await make_coded_finding(session, a, keys, f"FILL{n}.CL", CL, non_compliant=n in (1, 2, 5))

    async def caller(
        label: str,
        kind: m.OrganizationKind,
        role: m.Role,
        *,
        country: str | None = None,
        inspectorate: bool = False,
        org: m.Organization | None = None,
    ) -> m.Organization:
        org = org or await make_org(
            session, kind, country=country, inspectorate=inspectorate, name=f"Org of {label}"
        )
        w.users[label] = await make_user(session, org, role)
        w.org_names[label] = org.name
        return org

    f_org = await session.scalar(
        system_read(
            select(m.Organization).where(m.Organization.id == f.organization_id), "test: F's org"
        )
    )
    g_org = await session.scalar(
        system_read(
            select(m.Organization).where(m.Organization.id == g.organization_id), "test: G's org"
        )
    )
    await caller("factory manager", m.OrganizationKind.FACTORY, m.Role.FACTORY_MANAGER, org=f_org)
    await caller(
        "worker representative", m.OrganizationKind.FACTORY, m.Role.WORKER_REPRESENTATIVE, org=f_org
    )
    await caller("another factory", m.OrganizationKind.FACTORY, m.Role.FACTORY_MANAGER, org=g_org)
    for kind, role, word in [
        (m.OrganizationKind.BRAND, m.Role.BRAND_VIEWER, "brand"),
        (m.OrganizationKind.HOST, m.Role.HOST_INTEGRATION, "host"),
    ]:
        await caller(f"{word} without grant", kind, role)
        for suffix, scopes, expires_in, revoked, target in GRANT_STATES:
            label = f"{word} {suffix}"
            org = await caller(label, kind, role)
            factory = f if target == "F" else g
            expires_at = None if expires_in is None else m.utcnow() + dt.timedelta(days=expires_in)
            grant = await make_grant(
                session, factory, org, scopes=scopes, expires_at=expires_at, revoked=revoked
            )
            if target == "F":
                w.grant_ids[label] = grant.id
            if word == "host" and suffix in (
                "with active grant",
                "with expired grant",
                "with revoked grant",
                "with grant for another factory",
            ):
                cyc = f_cycle_rows[2] if target == "F" else g_cycle
                export = await make_export(session, org, factory, cyc, grant)
                w.export_ids[label] = export.id
    await caller(
        "programme of the country", m.OrganizationKind.PROGRAMME, m.Role.ASSESSOR, country=HOME
    )
    await caller(
        "programme of another country",
        m.OrganizationKind.PROGRAMME,
        m.Role.ASSESSOR,
        country=ABROAD,
    )
    await caller(
        "constituent", m.OrganizationKind.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, country=HOME
    )
    await caller(
        "labour inspectorate",
        m.OrganizationKind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        country=HOME,
        inspectorate=True,
    )
    await caller(
        "labour inspectorate of another country",
        m.OrganizationKind.CONSTITUENT,
        m.Role.CONSTITUENT_VIEWER,
        country=ABROAD,
        inspectorate=True,
    )
    await caller("platform admin", m.OrganizationKind.PLATFORM, m.Role.PLATFORM_ADMIN)
    w.users["anonymous"] = None
    # Hosts are machine integrations: the host with the active grant also has an API key.
    host = w.users["host with active grant"]
    assert host is not None
    secret, prefix, digest = keys.api_keys.new_key()
    session.add(m.ApiKey(organization_id=host.organization_id, prefix=prefix, secret_hmac=digest))
    w.api_keys["host with active grant"] = secret

    # F's audit trail: a grant, and the records of its released cycle 2 and its draft cycle 4
    # (the draft's record is the programme's alone until the release).
    await audit.append(
        session,
        None,
        "consent.grant",
        f"ConsentGrant:{w.grant_ids['brand with active grant']}",
        factory_id=f.id,
    )
    for number in (2, 4):
        await audit.append(
            session,
            None,
            "assessment.record",
            f"Assessment:{w.assessment_ids[number]}",
            factory_id=f.id,
        )

    # F's access log is not empty: the brand with the active grant read F once.
    brand = w.users["brand with active grant"]
    assert brand is not None
    session.add(
        m.AccessEvent(
            factory_ids=[f.id],
            organization_id=brand.organization_id,
            user_id=brand.id,
            operation="seed:factory",
        )
    )
    await session.flush()
    return w


async def snapshot(session: AsyncSession) -> list[tuple[str, str]]:
    """Every row of every table, as (table, row as text), in one plain-SQL statement: what
    "changes nothing" compares."""
    dialect = session.get_bind().dialect.name
    parts = []
    for table in m.Base.metadata.sorted_tables:
        columns = [f'"{column.name}"' for column in table.columns]
        if dialect == "postgresql":
            row = f"CAST(ROW({', '.join(columns)}) AS TEXT)"
        else:
            row = " || ',' || ".join(f"quote({column})" for column in columns)
        # names of our own tables and columns only
        parts.append(f"SELECT '{table.name}' AS t, {row} AS r FROM \"{table.name}\"")  # noqa: S608
    query = text(" UNION ALL ".join(parts) + " ORDER BY 1, 2")
    return [(t, r) for t, r in (await session.execute(query)).all()]


@dataclass
class MutationWorld:
    users: dict[str, m.User | None] = field(default_factory=dict)  # caller → user
    ids: dict[str, int] = field(default_factory=dict)  # a target's name → its primary key


async def build_mutation_world(session: AsyncSession) -> MutationWorld:
    """The targets of every mutation, and a caller of every kind.

    F (home country, not registered with SLCP) has cycle 1 released, cycle 2 a draft assessed
    40 days ago (too late to release without the platform's override), cycle 3 a draft
    assessed 3 days ago; a brand and a host hold active grants to F.
    """
    w = MutationWorld()
    await make_country(session, HOME)
    await make_country(session, ABROAD)
    session.add(
        m.Question(
            country_code=HOME,
            overlay_version="2021.1",
            code="CL.01.1",
            cluster=CL,
            compliance_point="Child labourers",
            caf_ref="RH-CL01-01",
            step=1,
        )
    )
    f = await make_factory(session, HOME, name="Target Factory")
    g = await make_factory(session, HOME, name="Neighbour Factory")
    w.ids["F"] = f.id
    await make_cycle_assessment(session, f, 1, assessed=-60, released=-40)
    _, late = await make_cycle_assessment(session, f, 2, assessed=-40, released=None)
    _, draft = await make_cycle_assessment(session, f, 3, assessed=-3, released=None)
    released = await session.scalar(
        system_read(
            select(m.Assessment.id).where(
                m.Assessment.factory_id == f.id, m.Assessment.status == m.AssessmentStatus.RELEASED
            ),
            "test: F's released assessment",
        )
    )
    assert released is not None
    w.ids |= {"released assessment": released, "late draft": late.id, "draft": draft.id}

    async def caller(label: str, org: m.Organization, role: m.Role) -> None:
        w.users[label] = await make_user(session, org, role)

    async def org_of(factory: m.Factory) -> m.Organization:
        row = await session.scalar(
            system_read(
                select(m.Organization).where(m.Organization.id == factory.organization_id),
                "test: a factory's organisation",
            )
        )
        assert row is not None
        return row

    await caller("factory manager", await org_of(f), m.Role.FACTORY_MANAGER)
    await caller("worker representative", await org_of(f), m.Role.WORKER_REPRESENTATIVE)
    await caller("another factory", await org_of(g), m.Role.FACTORY_MANAGER)
    brand = await make_org(session, m.OrganizationKind.BRAND, name="Granted Brand")
    other_brand = await make_org(session, m.OrganizationKind.BRAND, name="Other Brand")
    host = await make_org(session, m.OrganizationKind.HOST, name="Granted Host")
    await caller("brand with grant", brand, m.Role.BRAND_VIEWER)
    await caller("brand without grant", other_brand, m.Role.BRAND_VIEWER)
    await caller("host with grant", host, m.Role.HOST_INTEGRATION)
    grant = await make_grant(session, f, brand)
    await make_grant(session, f, host)
    w.ids |= {"brand's grant": grant.id, "other brand": other_brand.id, "host": host.id}
    for label, kind, role, country, inspectorate in [
        ("programme of the country", m.OrganizationKind.PROGRAMME, m.Role.ASSESSOR, HOME, False),
        (
            "programme of another country",
            m.OrganizationKind.PROGRAMME,
            m.Role.ASSESSOR,
            ABROAD,
            False,
        ),
        ("constituent", m.OrganizationKind.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, HOME, False),
        (
            "labour inspectorate",
            m.OrganizationKind.CONSTITUENT,
            m.Role.CONSTITUENT_VIEWER,
            HOME,
            True,
        ),
        ("platform admin", m.OrganizationKind.PLATFORM, m.Role.PLATFORM_ADMIN, None, False),
    ]:
        org = await make_org(session, kind, country=country, inspectorate=inspectorate)
        await caller(label, org, role)
    w.users["anonymous"] = None
    target_user = await make_user(session, other_brand, m.Role.BRAND_VIEWER)
    key = m.ApiKey(organization_id=host.id, prefix="abcd1234", secret_hmac="0" * 64)
    session.add(key)
    await session.flush()
    w.ids |= {"user": target_user.id, "api key": key.id}
    return w


# --- the export world (tests/exports) -----------------------------------------------------


@dataclass
class World:
    country: m.Country
    factory: m.Factory
    cycle: m.ServiceCycle
    assessment: m.Assessment
    host: Host
    grant: m.ConsentGrant


async def make_world(
    session: AsyncSession,
    keys: KeyMaterial,
    *,
    country_rollout_on: dt.date | None = ROLLOUT_ON,
    host_key: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    factory: dict[str, Any] | None = None,
    **cycle: Any,
) -> World:
    """One eligible factory of Bangladesh, released cycle 1, one host granted ASSESSMENT."""
    country = await make_export_country(session, rollout_on=country_rollout_on)
    await make_catalogue(session, country)
    made_factory = await make_export_factory(session, country, **(factory or {}))
    made_cycle, assessment = await make_released_cycle(session, keys.fields, made_factory, **cycle)
    host = await make_host(
        session, keys, with_key=host_key, webhook_url=webhook_url, webhook_secret=webhook_secret
    )
    grant = await make_export_grant(session, made_factory, host.organization)
    await session.commit()
    return World(country, made_factory, made_cycle, assessment, host, grant)
