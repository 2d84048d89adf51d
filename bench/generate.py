"""A deterministic benchmark world, loaded straight into PostgreSQL (COPY) or SQLite.

Sizes are parameters; the defaults are the benchmark's: 5,000 factories with 4 service
cycles each (~20,000 assessments, mostly released), ~25 findings an assessment (~500,000),
200 brands with a BRAND_VIEWER each, 20 hosts with a registered X25519 key and an API key,
and ~30,000 consent grants (0-15 brands a factory; some expired, some revoked, some narrow).
Countries and the question catalogue come from :func:`demo.seed_reference`.

Finding details are encrypted with the runtime's field keys (``MILLGATE_DATA_DIR``), so a
server started on the same data directory decrypts them. A small pool of distinct details
is encrypted once and its ciphertexts reused: encrypting 500,000 values would dominate.

The same seed and ``--today`` give the same rows. A JSON manifest (users, API keys,
factories) is written beside the data for :mod:`bench.run`.

Example:
    .venv/bin/python -m bench.generate --url postgresql://postgres@127.0.0.1:5432/bench \\
        --data-dir var/bench --factories 5000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import models as m
from core.crypto import validate_host_public_jwk
from core.db import make_engine, make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from demo.observations import DETAILS, NOTES
from demo.reference import seed_reference
from migrations.migrate import upgrade
from reference import catalogue

DETAIL_PURPOSE = "finding.detail"
ANSWERS_PURPOSE = "self_assessment.answers"
CYCLES = 4
DETAIL_POOL = 64


@dataclass(frozen=True)
class Sizes:
    factories: int = 5000
    brands: int = 200
    hosts: int = 20
    findings_per_assessment: int = 25  # mean; each assessment draws 10..40 around it
    max_brand_grants: int = 15
    # SLCP factories that grant hosts; each grant makes ~3 exports (slow: signed, encrypted).
    host_grant_share: float = 0.08
    seed: int = 20240501


@dataclass
class Manifest:
    """What the benchmark needs to find its way around the generated world."""

    database_url: str
    data_dir: str
    today: str
    sizes: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)
    brand_user_ids: list[int] = field(default_factory=list)
    host_api_keys: list[str] = field(default_factory=list)
    # (factory manager user id, factory id, a brand org id the factory has no grant to)
    factory_managers: list[tuple[int, int, int]] = field(default_factory=list)
    constituent_user_ids: dict[str, int] = field(default_factory=dict)
    assessor_user_ids: dict[str, int] = field(default_factory=dict)
    admin_user_id: int = 0
    # A factory each brand may see (for the one-factory scenario), by brand user id.
    brand_factory: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text())
        data["factory_managers"] = [tuple(x) for x in data["factory_managers"]]
        return cls(**data)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _utc(day: dt.date, seconds: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


# Column order of each table as loaded; ids are given explicitly, sequences reset after.
COLUMNS: dict[str, tuple[str, ...]] = {
    "organization": (
        "id",
        "name",
        "kind",
        "country_code",
        "labour_inspectorate",
        "host_public_jwk",
        "webhook_url",
        "webhook_secret_encrypted",
        "created_at",
    ),
    "app_user": ("id", "email", "organization_id", "role", "created_at", "disabled_at"),
    "api_key": (
        "id",
        "organization_id",
        "prefix",
        "secret_hmac",
        "created_at",
        "created_by_user_id",
        "revoked_at",
    ),
    "factory": (
        "id",
        "organization_id",
        "name",
        "country_code",
        "enrolled_on",
        "high_performance",
        "slcp_gateway_id",
        "slcp_registered_on",
        "slcp_verifier_body",
        "slcp_sharing_confirmed_on",
    ),
    "service_cycle": ("id", "factory_id", "number", "started_on"),
    "self_assessment": (
        "id",
        "cycle_id",
        "factory_id",
        "step",
        "tool_version",
        "answers_encrypted",
        "submitted_at",
        "submitted_by_user_id",
        "created_at",
    ),
    "assessment": (
        "id",
        "cycle_id",
        "factory_id",
        "kind",
        "assessed_on",
        "status",
        "released_on",
        "gateway_release_on",
        "virtual_scope",
        "recorded_by_user_id",
        "created_at",
    ),
    "finding": (
        "id",
        "assessment_id",
        "cluster",
        "compliance_point",
        "question_code",
        "non_compliant",
        "public_reporting",
        "zero_tolerance",
        "detail_encrypted",
    ),
    "consent_grant": (
        "id",
        "factory_id",
        "grantee_id",
        "scope_assessment",
        "scope_self_assessment",
        "granted_at",
        "granted_by_user_id",
        "expires_at",
        "revoked_at",
        "revoked_by_user_id",
    ),
}
LOAD_ORDER = tuple(COLUMNS)
JSON_COLUMNS = {("organization", "host_public_jwk")}


class World:
    """Generates every table's rows from one seeded random generator."""

    def __init__(self, sizes: Sizes, runtime: Runtime, today: dt.date) -> None:
        self.sizes = sizes
        self.rng = random.Random(sizes.seed)
        self.runtime = runtime
        self.today = today
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        self.ids: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        ref = catalogue()
        self.countries = [c.code for c in ref.countries]
        self.rollout = {c.code: c.slcp_rollout_on for c in ref.countries}
        self.questions = [q for q in ref.questions.values() if q.cluster is not None]
        self.step1 = [q.code for q in self.questions if q.caf_ref is not None]
        fields = runtime.keys.fields
        texts = list(DETAILS.values())
        pool_rng = random.Random(sizes.seed + 1)
        while len(texts) < DETAIL_POOL:
            texts.append(f"{pool_rng.choice(list(DETAILS.values()))} (ref. {len(texts):03d})")
        # Encrypted once; ciphertexts are reused across findings (see the module docstring).
        self.detail_pool = [fields.encrypt(t, DETAIL_PURPOSE) for t in texts[:DETAIL_POOL]]
        self.answer_pool = [
            fields.encrypt_json(
                {
                    code: {
                        "compliant": pool_rng.random() < 0.8,
                        "note": pool_rng.choice(list(NOTES.values())),
                    }
                    for code in pool_rng.sample(self.step1, 12)
                },
                ANSWERS_PURPOSE,
            )
            for _ in range(16)
        ]
        self.manifest_parts: dict[str, Any] = {
            "brand_user_ids": [],
            "host_api_keys": [],
            "factory_managers": [],
            "constituent_user_ids": {},
            "assessor_user_ids": {},
            "brand_factory": {},
        }

    def _add(self, table: str, *values: Any) -> int:
        self.ids[table] += 1
        self.rows[table].append((self.ids[table], *values))
        return self.ids[table]

    def _org(
        self,
        name: str,
        kind: m.OrganizationKind,
        country: str | None = None,
        inspectorate: bool = False,
        jwk: dict[str, str] | None = None,
    ) -> int:
        created = _utc(self.today - dt.timedelta(days=2000))
        return self._add(
            "organization",
            name,
            kind.value,
            country,
            inspectorate,
            None if jwk is None else json.dumps(jwk),
            None,
            None,
            created,
        )

    def _user(self, org_id: int, role: m.Role, slug: str) -> int:
        created = _utc(self.today - dt.timedelta(days=2000))
        return self._add(
            "app_user",
            f"{slug}.{self.ids['app_user'] + 1}@bench.test",
            org_id,
            role.value,
            created,
            None,
        )

    def build(self) -> None:
        s, rng = self.sizes, self.rng
        platform = self._org("Millgate Platform", m.OrganizationKind.PLATFORM)
        self.manifest_parts["admin_user_id"] = self._user(platform, m.Role.PLATFORM_ADMIN, "admin")
        for code in self.countries:
            programme = self._org(f"Better Work {code}", m.OrganizationKind.PROGRAMME, code)
            self.manifest_parts["assessor_user_ids"][code] = self._user(
                programme, m.Role.ASSESSOR, f"assessor-{code.lower()}"
            )
            union = self._org(
                f"Garment Workers Federation {code}", m.OrganizationKind.CONSTITUENT, code
            )
            self.manifest_parts["constituent_user_ids"][code] = self._user(
                union, m.Role.CONSTITUENT_VIEWER, f"constituent-{code.lower()}"
            )
            inspectorate = self._org(
                f"Labour Inspectorate {code}",
                m.OrganizationKind.CONSTITUENT,
                code,
                inspectorate=True,
            )
            self._user(inspectorate, m.Role.CONSTITUENT_VIEWER, f"inspector-{code.lower()}")
        brands = []
        for i in range(s.brands):
            brand = self._org(f"Brand {i + 1:03d}", m.OrganizationKind.BRAND)
            brands.append(brand)
            self.manifest_parts["brand_user_ids"].append(
                self._user(brand, m.Role.BRAND_VIEWER, f"brand{i + 1:03d}")
            )
        hosts = []
        hasher = self.runtime.keys.api_keys
        for i in range(s.hosts):
            private = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
            x = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            jwk = validate_host_public_jwk({"kty": "OKP", "crv": "X25519", "x": _b64(x)})
            host = self._org(f"Accredited Host {i + 1:02d}", m.OrganizationKind.HOST, jwk=jwk)
            hosts.append(host)
            user = self._user(host, m.Role.HOST_INTEGRATION, f"host{i + 1:02d}")
            prefix = hashlib.sha256(f"{s.seed}:{i}".encode()).hexdigest()[:8]
            secret = f"mg_{prefix}_{rng.randbytes(32).hex()}"  # no "_" inside
            self._add(
                "api_key",
                host,
                prefix,
                hasher.digest(secret),
                _utc(self.today - dt.timedelta(days=900)),
                user,
                None,
            )
            self.manifest_parts["host_api_keys"].append(secret)
        for _ in range(s.factories):
            self._factory(brands, hosts)

    def _factory(self, brands: Sequence[int], hosts: Sequence[int]) -> None:
        rng, today = self.rng, self.today
        n = self.ids["factory"] + 1
        country = rng.choices(self.countries, weights=(35, 25, 25, 10, 5))[0]
        org = self._org(f"Factory {n:06d}", m.OrganizationKind.FACTORY)
        manager = self._user(org, m.Role.FACTORY_MANAGER, f"manager{n:06d}")
        first_start = today - dt.timedelta(days=365 * CYCLES + rng.randint(60, 200))
        enrolled = first_start - dt.timedelta(days=rng.randint(10, 300))
        slcp = self.rollout[country] is not None and rng.random() < 0.4
        registered = first_start - dt.timedelta(days=rng.randint(5, 60)) if slcp else None
        verifier = (m.BETTER_WORK if rng.random() < 0.9 else "Other Verifier") if slcp else None
        factory = self._add(
            "factory",
            org,
            f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} Garments {n:06d}",
            country,
            enrolled,
            rng.random() < 0.1,
            f"GW-{n:07d}" if slcp else None,
            registered,
            verifier,
            registered,
        )
        for number in range(1, CYCLES + 1):
            self._cycle(
                factory, number, first_start + dt.timedelta(days=365 * (number - 1)), slcp, manager
            )
        self._grants(factory, manager, brands, hosts, slcp, first_start)

    def _cycle(self, factory: int, number: int, start: dt.date, slcp: bool, manager: int) -> None:
        rng, today = self.rng, self.today
        cycle = self._add("service_cycle", factory, number, start)
        assessed = start + dt.timedelta(days=rng.randint(100, 200))
        if slcp:
            submitted = _utc(assessed - dt.timedelta(days=rng.randint(5, 60)), 36000)
            self._add(
                "self_assessment",
                cycle,
                factory,
                1,
                "CAF 1.4",
                rng.choice(self.answer_pool),
                submitted,
                manager,
                submitted,
            )
        latest = number == CYCLES
        released = not latest or rng.random() < 0.8
        released_on = (
            min(assessed + dt.timedelta(days=rng.randint(5, 28)), today) if released else None
        )
        virtual = rng.random() < 0.1
        scope = ",".join(sorted(rng.sample(self.step1, 8))) if virtual else None
        kind = m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK if virtual else m.AssessmentKind.ONSITE
        status = m.AssessmentStatus.RELEASED if released else m.AssessmentStatus.DRAFT
        gateway_on = (
            None if released_on is None else released_on + dt.timedelta(days=m.GATEWAY_DELAY_DAYS)
        )
        assessment = self._add(
            "assessment",
            cycle,
            factory,
            kind.value,
            assessed,
            status.value,
            released_on,
            gateway_on,
            scope,
            None,
            _utc(assessed, 50000),
        )
        mean = self.sizes.findings_per_assessment
        count = rng.randint(max(1, mean - 15), mean + 15)
        for question in rng.sample(self.questions, min(count, len(self.questions))):
            non_compliant = rng.random() < 0.3
            self._add(
                "finding",
                assessment,
                question.cluster.value if question.cluster else None,
                question.compliance_point,
                question.code,
                non_compliant,
                question.public_reporting and non_compliant,
                question.zero_tolerance and non_compliant,
                rng.choice(self.detail_pool) if non_compliant or rng.random() < 0.3 else None,
            )

    def _grants(
        self,
        factory: int,
        manager: int,
        brands: Sequence[int],
        hosts: Sequence[int],
        slcp: bool,
        first_start: dt.date,
    ) -> None:
        rng, now = self.rng, _utc(self.today, 43200)
        k = min(
            self.sizes.max_brand_grants, int(rng.triangular(0, self.sizes.max_brand_grants + 1, 3))
        )
        chosen = rng.sample(brands, min(k, len(brands)))
        for brand in chosen:
            granted = _utc(first_start, rng.randint(0, 86400 * 365 * CYCLES))
            granted = min(granted, now - dt.timedelta(days=1))
            fate = rng.random()
            expires = revoked = None
            if fate < 0.08:  # expired
                expires = granted + dt.timedelta(days=rng.randint(1, 30))
                expires = min(expires, now - dt.timedelta(hours=1))
                if expires <= granted:
                    expires = granted + dt.timedelta(minutes=1)
            elif fate < 0.18:  # revoked
                revoked = granted + dt.timedelta(
                    seconds=rng.randint(0, int((now - granted).total_seconds()))
                )
            elif fate < 0.28:  # expires later
                expires = now + dt.timedelta(days=rng.randint(30, 700))
            narrow = rng.random()
            scope_a, scope_s = (
                (True, False) if narrow < 0.15 else (False, True) if narrow < 0.25 else (True, True)
            )
            self._add(
                "consent_grant",
                factory,
                brand,
                scope_a,
                scope_s,
                granted,
                manager,
                expires,
                revoked,
                None if revoked is None else manager,
            )
        ungranted = next((b for b in brands if b not in chosen), brands[0])
        self.manifest_parts["factory_managers"].append((manager, factory, ungranted))
        if slcp and rng.random() < self.sizes.host_grant_share:
            for host in rng.sample(hosts, rng.randint(1, 2)):
                granted = _utc(first_start - dt.timedelta(days=rng.randint(1, 30)))
                self._add(
                    "consent_grant", factory, host, True, True, granted, manager, None, None, None
                )


