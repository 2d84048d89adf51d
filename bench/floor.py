"""The floor: the brand pages answered by one hand-written SQL statement + orjson.

A bare ASGI app (no framework, no GraphQL, no ORM) that answers exactly the JSON that
Millgate gives for :data:`bench.queries.BRAND_PAGE` and :data:`bench.queries.LIGHT_PAGE`,
for the same bearer tokens, from the same database, under the same visibility rules
written by hand in SQL (a brand sees a factory it holds an active grant for, and the
released assessments of it only with the ASSESSMENT scope). It pays what any honest
implementation must: verifying the token, one statement that also appends the access
events of the page (a data-modifying CTE), decrypting the details, encoding the JSON.

Served like the real thing: ``uvicorn bench.floor:app --workers 2`` with
``MILLGATE_DATABASE_URL`` and ``MILLGATE_DATA_DIR``. Routes: ``POST /brand?first=N`` and
``POST /light``.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg
import orjson

from core.crypto import TokenService, load_key_material
from core.errors import InvalidToken
from core.runtime import TOKENS_REMEMBERED
from core.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DETAIL_PURPOSE = "finding.detail"

# Who asks, and the factories their active grants show (any scope shows the profile).
_GRANTS = """
me AS (
  SELECT u.id AS user_id, o.id AS org_id FROM app_user u
  JOIN organization o ON o.id = u.organization_id
  WHERE u.id = $1 AND u.disabled_at IS NULL AND o.kind = 'BRAND' AND u.role = 'BRAND_VIEWER'
),
granted AS (
  SELECT g.factory_id, bool_or(g.scope_assessment) AS assessment
  FROM consent_grant g JOIN me ON g.grantee_id = me.org_id
  WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now())
  GROUP BY g.factory_id
)"""

_RELEASED = "a.status = 'RELEASED' AND a.released_on <= (now() AT TIME ZONE 'UTC')::date"

BRAND_SQL = f"""
WITH {_GRANTS},
page AS (
  SELECT f.id, f.name, f.country_code, gr.assessment,
         row_number() OVER (ORDER BY f.id) AS n
  FROM factory f JOIN granted gr ON gr.factory_id = f.id
  ORDER BY f.id LIMIT $2 + 1
),
latest AS (
  SELECT DISTINCT ON (a.factory_id) a.id, a.factory_id, a.kind, a.assessed_on, a.released_on,
         c.number
  FROM assessment a
  JOIN service_cycle c ON c.id = a.cycle_id
  JOIN page p ON p.id = a.factory_id AND p.assessment AND p.n <= $2
  WHERE {_RELEASED}
  ORDER BY a.factory_id, a.assessed_on DESC, a.id DESC
),
logged AS (
  INSERT INTO access_event (at, factory_ids, organization_id, user_id, operation)
  SELECT now(), array_agg(p.id ORDER BY p.id), me.org_id, me.user_id, $3
  FROM page p, me WHERE p.n <= $2 GROUP BY me.org_id, me.user_id
)
SELECT p.id, p.name, p.country_code, p.n,
       l.id AS a_id, l.number, l.kind, l.assessed_on, l.released_on,
       fc.total, fi.id AS f_id, fi.cluster, fi.compliance_point, fi.question_code,
       fi.non_compliant, fi.public_reporting, fi.zero_tolerance, fi.detail_encrypted
FROM page p
LEFT JOIN latest l ON l.factory_id = p.id
LEFT JOIN LATERAL (SELECT count(*) AS total FROM finding WHERE assessment_id = l.id) fc ON true
LEFT JOIN LATERAL (
  SELECT * FROM finding WHERE assessment_id = l.id ORDER BY id LIMIT 20
) fi ON true
ORDER BY p.id, fi.id
"""

LIGHT_SQL = f"""
WITH {_GRANTS},
page AS (
  SELECT f.id, f.name, gr.assessment, count(*) OVER () AS total
  FROM factory f JOIN granted gr ON gr.factory_id = f.id
  ORDER BY f.id LIMIT 20
),
logged AS (
  INSERT INTO access_event (at, factory_ids, organization_id, user_id, operation)
  SELECT now(), array_agg(p.id ORDER BY p.id), me.org_id, me.user_id, $2
  FROM page p, me GROUP BY me.org_id, me.user_id
)
SELECT p.id, p.name, p.total, ac.n AS assessments, l.id AS a_id,
       (SELECT count(*) FROM finding WHERE assessment_id = l.id) AS findings
