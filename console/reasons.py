"""Each reason of ``gatewayEligibility`` in plain words, with what the factory can do.

The codes are those of ``api/error_catalogue.py`` (``ELIGIBILITY_REASONS``); the texts are
English source strings, translated in the catalogues (``N_`` marks them for extraction).
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    says: str
    to_do: str


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "NOT_REGISTERED",
            N_("Your factory is not registered on the SLCP Gateway."),
            N_("Register on the SLCP Gateway, naming Better Work as your verifier body."),
        ),
        Reason(
            "WRONG_VERIFIER_BODY",
            N_("Your Gateway registration names a verifier body other than Better Work."),
            N_(
                "Change the verifier body of your registration to Better Work before your "
                "next assessment."
            ),
        ),
        Reason(
            "SHARING_NOT_CONFIRMED",
            N_("You have not confirmed that your assessment data may be shared."),
            N_("Confirm the sharing of assessment data in your Gateway registration."),
        ),
        Reason(
            "REGISTERED_LATE",
            N_("You registered on the Gateway on or after the assessment date."),
            N_("This cycle cannot be shared. Your next cycle can: you are registered now."),
        ),
        Reason(
            "SHARING_CONFIRMED_LATE",
            N_("You confirmed the sharing on or after the assessment date."),
            N_("This cycle cannot be shared. Your next cycle can: sharing is confirmed now."),
        ),
        Reason(
            "NO_SELF_ASSESSMENT",
            N_("The self-assessment (step 1) of this cycle was never submitted."),
            N_("Submit the step 1 self-assessment before the assessment date."),
        ),
        Reason(
            "SELF_ASSESSMENT_LATE",
            N_("The self-assessment (step 1) was submitted on or after the assessment date."),
            N_("Next cycle, submit step 1 before the assessment day."),
        ),
        Reason(
            "COUNTRY_NOT_ROLLED_OUT",
            N_("The SLCP Gateway has not started in your country yet."),
            N_("Nothing to do now: Better Work will announce the start."),
        ),
        Reason(
            "COUNTRY_ROLLED_OUT_LATE",
            N_("The Gateway started in your country after this assessment."),
            N_("Nothing to do: your next cycle can be shared."),
        ),
        Reason(
            "NO_ASSESSMENT",
            N_("This cycle has no released assessment yet."),
            N_("Wait for the assessment and its release."),
        ),
        Reason(
            "NOT_RELEASED",
            N_("The assessment is not released yet."),
            N_(
                "Release the report within 28 days of the assessment, or wait for its release date."
            ),
        ),
        Reason(
            "GATEWAY_RELEASE_PENDING",
            N_("Released: it goes to the Gateway 15 days after the release."),
            N_("Nothing to do: it will be shared on the date shown."),
        ),
        Reason(
            "NO_SUCH_CYCLE",
            N_("Your factory has no cycle with this number."),
            N_("Check the cycle number."),
        ),
    )
}


def reason(code: str) -> Reason:
    """The reason for ``code``; an unknown (newer) code is shown as itself."""
    return REASONS.get(code, Reason(code, code, ""))