ADJECTIVES = (
    "Sinar",
    "Golden",
    "Mekong",
    "Delta",
    "Lotus",
    "Harbour",
    "River",
    "Summit",
    "Bright",
    "Eastern",
    "Royal",
    "Green",
    "Silver",
    "Ocean",
    "Pearl",
    "Star",
)
NOUNS = (
    "Thread",
    "Needle",
    "Loom",
    "Fabric",
    "Apparel",
    "Knit",
    "Stitch",
    "Weave",
    "Cotton",
    "Denim",
    "Fashion",
    "Textile",
)


# --- loading ------------------------------------------------------------------------------


def _plain_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _async_url(url: str) -> str:
    if url.startswith("sqlite"):
        return url
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def _seed_reference(url: str) -> None:
    engine = make_engine(_async_url(url))
    async with make_sessionmaker(engine)() as session:
        await seed_reference(session)
        await session.commit()
    await engine.dispose()


async def _load_postgres(url: str, world: World) -> None:
    conn = await asyncpg.connect(_plain_url(url))
    try:
        for table in LOAD_ORDER:
            await conn.copy_records_to_table(
                table, records=world.rows[table], columns=list(COLUMNS[table])
            )
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _load_sqlite(url: str, world: World) -> None:
    path = url.split("///", 1)[1]
    db = sqlite3.connect(path)
    try:
        for table in LOAD_ORDER:
            cols = COLUMNS[table]
            marks = ", ".join("?" for _ in cols)
            db.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                (tuple(_sqlite_row(r)) for r in world.rows[table]),
            )
        db.commit()
        db.execute("ANALYZE")
    finally:
        db.close()