FROM page p
LEFT JOIN LATERAL (
  SELECT count(*) AS n FROM assessment a WHERE a.factory_id = p.id AND p.assessment AND {_RELEASED}
) ac ON true
LEFT JOIN LATERAL (
  SELECT a.id FROM assessment a WHERE a.factory_id = p.id AND p.assessment AND {_RELEASED}
  ORDER BY a.assessed_on DESC, a.id DESC LIMIT 1
) l ON true
ORDER BY p.id
"""


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


class Floor:
    def __init__(self) -> None:
        settings = Settings()
        keys = load_key_material(
            settings.field_keys_file,
            settings.signing_keys_file,
            settings.api_key_pepper_file,
            settings.keys_dir,
            create_missing=False,
        )
        self.fields = keys.fields
        # Configured as Millgate's (core.runtime): verified signatures remembered, like for like.
        self.tokens = TokenService(
            keys.signing,
            settings.token_issuer,
            settings.token_audience,
            remember=TOKENS_REMEMBERED,
        )
        self.dsn = "postgresql://" + settings.effective_database_url.split("://", 1)[1]
        self.pool: asyncpg.Pool | None = None

    async def brand(self, user_id: int, first: int) -> dict[str, Any]:
        assert self.pool is not None
        rows = await self.pool.fetch(BRAND_SQL, user_id, first, "BrandPage:factories")
        edges: list[dict[str, Any]] = []
        by_factory: dict[int, dict[str, Any]] = {}
        has_next = False
        decrypt = self.fields.decrypt
        for r in rows:
            if r["n"] > first:
                has_next = True
                continue
            fid = r["id"]
            node = by_factory.get(fid)
            if node is None:
                assessment_edges: list[dict[str, Any]] = []
                node = {
                    "id": _b64(f"Factory:{fid}"),
                    "name": r["name"],
                    "country": {"code": r["country_code"]},
                    "assessments": {"edges": assessment_edges},
                }
                by_factory[fid] = node
                edges.append({"cursor": _b64(str(fid)), "node": node})
                if r["a_id"] is not None:
                    assessment_edges.append(
                        {
                            "node": {
                                "id": _b64(f"Assessment:{r['a_id']}"),
                                "cycle": r["number"],
                                "kind": r["kind"],
                                "assessedOn": r["assessed_on"].isoformat(),
                                "releasedOn": r["released_on"].isoformat(),
                                "findings": {"totalCount": r["total"], "edges": []},
                            }
                        }
                    )
            if r["f_id"] is not None:
                detail = r["detail_encrypted"]
                node["assessments"]["edges"][0]["node"]["findings"]["edges"].append(
                    {
                        "node": {
                            "id": _b64(f"Finding:{r['f_id']}"),
                            "cluster": r["cluster"],
                            "compliancePoint": r["compliance_point"],
                            "questionCode": r["question_code"],
                            "nonCompliant": r["non_compliant"],
                            "publicReporting": r["public_reporting"],
                            "zeroTolerance": r["zero_tolerance"],
                            "detail": None if detail is None else decrypt(detail, DETAIL_PURPOSE),
                        }
                    }
                )
        return {
            "data": {
                "factories": {
                    "pageInfo": {
                        "hasNextPage": has_next,
                        "endCursor": edges[-1]["cursor"] if edges else None,
                    },
                    "edges": edges,
                }
            }
        }

    async def light(self, user_id: int) -> dict[str, Any]:
        assert self.pool is not None
        rows = await self.pool.fetch(LIGHT_SQL, user_id, "LightPage:factories")
        edges = []
        for r in rows:
            a_edges = (
                []
                if r["a_id"] is None
                else [
                    {
                        "node": {
                            "id": _b64(f"Assessment:{r['a_id']}"),
                            "findings": {"totalCount": r["findings"]},
                        }
                    }
                ]
            )
            edges.append(
                {
                    "node": {
                        "id": _b64(f"Factory:{r['id']}"),
                        "name": r["name"],
                        "assessments": {"totalCount": r["assessments"], "edges": a_edges},
                    }
                }
            )
        total = rows[0]["total"] if rows else 0
        return {"data": {"factories": {"totalCount": total, "edges": edges}}}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert scope["type"] == "http"
        more = True
        while more:  # drain the request body
            message = await receive()
            more = message.get("more_body", False)
        user_id = self._user(scope)
        path = scope["path"]
        if user_id is None:
            await _respond(send, 401, b'{"errors":[{"message":"unauthorized"}]}')
        elif path == "/brand":
            query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if p)
            await _respond(
                send, 200, orjson.dumps(await self.brand(user_id, int(query.get("first", "100"))))
            )
        elif path == "/light":
            await _respond(send, 200, orjson.dumps(await self.light(user_id)))
        else:
            await _respond(send, 404, b"{}")

    def _user(self, scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                kind, _, token = value.decode().partition(" ")
                if kind.lower() != "bearer":
                    return None
                try:
                    return self.tokens.verify(token.strip()).user_id
                except InvalidToken:
                    return None
        return None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=20)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = Floor()
