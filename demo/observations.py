"""What the assessors wrote and what the factories answered: the texts encrypted at rest.

The details name people, as real ones do; all names here are invented.
"""

from __future__ import annotations

# Non-compliance details by question code (a detail is stored only for a non-compliance).
DETAILS = {
    "CL.01.1": "Two workers aged 14 found in finishing; the assessor's notes name Siti R. and"
    " Dewi K.",
    "CL.04.1": "No age documents on file for 6 of 20 workers sampled in cutting.",
    "DI.03.1": "Job advertisement for sewing operators restricted to women under 25.",
    "DI.04.1": "Worker living with HIV (file 17, name withheld) moved off the line after a"
    " health check.",
    "FL.01.1": "Security kept workers' identity cards; supervisor Mr. Hasan Basri refused to"
    " return them when asked.",
    "FL.03.1": "Workers kept on the floor until overtime targets were met on three days in March.",
    "FA.03.1": "Union chairperson Ms. Nguyen Thi Hoa moved to the night shift after the union"
    " registered.",
    "FA.04.1": "Collective agreement not posted; management refused to meet the union on wages.",
    "CO.01.1": "14 of 40 sampled workers paid below the provincial minimum wage in January.",
    "CO.02.1": "Overtime in packing paid at the regular rate.",
    "CO.05.1": "Lateness deductions above the legal limit; payroll no. 2231 lost two days' pay.",
    "CO.07.1": "No social security contributions for workers on probation.",
    "CH.01.1": "Fixed-term contracts renewed for three years for most of the sewing section.",
    "CH.04.1": "Line leader Mr. Chan Dara dismissed without a disciplinary hearing.",
    "OS.02.1": "Chemical containers in the washing area unlabelled; no safety data sheets.",
    "OS.03.1": "Needle guards missing on 12 sewing machines of line 7.",
    "OS.05.1": "No trained first-aider on the night shift.",
    "OS.08.1": "Second-floor emergency exit locked during working hours.",
    "OS.08.2": "No fire drill in the last twelve months.",
    "WT.02.1": "Overtime above 56 hours a week for 25 workers in peak season.",
    "WT.03.1": "Annual leave refused to the embroidery section in December.",
    "BW.01.1": "The bipartite committee did not meet during the advisory period.",
    "BW.02.1": "No written grievance procedure.",
}

# One compliant finding in every cluster, recorded by every on-site assessment.
BASELINE = (
    "CL.02.1",
    "DI.01.1",
    "FL.02.1",
    "FA.01.1",
    "CO.03.1",
    "CH.02.1",
    "OS.01.1",
    "WT.01.1",
    "BW.01.2",
)

# The step 1 questions a virtual compliance check covers (Q22): wages, hours, contracts, exits.
VIRTUAL_SCOPE = ("CO.01.1", "CO.02.1", "CO.05.1", "WT.01.1", "WT.02.1", "CH.01.1", "OS.08.1")

# What the bipartite committee noted beside an answer in its self-assessment.
NOTES = {
    "CO.01.1": "Committee found January payslips below the new provincial minimum.",
    "WT.02.1": "Peak season overtime agreed with the union; hours logged by the committee.",
    "OS.08.1": "Exit door on floor 2 kept locked at night against theft; raised with management.",
    "FA.04.1": "Negotiation on the wage scale postponed twice by management.",
    "MS.02.1": "Grievance box installed in May; no procedure written yet.",
    "AB.01.2": "Day-care corner opened for workers' children in the canteen.",
}

STEP_2_AND_3_ANSWERS = {
    2: {"MS.01.1": "yes", "MS.01.2": "yes", "MS.02.1": "no"},
    3: {"AB.01.1": "no", "AB.01.2": "yes"},
}


def answer(code: str, yes: bool) -> dict[str, str]:
    entry = {"answer": "yes" if yes else "no"}
    if code in NOTES:
        entry["note"] = NOTES[code]
    return entry


def self_assessment_answers(step: int, non_compliant: tuple[str, ...]) -> dict[str, object]:
    """A factory's answers: step 1 mirrors what the assessors later found, plus the baseline."""
    if step in STEP_2_AND_3_ANSWERS:
        return {c: answer(c, a == "yes") for c, a in STEP_2_AND_3_ANSWERS[step].items()}
    codes = [c for c in (*BASELINE, *non_compliant) if not c.startswith("BW.")]
    return {c: answer(c, c not in non_compliant) for c in sorted(codes)}


def known_plaintexts() -> list[str]:
    """Every secret text the demo stores, for tests that prove none is stored in the clear."""
    return [*DETAILS.values(), *NOTES.values()]
