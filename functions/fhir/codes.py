"""Every code the FHIR export uses, with the table it comes from (the list and its sources are in
docs/fhir.md, "Codes").

LOINC item and answer codes: LOINC's panels 44249-1 (PHQ-9) and 69737-5 (GAD-7) and their answer
list LL358-3, as published by LOINC and used in the HL7 SDC and HL7 Personal Health Record IG
examples. Item order is the instrument's own (GAD-7 item 6 "annoyed or irritable" is 69689-8,
item 7 "afraid" is 69736-7; PHQ-9 item 9 is 44260-8, the total is 44261-6).
"""

from __future__ import annotations

LOINC = "http://loinc.org"
BCP47 = "urn:ietf:bcp:47"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"  # contact role
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
BENEFIT_NETWORK = "http://terminology.hl7.org/CodeSystem/benefit-network"
BENEFIT_UNIT = "http://terminology.hl7.org/CodeSystem/benefit-unit"
BENEFIT_TERM = "http://terminology.hl7.org/CodeSystem/benefit-term"
SERVICE_TYPE_X12 = "https://x12.org/codes/service-type-codes"  # X12 EB03 service type codes

# our own identifier systems (URNs: stable names, not addresses)
PATIENT_ID_SYSTEM = "urn:virtual-iop:patient-id"
INTAKE_ID_SYSTEM = "urn:virtual-iop:intake-id"
CASE_ID_SYSTEM = "urn:virtual-iop:crisis-case-id"
OCCURRENCE_ID_SYSTEM = "urn:virtual-iop:session-occurrence-id"
CHECK_ID_SYSTEM = "urn:virtual-iop:eligibility-check-id"
PAYER_ID_SYSTEM = "urn:virtual-iop:payer-id"
CSSRS_QUESTIONNAIRE = "urn:virtual-iop:questionnaire:cssrs-screener"

PHQ9_PANEL = ("44249-1", "PHQ-9 quick depression assessment panel [Reported.PHQ]")
PHQ9_TOTAL = ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")
PHQ9_ITEMS: tuple[tuple[str, str], ...] = (
    ("44250-9", "Little interest or pleasure in doing things"),
    ("44255-8", "Feeling down, depressed, or hopeless"),
    ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
    ("44254-1", "Feeling tired or having little energy"),
    ("44251-7", "Poor appetite or overeating"),
    ("44258-2", "Feeling bad about yourself-or that you are a failure or have let yourself or your family down"),
    ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television"),
    ("44253-3", "Moving or speaking so slowly that other people could have noticed. Or the opposite-being so "
                "fidgety or restless that you have been moving around a lot more than usual"),
    ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"),
)
PHQ9_ITEM9 = PHQ9_ITEMS[8]

GAD7_PANEL = ("69737-5", "Generalized anxiety disorder 7 item (GAD-7)")
GAD7_TOTAL = ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]")
GAD7_ITEMS: tuple[tuple[str, str], ...] = (
    ("69725-0", "Feeling nervous, anxious or on edge"),
    ("68509-9", "Not being able to stop or control worrying"),
    ("69733-4", "Worrying too much about different things"),
    ("69734-2", "Trouble relaxing"),
    ("69735-9", "Being so restless that it is hard to sit still"),
    ("69689-8", "Becoming easily annoyed or irritable"),
    ("69736-7", "Feeling afraid as if something awful might happen"),
)

# LOINC answer list LL358-3 (PHQ-9 and GAD-7 items), index = the item's score 0-3
FREQUENCY_ANSWERS: tuple[tuple[str, str], ...] = (
    ("LA6568-5", "Not at all"),
    ("LA6569-3", "Several days"),
    ("LA6570-1", "More than half the days"),
    ("LA6571-9", "Nearly every day"),
)
YES = ("LA33-6", "Yes")  # LOINC answer list LL361-7 (Y/N)
NO = ("LA32-8", "No")

# C-SSRS screener (Columbia Lighthouse Project "Screen Version"): no LOINC item codes verified,
# so linkIds are our own, in the screener's order; answers use LOINC's Yes/No.
CSSRS_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("cssrs-1", "wish_to_be_dead", "Have you wished you were dead or wished you could go to sleep and not wake up?"),
    ("cssrs-2", "suicidal_thoughts", "Have you actually had any thoughts of killing yourself?"),
    ("cssrs-3", "thoughts_with_method", "Have you been thinking about how you might do this?"),
    ("cssrs-4", "intent", "Have you had these thoughts and had some intention of acting on them?"),
    ("cssrs-5", "plan", "Have you started to work out or worked out the details of how to kill yourself? "
                        "Do you intend to carry out this plan?"),
    ("cssrs-6", "behavior_past_3_months", "In the past 3 months, have you done anything, started to do anything, "
                                          "or prepared to do anything to end your life?"),
)

EMERGENCY_CONTACT = ("C", "Emergency Contact")
SURVEY = ("survey", "Survey")
SAFETY = ("safety", "Safety")

# intake's subscriber_relationship -> subscriber-relationship code
SUBSCRIBER_RELATIONSHIPS = {"self": "self", "spouse": "spouse", "child": "child", "parent": "parent"}
