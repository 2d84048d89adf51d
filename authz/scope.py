"""The only query builder: the rows a principal may see, as SQL.

Every read of domain data starts here. Each method returns a SELECT already narrowed to what
the principal may see and marked as scoped (see :mod:`authz.guard`); callers may add
filters, ordering and limits, never widen. The conditions come from ``policy.conf`` through
:mod:`authz.rules`; the facts (grants, ownership, countries, release dates) are read by the
database in the same statement, on the database clock, so a revocation holds the moment it
commits.

Example:
    scope = Scope(principal)
    rows = await session.scalars(scope.factories().order_by(m.Factory.id).limit(20))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import BindParameter, False_

import models as m
from authz import reader
from authz.clock import db_now, db_today
from authz.guard import scoped
from authz.principal import Principal
from authz.rules import ASSESSMENT, IN_COUNTRY, OWNER, SELF_ASSESSMENT, Shape, condition, decide

# Audit entries name their target "Kind:id"; those of an assessment follow its visibility.
ASSESSMENT_TARGET = "Assessment:"


def active_grant() -> ColumnElement[bool]:
    """A grant neither revoked nor expired, by the database clock."""
    active = m.ConsentGrant.active_at(db_now())
    assert isinstance(active, ColumnElement)  # a hybrid's class side is typed as operators only
    return active


def released() -> ColumnElement[bool]:
    """An assessment released, with a release date that has come."""
    return and_(
        m.Assessment.status == m.AssessmentStatus.RELEASED,
        m.Assessment.released_on <= db_today(),
    )


class Scope:
    """Rows one principal may see. Cheap to build; one per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.shape = Shape.of(principal)
        self.own_factory_id = principal.factory_id

    # -- conditions --------------------------------------------------------------------

    def _atom(self, atom: str, factory_col: Any, country_col: Any | None) -> ColumnElement[bool]:
        # The reader's identity as named parameters (authz.reader): a statement built once
        # serves every reader of the same shape.
        p = self.principal
        if atom == OWNER:
            return self._owns(factory_col)
        if atom in (ASSESSMENT, SELF_ASSESSMENT):
            return self._granted({atom}, factory_col)
        if atom == IN_COUNTRY:
            if p.country_code is None:
                return false()
            country = bindparam(reader.COUNTRY, p.country_code, type_=String)
            if country_col is not None:
                same: ColumnElement[bool] = country_col == country
                return same
            in_country = select(m.Factory.id).where(m.Factory.country_code == country)
            inside: ColumnElement[bool] = factory_col.in_(in_country)
            return inside
        raise ValueError(f"unknown relation {atom!r}")

    def allows(
        self, obj: str, factory_col: Any, country_col: Any | None = None, act: str = "read"
    ) -> ColumnElement[bool]:
        """SQL that holds for the factories (by id column) where ``obj`` may be ``act``-ed."""
        cond = condition(self.shape, obj, act)
        if cond.always:
            return true()
        terms = []
        # Grant clauses that stand alone become one IN over the grants, so the database
        # reads the grantee's grants once instead of filtering every factory twice.
        alone = {next(iter(c)) for c in cond.clauses if len(c) == 1} & {ASSESSMENT, SELF_ASSESSMENT}
        if alone:
            terms.append(self._granted(alone, factory_col))
        for clause in cond.clauses:
            if len(clause) == 1 and next(iter(clause)) in alone:
                continue
            atoms = [self._atom(atom, factory_col, country_col) for atom in sorted(clause)]
            if not any(isinstance(a, False_) for a in atoms):  # a relation it cannot have
                terms.append(and_(*atoms))
        terms = [t for t in terms if not isinstance(t, False_)]
        if not terms:
            return false()
        return or_(*terms)

    def _granted(self, scopes: set[str], factory_col: Any) -> ColumnElement[bool]:
        """Factories that grant the principal any of ``scopes``, actively."""
        if self.principal.organization_id is None:
            return false()
        columns = {
            ASSESSMENT: m.ConsentGrant.scope_assessment,
            SELF_ASSESSMENT: m.ConsentGrant.scope_self_assessment,
        }
        held = or_(*(columns[s] for s in sorted(scopes)))
        granted = select(m.ConsentGrant.factory_id).where(
            m.ConsentGrant.grantee_id == self._organization(), held, active_grant()
        )
        inside: ColumnElement[bool] = factory_col.in_(granted)
        return inside

    def _owns(self, factory_col: Any) -> ColumnElement[bool]:
        """The reader's own factory (authz.reader), for a factory's member; else nothing."""
        if not self.own_factory_id:
            return false()
        owned: ColumnElement[bool] = factory_col == bindparam(
            reader.FACTORY, self.own_factory_id, type_=Integer
        )
        return owned

    def _organization(self) -> BindParameter[int]:
        """The reader's organisation (authz.reader); null, which no row matches, for the
        anonymous public."""
        return bindparam(reader.ORGANIZATION, self.principal.organization_id, type_=Integer)

    def may(self, obj: str, act: str = "read", *, country: str | None = None) -> bool:
        """A decision about no particular factory (statistics, exports, admin)."""
        return decide(
            self.principal,
            obj,
            act,
            in_country=country is not None and country == self.principal.country_code,
        )

    def can_ever(self, obj: str, act: str = "read") -> bool:
        """False when no factory could satisfy the rule: skip the query altogether."""
        return not condition(self.shape, obj, act).never

    # -- factories ---------------------------------------------------------------------

    def factories(self, obj: str = "factory") -> Select[m.Factory]:
        stmt = select(m.Factory).where(self.allows(obj, m.Factory.id, m.Factory.country_code))
        return scoped(stmt, f"factories:{obj}")

    def factory_ids(self, obj: str = "factory") -> Select[int]:
        stmt = select(m.Factory.id).where(self.allows(obj, m.Factory.id, m.Factory.country_code))
        return scoped(stmt, f"factory_ids:{obj}")

    # -- assessments and findings ------------------------------------------------------

    def assessment_visible(self) -> ColumnElement[bool]:
        """Released assessments where ``assessment`` is readable; any where ``draft`` is."""
        col = m.Assessment.factory_id
        drafts = self.allows("draft", col)
        released_ones = and_(self.allows("assessment", col), released())
        return released_ones if isinstance(drafts, False_) else or_(released_ones, drafts)

    def assessments(self) -> Select[m.Assessment]:
        return scoped(select(m.Assessment).where(self.assessment_visible()), "assessments")

    def assessments_with_cycle(self) -> Select[m.Assessment, int]:
        stmt = (
            select(m.Assessment, m.ServiceCycle.number.label("cycle_number"))
            .join(m.ServiceCycle, m.ServiceCycle.id == m.Assessment.cycle_id)
            .where(self.assessment_visible())
        )
        return scoped(stmt, "assessments")

    def findings(self) -> Select[m.Finding]:
        stmt = (
            select(m.Finding)
            .join(m.Assessment, m.Assessment.id == m.Finding.assessment_id)
            .where(self.assessment_visible())
        )
        return scoped(stmt, "findings")

    def findings_among(self, among: Callable[[Any], ColumnElement[bool]]) -> Select[m.Finding]:
        """The visible findings of the assessments that ``among(column)`` picks (an id list
        or array on the column it is given). Each assessment's visibility is decided once, in
        a subquery of those assessments, not once per finding of a join: PostgreSQL otherwise
        checked a brand's grant for each of a page's 2,000 findings, or hashed every
        assessment the brand may see."""
        visible = select(m.Assessment.id).where(among(m.Assessment.id), self.assessment_visible())
        stmt = select(m.Finding).where(
            among(m.Finding.assessment_id), m.Finding.assessment_id.in_(visible)
        )
        return scoped(stmt, "findings")

    def zero_tolerance_findings(self) -> Select[m.Finding, m.Assessment, m.Factory]:
        """Zero-tolerance findings of released assessments, for whoever rule 11/15 allows."""
        stmt = (
            select(m.Finding, m.Assessment, m.Factory)
            .join(m.Assessment, m.Assessment.id == m.Finding.assessment_id)
            .join(m.Factory, m.Factory.id == m.Assessment.factory_id)
            .where(
                m.Finding.zero_tolerance.is_(True),
                released(),
                self.allows("zero_tolerance", m.Factory.id, m.Factory.country_code),
            )
        )
        return scoped(stmt, "zero_tolerance")

    # -- self-assessments, grants, access log --------------------------------------------

    def self_assessment_visible(self) -> ColumnElement[bool]:
        """Submitted self-assessments where readable; one being filled in is its factory's."""
        col = m.SelfAssessment.factory_id
        own = self._owns(col)
        return and_(
            self.allows("self_assessment", col),
            or_(m.SelfAssessment.submitted_at.is_not(None), own),
        )

    def self_assessments(self) -> Select[m.SelfAssessment]:
        stmt = select(m.SelfAssessment).where(self.self_assessment_visible())
        return scoped(stmt, "self_assessments")

    def self_assessments_with_cycle(self) -> Select[m.SelfAssessment, int]:
        stmt = (
            select(m.SelfAssessment, m.ServiceCycle.number.label("cycle_number"))
            .join(m.ServiceCycle, m.ServiceCycle.id == m.SelfAssessment.cycle_id)
            .where(self.self_assessment_visible())
        )
        return scoped(stmt, "self_assessments")

    def grants_visible(self) -> ColumnElement[bool]:
        col = m.ConsentGrant.factory_id
        own = m.ConsentGrant.grantee_id == self._organization()
        return or_(self.allows("consent", col), and_(own, self.allows("own_consent", col)))

    def grants(self) -> Select[m.ConsentGrant]:
        return scoped(select(m.ConsentGrant).where(self.grants_visible()), "grants")

    def access_logged(self) -> ColumnElement[bool]:
        """Events that name a factory whose access log the principal may read."""
        return exists(
            select(m.Factory.id).where(
                m.names_factory(m.Factory.id), self.allows("access_log", m.Factory.id)
            )
        )

    def access_events(self, factory_id: int | None = None) -> Select[m.AccessEvent]:
        """Events the principal may see; with ``factory_id``, those in that factory's log
        (the GIN index's read on PostgreSQL)."""
        if factory_id is None:
            return scoped(select(m.AccessEvent).where(self.access_logged()), "access_events")
        factory = literal(factory_id)
        stmt = select(m.AccessEvent).where(
            m.names_factory(factory), self.allows("access_log", factory)
        )
        return scoped(stmt, "access_events")

    def access_event_readers(
        self, factory_id: int, event_ids: Sequence[int]
    ) -> Select[int, m.Organization]:
        """``(event id, reader)`` for events of ``factory_id``'s log that the principal may
        see: found by their key, never among every read of the factory."""
        factory = literal(factory_id)
        stmt = (
            select(m.AccessEvent.id, m.Organization)
            .join(m.Organization, m.Organization.id == m.AccessEvent.organization_id)
            .where(
                m.AccessEvent.id.in_(event_ids),
                m.names_factory(factory),
                self.allows("access_log", factory),
            )
        )
        return scoped(stmt, "organizations")

    def audit_entries(self) -> Select[m.AuditEntry]:
        """Audit entries about a factory's data, for whoever may read its access log.

        Any entry whose target is an assessment (its record, its release, whatever comes
        next) shows only once the reader may see that assessment: before its release date
        nothing of it shows, not even the date (rule 5; drafts are the programme's alone).
        """
        visible_assessments = select(
            literal(ASSESSMENT_TARGET) + cast(m.Assessment.id, String)
        ).where(self.assessment_visible())
        stmt = select(m.AuditEntry).where(
            m.AuditEntry.factory_id.is_not(None),
            self.allows("access_log", m.AuditEntry.factory_id),
            or_(
                ~m.AuditEntry.target.startswith(ASSESSMENT_TARGET, autoescape=True),
                m.AuditEntry.target.in_(visible_assessments),
            ),
        )
        return scoped(stmt, "audit_entries")

    def assessments_to_release(self, override_deadline: bool) -> Select[m.Assessment, int]:
        """What a release may target: the visible ones, and for a platform admin overriding
        the 28 days (policy: late_release) any draft."""
        stmt = select(m.Assessment, m.ServiceCycle.number.label("cycle_number")).join(
            m.ServiceCycle, m.ServiceCycle.id == m.Assessment.cycle_id
        )
        if not (override_deadline and self.may("late_release", "write")):
            stmt = stmt.where(self.assessment_visible())
        return scoped(stmt, "assessments_to_release")

    # -- Gateway eligibility: each of its facts as the caller may read it ------------------

    def _shared_assessment_visible(self) -> ColumnElement[bool]:
        """An assessment whose dates the caller may read: a released one it reads, or whose
        Gateway share it was granted (``shared_assessment``); any where it reads drafts."""
        col = m.Assessment.factory_id
        readable = or_(self.allows("assessment", col), self.allows("shared_assessment", col))
        released_ones = and_(readable, released())
        drafts = self.allows("draft", col)
        return released_ones if isinstance(drafts, False_) else or_(released_ones, drafts)

    def _shared_self_assessment_visible(self) -> ColumnElement[bool]:
        """A self-assessment the caller reads, or whose Gateway share it was granted."""
        shared = and_(
            self.allows("shared_self_assessment", m.SelfAssessment.factory_id),
            m.SelfAssessment.submitted_at.is_not(None),
        )
        return or_(self.self_assessment_visible(), shared)

    def eligibility_facts(self, factory_id: int, cycle_number: int) -> Select[*tuple[Any, ...]]:
        """The facts ``gatewayEligibility`` judges one cycle on, each read as the caller may.

        A cycle shows when the caller sees something of it (an assessment, a self-assessment,
        or all of it where it reads drafts); what it may not read comes back as NULL, exactly
        as if absent. The SLCP registration is the factory row's, read by the caller already.
        """
        cycle = m.ServiceCycle
        # Correlated on the cycle alone: the statement below joins these tables itself.
        seen_assessment = (
            exists()
            .where(m.Assessment.cycle_id == cycle.id, self._shared_assessment_visible())
            .correlate(cycle)
        )
        seen_self_assessment = (
            exists()
            .where(m.SelfAssessment.cycle_id == cycle.id, self._shared_self_assessment_visible())
            .correlate(cycle)
        )
        step1 = and_(
            m.SelfAssessment.cycle_id == cycle.id,
            m.SelfAssessment.step == 1,
            self._shared_self_assessment_visible(),
        )
        stmt: Select[*tuple[Any, ...]] = (
            select(
                cycle.id.label("cycle_id"),
                m.Country.slcp_rollout_on,
                m.SelfAssessment.submitted_at,
                m.Assessment.assessed_on,
                m.Assessment.status,
                m.Assessment.released_on,
            )
            .join(m.Factory, m.Factory.id == cycle.factory_id)
            .join(m.Country, m.Country.code == m.Factory.country_code)
            .outerjoin(m.SelfAssessment, step1)
            .outerjoin(
                m.Assessment,
                and_(m.Assessment.cycle_id == cycle.id, self._shared_assessment_visible()),
            )
            .where(
                cycle.factory_id == factory_id,
                cycle.number == cycle_number,
                self.allows("slcp", cycle.factory_id),
                or_(seen_assessment, seen_self_assessment, self.allows("draft", cycle.factory_id)),
            )
        )
        return scoped(stmt, "eligibility_facts")

    def cycles(self, obj: str) -> Select[m.ServiceCycle]:
        stmt = select(m.ServiceCycle).where(self.allows(obj, m.ServiceCycle.factory_id))
        return scoped(stmt, f"cycles:{obj}")

    # -- views of no single factory ------------------------------------------------------

    def public_findings(self) -> Select[m.Finding, m.Assessment, m.Factory]:
        """Findings flagged public, of each factory's latest released assessment (rule 13)."""
        latest = (
            select(m.Assessment.factory_id, func.max(m.Assessment.assessed_on).label("on"))
            .where(released())
            .group_by(m.Assessment.factory_id)
            .subquery()
        )
        stmt = (
            select(m.Finding, m.Assessment, m.Factory)
            .join(m.Assessment, m.Assessment.id == m.Finding.assessment_id)
            .join(m.Factory, m.Factory.id == m.Assessment.factory_id)
            .join(
                latest,
                and_(
                    latest.c.factory_id == m.Assessment.factory_id,
                    latest.c.on == m.Assessment.assessed_on,
                ),
            )
            .where(m.Finding.public_reporting.is_(True), released())
        )
        if not self.may("public"):
            stmt = stmt.where(false())
        return scoped(stmt, "public_findings")

    def statistics_rows(self, country: str) -> Select[*tuple[Any, ...]]:
        """Per cluster and released assessment: its factory, when its release became public,
        and whether it found a non-compliance (rule 12; :mod:`api.statistics.disclosure`
        publishes)."""
        stmt: Select[*tuple[Any, ...]] = (
            select(
                m.Finding.cluster.label("cluster"),
                m.Assessment.id.label("assessment_id"),
                m.Assessment.factory_id.label("factory_id"),
                m.Assessment.released_on,
                m.Assessment.released_at,
                func.max(func.cast(m.Finding.non_compliant, m.Assessment.id.type)).label("nc"),
            )
            .join(m.Assessment, m.Assessment.id == m.Finding.assessment_id)
            .join(m.Factory, m.Factory.id == m.Assessment.factory_id)
            .where(m.Factory.country_code == country, released())
            .group_by(
                m.Finding.cluster,
                m.Assessment.id,
                m.Assessment.factory_id,
                m.Assessment.released_on,
                m.Assessment.released_at,
            )
        )
        if not self.may("statistics", country=country):
            stmt = stmt.where(false())
        return scoped(stmt, "statistics")

    def enrolled_factories(self) -> Select[m.Factory]:
        stmt = select(m.Factory).where(m.Factory.enrolled_on.is_not(None))
        if not self.may("enrolled_list"):
            stmt = stmt.where(false())
        return scoped(stmt, "enrolled_factories")

    def exports(self) -> Select[m.GatewayExport]:
        """A host's own exports, while the factory grants it the whole Gateway share, both
        scopes (any active grant: a grant revoked and given again serves the exports made
        under the first; a narrower one, refused since, serves none)."""
        host = self._organization()
        granted = exists().where(
            m.ConsentGrant.factory_id == m.GatewayExport.factory_id,
            m.ConsentGrant.grantee_id == m.GatewayExport.host_id,
            m.ConsentGrant.scope_assessment.is_(True),
            m.ConsentGrant.scope_self_assessment.is_(True),
            active_grant(),
        )
        stmt = select(m.GatewayExport).where(m.GatewayExport.host_id == host, granted)
        if not self.may("export"):
            stmt = stmt.where(false())
        return scoped(stmt, "exports")

    def organizations(self) -> Select[m.Organization]:
        """Platform admins see all; others their own organisation only."""
        stmt = select(m.Organization)
        if not self.may("admin"):
            stmt = stmt.where(m.Organization.id == self._organization())
        return scoped(stmt, "organizations")

    def reachable_organizations(self) -> Select[m.Organization]:
        """Organisations the principal may name: its own, those of the factories it sees,
        the grantees of the grants it sees, and the readers in the access logs it sees."""
        if self.may("admin"):
            return scoped(select(m.Organization), "organizations")
        own = self._organization()
        factory_orgs = select(m.Factory.organization_id).where(
            self.allows("factory", m.Factory.id, m.Factory.country_code)
        )
        grantees = select(m.ConsentGrant.grantee_id).where(self.grants_visible())
        readers = (
            select(m.AccessEvent.organization_id)
            .select_from(m.Factory)
            .join(m.AccessEvent, m.names_factory(m.Factory.id))
            .where(self.allows("access_log", m.Factory.id))
        )
        stmt = select(m.Organization).where(
            or_(
                m.Organization.id == own,
                m.Organization.id.in_(factory_orgs),
                m.Organization.id.in_(grantees),
                m.Organization.id.in_(readers),
            )
        )
        return scoped(stmt, "organizations")

    def grantable_organizations(self) -> Select[m.Organization]:
        """The directory of brands and hosts a factory may grant to (names are public)."""
        stmt = select(m.Organization).where(
            m.Organization.kind.in_([m.OrganizationKind.BRAND, m.OrganizationKind.HOST])
        )
        if self.principal.is_anonymous:
            stmt = stmt.where(false())
        return scoped(stmt, "grantable_organizations")

    def directory(self) -> Select[m.Organization]:
        """The brands and hosts a factory may grant to, for whoever policy.conf lets read
        the ``directory``; nothing for anyone else."""
        stmt = select(m.Organization).where(
            m.Organization.kind.in_([m.OrganizationKind.BRAND, m.OrganizationKind.HOST])
        )
        if not self.may("directory"):
            stmt = stmt.where(false())
        return scoped(stmt, "directory")

    def users(self) -> Select[m.User]:
        stmt = select(m.User)
        if not self.may("admin"):
            stmt = stmt.where(m.User.id == (self.principal.user_id or -1))
        return scoped(stmt, "users")

    def own_factory_members(self) -> Select[m.User]:
        """The users of the caller's own factory, whose membership its managers change."""
        stmt = select(m.User).where(
            m.User.organization_id == self._organization() if self.own_factory_id else false()
        )
        return scoped(stmt, "own_factory_members")

    def api_keys(self) -> Select[m.ApiKey]:
        stmt = select(m.ApiKey)
        if not self.may("admin"):
            stmt = stmt.where(false())
        return scoped(stmt, "api_keys")

    def own_api_keys(self) -> Select[m.ApiKey]:
        """A host's own API keys, for its own integration to issue and revoke."""
        stmt = select(m.ApiKey).where(m.ApiKey.organization_id == self._organization())
        if not self.may("host_integration", "write"):
            stmt = stmt.where(false())
        return scoped(stmt, "own_api_keys")

    def webhook_deliveries(self) -> Select[m.WebhookDelivery]:
        """Platform admins see every delivery; a host its own; nobody else any."""
        stmt = select(m.WebhookDelivery)
        if self.may("admin"):
            return scoped(stmt, "webhook_deliveries")
        stmt = stmt.where(m.WebhookDelivery.host_id == self._organization())
        if not self.may("host_integration"):
            stmt = stmt.where(false())
        return scoped(stmt, "webhook_deliveries")

    def countries(self) -> Select[m.Country]:
        """Reference data: public."""
        return scoped(select(m.Country), "countries")

    def questions(self) -> Select[m.Question]:
        """Reference data: public."""
        return scoped(select(m.Question), "questions")

    def current_questions(
        self,
        country_code: str,
        *,
        tool_version: str | None = None,
        overlay_version: str | None = None,
    ) -> Select[m.Question]:
        """Reference data: public. The questions of a country's current catalogue version.

        Versions are only ever added, so the newest one (of ``tool_version`` and
        ``overlay_version`` when given) is the one holding the highest question id.
        """
        return scoped(current_catalogue(country_code, tool_version, overlay_version), "questions")


def current_catalogue(
    country_code: str, tool_version: str | None = None, overlay_version: str | None = None
) -> Select[m.Question]:
    """The questions of a country's newest catalogue version (unmarked: callers mark it)."""
    newest = select(m.Question.tool_version, m.Question.overlay_version).where(
        m.Question.country_code == country_code
    )
    if tool_version is not None:
        newest = newest.where(m.Question.tool_version == tool_version)
    if overlay_version is not None:
        newest = newest.where(m.Question.overlay_version == overlay_version)
    version = newest.order_by(m.Question.id.desc()).limit(1).subquery("newest_version")
    return (
        select(m.Question)
        .join(
            version,
            and_(
                m.Question.tool_version == version.c.tool_version,
                m.Question.overlay_version == version.c.overlay_version,
            ),
        )
        .where(m.Question.country_code == country_code)
    )
