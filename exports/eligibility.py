"""May a cycle go to the SLCP Gateway? Rules 3, 5 and 11 as pure functions (no I/O).

:func:`gateway_eligibility` reads a cycle's :class:`CycleFacts` and a date ``today`` and
returns every unmet condition as a stable code, so the API can tell a factory which
precondition its cycle missed (Q27):

=========================  ==================================================================
NOT_REGISTERED             The factory has no SLCP Gateway registration.
WRONG_VERIFIER_BODY        It registered naming a verifier body other than Better Work.
SHARING_NOT_CONFIRMED      It never confirmed that assessment data may be shared.
REGISTERED_LATE            It registered on or after the assessment date.
SHARING_CONFIRMED_LATE     It confirmed the sharing on or after the assessment date.
NO_SELF_ASSESSMENT         The cycle's step 1 self-assessment was never submitted.
SELF_ASSESSMENT_LATE       The step 1 self-assessment was submitted on or after the assessment
                           date (the UTC date of its submission time counts).
COUNTRY_NOT_ROLLED_OUT     The factory's country has no SLCP roll-out date.
COUNTRY_ROLLED_OUT_LATE    The country rolled out after the assessment date.
NO_ASSESSMENT              The cycle has no assessment yet.
NOT_RELEASED               The assessment is a draft, or its release date has not come.
GATEWAY_RELEASE_PENDING    Released, but the Gateway release date (release + 15 days) has not
                           come. The only code that leaves ``eligible`` true: it says "wait".
=========================  ==================================================================

The "late" codes need an assessment date, so a cycle without an assessment reports only
what is missing outright. Codes come in the order of the table.

Example:
    result = gateway_eligibility(facts, today=dt.date(2024, 5, 1))
    if result.releasable(today):
        ...
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import models as m

NOT_REGISTERED = "NOT_REGISTERED"
WRONG_VERIFIER_BODY = "WRONG_VERIFIER_BODY"
SHARING_NOT_CONFIRMED = "SHARING_NOT_CONFIRMED"
REGISTERED_LATE = "REGISTERED_LATE"
SHARING_CONFIRMED_LATE = "SHARING_CONFIRMED_LATE"
NO_SELF_ASSESSMENT = "NO_SELF_ASSESSMENT"
SELF_ASSESSMENT_LATE = "SELF_ASSESSMENT_LATE"
COUNTRY_NOT_ROLLED_OUT = "COUNTRY_NOT_ROLLED_OUT"
COUNTRY_ROLLED_OUT_LATE = "COUNTRY_ROLLED_OUT_LATE"
NO_ASSESSMENT = "NO_ASSESSMENT"
NOT_RELEASED = "NOT_RELEASED"
GATEWAY_RELEASE_PENDING = "GATEWAY_RELEASE_PENDING"

# Codes that do not make a cycle ineligible: the cycle qualifies and is waiting.
WAITING_CODES = frozenset({GATEWAY_RELEASE_PENDING})


@dataclass(frozen=True, slots=True)
class CycleFacts:
    """What rules 3, 5 and 11 look at for one factory's service cycle."""

    country_rollout_on: dt.date | None
    registered_on: dt.date | None
    verifier_body: str | None
    sharing_confirmed_on: dt.date | None
    self_assessment_submitted_at: dt.datetime | None
    assessed_on: dt.date | None
    status: m.AssessmentStatus | None
    released_on: dt.date | None


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The verdict on one cycle.

    ``eligible`` is true when the preconditions of rules 3 and 11 hold and the assessment is
    released; :meth:`releasable` adds the Gateway's 15-day wait (rule 5).
    """

    eligible: bool
    reasons: list[str] = field(default_factory=list)
    gateway_release_on: dt.date | None = None

    def releasable(self, today: dt.date) -> bool:
        """Eligible and the Gateway release date has come: the job may export it."""
        release_on = self.gateway_release_on
        return self.eligible and release_on is not None and today >= release_on


def gateway_release_on(released_on: dt.date) -> dt.date:
    """Rule 5: the Gateway releases 15 days after Better Work's release."""
    return released_on + dt.timedelta(days=m.GATEWAY_DELAY_DAYS)


def _late(day: dt.date | None, assessed_on: dt.date | None) -> bool:
    # "Before the assessment date" is strict: the same day is too late.
    return day is not None and assessed_on is not None and day >= assessed_on


def _registration_reasons(facts: CycleFacts) -> list[str]:
    reasons = []
    if facts.registered_on is None:
        reasons.append(NOT_REGISTERED)
    elif facts.verifier_body != m.BETTER_WORK:
        reasons.append(WRONG_VERIFIER_BODY)
    if facts.sharing_confirmed_on is None:
        reasons.append(SHARING_NOT_CONFIRMED)
    if _late(facts.registered_on, facts.assessed_on):
        reasons.append(REGISTERED_LATE)
    if _late(facts.sharing_confirmed_on, facts.assessed_on):
        reasons.append(SHARING_CONFIRMED_LATE)
    return reasons


def _self_assessment_reasons(facts: CycleFacts) -> list[str]:
    submitted = facts.self_assessment_submitted_at
    if submitted is None:
        return [NO_SELF_ASSESSMENT]
    if _late(submitted.astimezone(dt.UTC).date(), facts.assessed_on):
        return [SELF_ASSESSMENT_LATE]
    return []


def _country_reasons(facts: CycleFacts) -> list[str]:
    rollout = facts.country_rollout_on
    if rollout is None:
        return [COUNTRY_NOT_ROLLED_OUT]
    # Rule 11 allows the roll-out day itself.
    if facts.assessed_on is not None and rollout > facts.assessed_on:
        return [COUNTRY_ROLLED_OUT_LATE]
    return []


def _release_reasons(facts: CycleFacts, today: dt.date) -> tuple[list[str], dt.date | None]:
    if facts.assessed_on is None:
        return [NO_ASSESSMENT], None
    released = facts.released_on
    if facts.status != m.AssessmentStatus.RELEASED or released is None or released > today:
        return [NOT_RELEASED], None
    release_on = gateway_release_on(released)
    return ([GATEWAY_RELEASE_PENDING] if today < release_on else []), release_on


def gateway_eligibility(facts: CycleFacts, today: dt.date) -> Eligibility:
    """Every unmet condition of rules 3, 5 and 11 for one cycle, judged on ``today``.

    The Gateway release date is given once the assessment is released (on or before
    ``today``); before that it is None, so no date of an unreleased assessment leaks.
    """
    release, release_on = _release_reasons(facts, today)
    reasons = [
        *_registration_reasons(facts),
        *_self_assessment_reasons(facts),
        *_country_reasons(facts),
        *release,
    ]
    eligible = all(reason in WAITING_CODES for reason in reasons)
    return Eligibility(eligible=eligible, reasons=reasons, gateway_release_on=release_on)
