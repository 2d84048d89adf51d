"""The Gateway export document (schema ``exports/schema/gateway-export-v1.json``).

What leaves, and why:

- Only questions of the country's catalogue that map to a CAF reference. Better Work's own
  questions (``caf_ref`` NULL) and codes the catalogue does not know stay out, answers and
  findings alike (Q3, Q7).
- Every answer of the cycle's submitted self-assessments, each with its provenance: step 1
  answers are ASSESSED when the assessment covered them (an on-site assessment covers all of
  step 1, a virtual check only the codes of its scope), everything else is SELF_ASSESSED
  (Q2, Q22, Q33).
- All findings in one list with no field saying whether they came from the Better Work or the
  SLCP side (rule 7).
- Finding details are included, decrypted: the factory granted this host its assessment data,
  of which the detail is part (a brand with the same grant reads it too), and the envelope is
  encrypted to the host's key alone (rule 14). Hosts must treat them as personal data.
- Public-reporting flags stay out: they steer Better Work's transparency portal, not the Gateway.

The document is serialised with RFC 8785 (JSON Canonicalization Scheme), so its SHA-256 is
the same whoever recomputes it from the decrypted bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import rfc8785

import models as m
from core.crypto import ANSWERS_PURPOSE, DETAIL_PURPOSE, FieldCipher
from exports.eligibility import gateway_release_on
from exports.snapshot import CycleSnapshot, SnapshotIncomplete

SCHEMA_VERSION = "1.0"
# Field-encryption purposes (associated data) of the columns the payload decrypts.


def virtual_scope_codes(assessment: m.Assessment) -> frozenset[str]:
    """Question codes a virtual check covered (``virtual_scope`` NULL means none)."""
    raw = assessment.virtual_scope or ""
    return frozenset(code.strip() for code in raw.split(",") if code.strip())


def _assessed_codes(snapshot: CycleSnapshot) -> frozenset[str] | None:
    """Step 1 codes the assessment covered; None means all of them (on-site)."""
    if snapshot.assessment.kind == m.AssessmentKind.ONSITE:
        return None
    return virtual_scope_codes(snapshot.assessment)


def _answers(snapshot: CycleSnapshot, fields: FieldCipher) -> list[dict[str, Any]]:
    assessed = _assessed_codes(snapshot)
    answers: list[dict[str, Any]] = []
    for self_assessment in snapshot.self_assessments:
        values: dict[str, Any] = fields.decrypt_json(
            self_assessment.answers_encrypted, ANSWERS_PURPOSE
        )
        for code, value in values.items():
            question = snapshot.caf_questions.get(code)
            if question is None:
                continue
            covered = self_assessment.step == 1 and (assessed is None or code in assessed)
            provenance = m.Provenance.ASSESSED if covered else m.Provenance.SELF_ASSESSED
            answers.append(
                {
                    "step": self_assessment.step,
                    "questionCode": code,
                    "cafRef": question.caf_ref,
                    "answer": value,
                    "provenance": provenance.value,
                }
            )
    answers.sort(key=lambda answer: (answer["step"], answer["questionCode"]))
    return answers


def _findings(snapshot: CycleSnapshot, fields: FieldCipher) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    for finding in snapshot.findings:
        question = snapshot.caf_questions.get(finding.question_code)
        if question is None:
            continue
        detail = (
            None
            if finding.detail_encrypted is None
            else fields.decrypt(finding.detail_encrypted, DETAIL_PURPOSE)
        )
        findings.append(
            {
                "questionCode": finding.question_code,
                "cafRef": question.caf_ref,
                "cluster": finding.cluster.value,
                "compliancePoint": finding.compliance_point,
                "nonCompliant": finding.non_compliant,
                "zeroTolerance": finding.zero_tolerance,
                "detail": detail,
            }
        )
    # Stable sort: findings of one question keep the order they were recorded in.
    findings.sort(key=lambda finding: finding["questionCode"])
    return findings


@dataclass(frozen=True, slots=True)
class CycleContent:
    """What the exports of one cycle share, as plain data: all of the document but its id."""

    document: dict[str, Any]
    factory_gateway_id: str
    cycle_number: int
    gateway_release_on: dt.date

    def payload(self, export_id: str) -> dict[str, Any]:
        """The export document for one host, as a JSON-ready dict."""
        return {"schemaVersion": SCHEMA_VERSION, "exportId": export_id, **self.document}


def cycle_content(snapshot: CycleSnapshot, fields: FieldCipher) -> CycleContent:
    """Decrypts and arranges a released cycle; raises SnapshotIncomplete if it is not one."""
    factory, assessment = snapshot.factory, snapshot.assessment
    released_on = assessment.released_on
    if assessment.status != m.AssessmentStatus.RELEASED or released_on is None:
        raise SnapshotIncomplete(f"assessment {assessment.id} is not released")
    if factory.slcp_gateway_id is None:
        raise SnapshotIncomplete(f"factory {factory.id} is not registered with the Gateway")
    release_on = gateway_release_on(released_on)
    document = {
        "factory": {
            "gatewayId": factory.slcp_gateway_id,
            "name": factory.name,
            "country": factory.country_code,
        },
        "cycle": snapshot.cycle.number,
        "toolVersion": snapshot.step1.tool_version,
        "overlayVersion": snapshot.country.overlay_version,
        "verifierBody": factory.slcp_verifier_body,
        "assessment": {
            "kind": assessment.kind.value,
            "virtual": assessment.kind == m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK,
            "assessedOn": assessment.assessed_on.isoformat(),
            "releasedOn": released_on.isoformat(),
            "gatewayReleaseOn": release_on.isoformat(),
        },
        "answers": _answers(snapshot, fields),
        "findings": _findings(snapshot, fields),
    }
    return CycleContent(document, factory.slcp_gateway_id, snapshot.cycle.number, release_on)


def canonical_json(payload: dict[str, Any]) -> bytes:
    """RFC 8785 bytes: the exact bytes that are signed, encrypted and hashed."""
    return rfc8785.dumps(payload)