def _sqlite_row(row: tuple[Any, ...]) -> Iterator[Any]:
    for value in row:
        if isinstance(value, dt.datetime):
            yield value.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif isinstance(value, dt.date):
            yield value.isoformat()
        else:
            yield value


def generate(url: str, data_dir: Path, sizes: Sizes, today: dt.date | None = None) -> Manifest:
    """Creates the schema on the (empty) database at ``url``, loads the world; the manifest.

    Synchronous: Alembic starts its own event loop, so call it outside a running loop.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    started = time.perf_counter()
    upgrade(_async_url(url))
    asyncio.run(_seed_reference(url))
    runtime = Runtime.create(Settings(database_url=_async_url(url), data_dir=data_dir))
    world = World(sizes, runtime, today)
    world.build()
    built = time.perf_counter()
    if url.startswith("sqlite"):
        _load_sqlite(url, world)
    else:
        asyncio.run(_load_postgres(url, world))
    asyncio.run(runtime.close())
    manifest = Manifest(
        database_url=_async_url(url),
        data_dir=str(data_dir),
        today=today.isoformat(),
        sizes=asdict(sizes),
        counts={t: len(r) for t, r in world.rows.items()},
        **world.manifest_parts,
    )
    manifest.brand_factory = _first_visible(world)
    manifest.counts["seconds_build"] = round(built - started, 1)  # type: ignore[assignment]
    manifest.counts["seconds_load"] = round(time.perf_counter() - built, 1)  # type: ignore[assignment]
    return manifest


def _first_visible(world: World) -> dict[str, int]:
    """For each brand user: a factory with an active ASSESSMENT grant to that brand."""
    now = _utc(world.today, 43200)
    user_org = {r[0]: r[2] for r in world.rows["app_user"]}
    best: dict[int, int] = {}
    for g in world.rows["consent_grant"]:
        _, factory, grantee, scope_a, _, _, _, expires, revoked, _ = g
        if scope_a and revoked is None and (expires is None or expires > now):
            best.setdefault(grantee, factory)
    return {
        str(u): best[user_org[u]]
        for u in world.manifest_parts["brand_user_ids"]
        if user_org[u] in best
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        required=True,
        help="an empty database: postgresql://... or sqlite+aiosqlite:///path",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="MILLGATE_DATA_DIR of the server (its keys are used or made)",
    )
    parser.add_argument("--factories", type=int, default=Sizes.factories)
    parser.add_argument("--brands", type=int, default=Sizes.brands)
    parser.add_argument("--hosts", type=int, default=Sizes.hosts)
    parser.add_argument(
        "--findings",
        type=int,
        default=Sizes.findings_per_assessment,
        help="mean findings per assessment",
    )
    parser.add_argument("--seed", type=int, default=Sizes.seed)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    sizes = Sizes(
        factories=args.factories,
        brands=args.brands,
        hosts=args.hosts,
        findings_per_assessment=args.findings,
        seed=args.seed,
    )
    manifest = generate(args.url, args.data_dir, sizes, args.today)
    manifest.save(args.data_dir / "manifest.json")
    print(json.dumps(manifest.counts))


if __name__ == "__main__":
    main()
