"""A payer simulator for the local stack and tests: realistic 005010X279A1 271s for test members.

It stands in for any payer (it answers with the payer name and id the 270 names) and picks the
answer by member id. Test members (ids are case-insensitive; the dates are the calendar year of
``now``):

=============  ==================  ==========================================================
member id      scenario            what the 271 says
=============  ==================  ==========================================================
XEX900000001   active              active PPO, clinic in network, $30 copay, 20% coinsurance,
                                   deductible $1,000 met ($0 left), out of pocket $4,000
                                   ($2,850 left), no visit limit, no prior auth
XEX900000002   inactive            coverage ended on 31 December of the previous year (EB01 6)
XEX900000003   prior_auth          as active, but every behavioural line carries EB11 Y and a
                                   utilization-management contact (2120C) with a message
XEX900000004   out_of_network      active, but the clinic is out of network: behavioural lines
                                   only with EB12 N ($60 copay, 40% coinsurance)
XEX900000005   deductible_partial  deductible $2,000 of which $1,250 left (family $4,000 /
                                   $2,600 left), in- and out-of-network amounts
XEX900000006   visit_limit         30 visits a calendar year, 12 left (EB01 F with EB09 VS,
                                   and an HSD)
XEX900000007   visits_exhausted    20 visits a calendar year, 0 left
XEX900000008   not_found           AAA*N**75*C at 2100C: subscriber not found
XEX900000009   invalid_member_id   AAA*N**72*C at 2100C: invalid member id
XEX900000010   payer_down          AAA*Y**42*P at 2100A: unable to respond now (no 2000B/C)
XEX900000011   unreachable         no 271 at all: ``respond_271`` raises ``PayerUnavailable``
=============  ==================  ==========================================================

Any other member id is answered as the real thing would: ``not_found`` (AAA 75).

A 270 with a dependent (2000D) naming one of the members above is answered for that dependent
(2000D/2100D with their name, birth date and INS, the benefits in 2110D): those plans cover
whoever the family names. The family below is checked by name and birth date, as a payer does:

=============  ==========================================  ==================================
member id      who                                         answered
=============  ==========================================  ==================================
XEX900000020   the subscriber, Morgan Famtest (1978-03-09)  as the subscriber: active. A
                                                           dependent under this id: Casey is
                                                           active (2000D); Riley is not found
                                                           (AAA*N**67*C at 2100D: Riley has a
                                                           member id of their own); anyone
                                                           else, AAA 67 at 2100D. The patient
                                                           sent as the subscriber with this id
                                                           (not Morgan): AAA*N**75*C at 2100C
XEX900000021   Riley Famtest (2010-07-21), child, own id   as the subscriber: active (2000C);
                                                           a dependent inquiry naming this id
                                                           (Morgan as the subscriber):
                                                           AAA*N**75*C at 2100C
(none)         Casey Famtest (2013-11-02), child           only as a dependent of XEX900000020
=============  ==========================================  ==================================

So Casey's intake (a parent on the card) is found at the first try, and only as a dependent;
Riley's (Riley's own card, the parent named too) is found when asked again with Riley as the
subscriber; an intake that names no subscriber for Casey is not found (today's bug, kept as the
payer would answer it).

"Payer down" is therefore the 271 a payer's own system returns when it is up but cannot answer
(AAA 42, retryable); "unreachable" is the transport failure (timeout / connection refused) that a
client adapter maps to a retryable error, so tests and the local stack can exercise both paths.

A 270 asking ``30`` is answered like most payers do: plan status, plan-level deductible and out
of pocket (individual and family, in and out of network) and a mental-health summary; a 270
asking a behavioural code (MH, A8, CF, CH, BB, A6, A4, AI...) gets that code's status, copay,
coinsurance, visit limits and authorization lines. Any other code is answered with the ``30``
response, as the implementation guide asks of a payer that does not support the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from functions.core.errors import RetryableError
from functions.insurance.service_types import PLAN_COVERAGE, SERVICE_TYPE_NAMES
from functions.insurance.x12 import (
    DEFAULT_DELIMITERS,
    LEVEL_DEPENDENT,
    LEVEL_RECEIVER,
    LEVEL_SOURCE,
    LEVEL_SUBSCRIBER,
    Delimiters,
    Element,
    OutgoingTransaction,
    X12Error,
    render_interchange,
)
from functions.insurance.x12_270 import Dependent, EligibilityRequest, parse_270, x12_text

PAYER_RECEIVER_ID = "SIMPAYER"
BEHAVIORAL_CODES = frozenset(SERVICE_TYPE_NAMES) - {PLAN_COVERAGE}
SUMMARY_CODES = ("MH", "A8", "CF", "BB", "CH")


class PayerUnavailable(RetryableError):
    """The simulated payer did not answer (as a timeout or a refused connection would)."""


@dataclass(frozen=True)
class Profile:
    """What the simulated payer knows about one member."""

    scenario: str
    description: str
    plan_name: str = "GOLD PPO 1000"
    active: bool = True
    in_network: bool = True
    prior_auth: bool = False
    copay: float = 30.0
    coinsurance: float = 0.2
    oon_copay: float = 60.0
    oon_coinsurance: float = 0.4
    deductible: tuple[float, float] = (1000.0, 0.0)
    family_deductible: tuple[float, float] = (2000.0, 800.0)
    out_of_pocket: tuple[float, float] = (4000.0, 2850.0)
    family_out_of_pocket: tuple[float, float] = (8000.0, 6100.0)
    visit_limit: tuple[int, int] | None = None
    rejection: tuple[str, str, str, str] | None = None  # (loop, AAA01, AAA03, AAA04)
    unreachable: bool = False


_ACTIVE = Profile("active", "Active, in network, deductible met, no visit limit, no prior auth")

TEST_MEMBERS: dict[str, Profile] = {
    "XEX900000001": _ACTIVE,
    "XEX900000002": Profile("inactive", "Coverage ended last year", active=False),
    "XEX900000003": Profile(
        "prior_auth", "Active, prior authorization required for behavioural services", prior_auth=True
    ),
    "XEX900000004": Profile("out_of_network", "Active, the clinic is out of network", in_network=False),
    "XEX900000005": Profile(
        "deductible_partial",
        "Active, deductible partly met",
        plan_name="SILVER PPO 2000",
        copay=40.0,
        deductible=(2000.0, 1250.0),
        family_deductible=(4000.0, 2600.0),
        out_of_pocket=(6000.0, 5250.0),
        family_out_of_pocket=(12000.0, 10400.0),
    ),
    "XEX900000006": Profile("visit_limit", "Active, 30 visits a year, 12 left", visit_limit=(30, 12)),
    "XEX900000007": Profile("visits_exhausted", "Active, 20 visits a year, none left", visit_limit=(20, 0)),
    "XEX900000008": Profile("not_found", "Subscriber not found (AAA 75)", rejection=("2100C", "N", "75", "C")),
    "XEX900000009": Profile("invalid_member_id", "Invalid member id (AAA 72)", rejection=("2100C", "N", "72", "C")),
    "XEX900000010": Profile("payer_down", "Payer unable to respond now (AAA 42)", rejection=("2100A", "Y", "42", "P")),
    "XEX900000011": Profile("unreachable", "Payer does not answer at all", unreachable=True),
}
UNKNOWN_MEMBER = Profile("not_found", "Any other member id", rejection=("2100C", "N", "75", "C"))


@dataclass(frozen=True)
class FamilyMember:
    """A person a family plan covers, known to the simulated payer by name and birth date."""

    first_name: str
    last_name: str
    date_of_birth: date
    relationship: str = "18"  # INS02: 18 self, 01 spouse, 19 child, 34 other adult
    own_member_id: str | None = None  # a dependent with a member id of their own

    def is_named(self, last_name: str, first_name: str | None, born: date) -> bool:
        """Same birth date and last name (and first name when the inquiry gives one)."""
        if born != self.date_of_birth or x12_text(last_name) != x12_text(self.last_name):
            return False
        return not first_name or x12_text(first_name) == x12_text(self.first_name)


@dataclass(frozen=True)
class Family:
    member_id: str
    subscriber: FamilyMember
    dependents: tuple[FamilyMember, ...]
    profile: Profile = _ACTIVE


FAMILY_SUBSCRIBER_ID = "XEX900000020"
FAMILY_OWN_ID = "XEX900000021"
FAMILIES: dict[str, Family] = {
    FAMILY_SUBSCRIBER_ID: Family(
        FAMILY_SUBSCRIBER_ID,
        FamilyMember("Morgan", "Famtest", date(1978, 3, 9)),
        (
            FamilyMember("Riley", "Famtest", date(2010, 7, 21), "19", own_member_id=FAMILY_OWN_ID),
            FamilyMember("Casey", "Famtest", date(2013, 11, 2), "19"),
        ),
    ),
}
_OWN_IDS: dict[str, tuple[Family, FamilyMember]] = {
    d.own_member_id: (f, d) for f in FAMILIES.values() for d in f.dependents if d.own_member_id
}
_SUBSCRIBER_NOT_FOUND = ("2100C", "N", "75", "C")
_DEPENDENT_NOT_FOUND = ("2100D", "N", "67", "C")


@dataclass(frozen=True)
class _Answer:
    """How the simulated payer answers one inquiry: whose loop, which profile, which AAA."""

    profile: Profile
    dependent: Dependent | None = None  # answer in 2000D for this person
    rejection: tuple[str, str, str, str] | None = None


def _answer_for(req: EligibilityRequest) -> _Answer:
    member_id = req.member_id.strip().upper()
    dep = req.dependent
    family = FAMILIES.get(member_id)
    own = _OWN_IDS.get(member_id)
    if family is None and own is None:
        profile = member_profile(member_id)
        return _Answer(profile, dep, profile.rejection)
    if own is not None:
        owner_family, person = own
        if dep is None and person.is_named(req.last_name, req.first_name, req.date_of_birth):
            return _Answer(owner_family.profile)
        return _Answer(owner_family.profile, dep, _SUBSCRIBER_NOT_FOUND)
    assert family is not None
    if not family.subscriber.is_named(req.last_name, req.first_name, req.date_of_birth):
        return _Answer(family.profile, dep, _SUBSCRIBER_NOT_FOUND)
    if dep is None:
        return _Answer(family.profile)
    for person in family.dependents:
        if person.is_named(dep.last_name, dep.first_name, dep.date_of_birth):
            if person.own_member_id:
                break  # this payer answers such a dependent only under their own id
            return _Answer(family.profile, dep)
    return _Answer(family.profile, dep, _DEPENDENT_NOT_FOUND)


def member_profile(member_id: str) -> Profile:
    """The scenario the simulator plays for this member id."""
    return TEST_MEMBERS.get(member_id.strip().upper(), UNKNOWN_MEMBER)


def member_for_scenario(scenario: str) -> str:
    """The test member id of a scenario (``KeyError`` if there is none)."""
    for member_id, profile in TEST_MEMBERS.items():
        if profile.scenario == scenario:
            return member_id
    raise KeyError(scenario)


def _money(value: float) -> str:
    text = f"{value:.2f}"
    return text[:-3] if text.endswith(".00") else text


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value < 1 else f"{value:g}"


def _eb(
    code: str,
    level: str,
    service_types: list[str],
    *,
    insurance: str = "",
    plan: str = "",
    period: str = "",
    amount: str = "",
    percent: str = "",
    qty_qualifier: str = "",
    quantity: str = "",
    auth: str = "",
    network: str = "",
) -> list[Element]:
    return [
        "EB", code, level, service_types, insurance, plan, period, amount, percent,
        qty_qualifier, quantity, auth, network,
    ]  # fmt: skip


def _cost_lines(profile: Profile, code: str) -> list[list[Element]]:
    """Deductible (C) or out of pocket (G): individual and family, in and out of network."""
    ind, fam = (
        (profile.deductible, profile.family_deductible)
        if code == "C"
        else (profile.out_of_pocket, profile.family_out_of_pocket)
    )
    lines: list[list[Element]] = []
    for level, (total, left) in (("IND", ind), ("FAM", fam)):
        lines.append(_eb(code, level, [PLAN_COVERAGE], period="23", amount=_money(total), network="Y"))
        lines.append(_eb(code, level, [PLAN_COVERAGE], period="29", amount=_money(left), network="Y"))
    oon_total = ind[0] * 2
    oon_left = oon_total - (ind[0] - ind[1])
    lines.append(_eb(code, "IND", [PLAN_COVERAGE], period="23", amount=_money(oon_total), network="N"))
    lines.append(_eb(code, "IND", [PLAN_COVERAGE], period="29", amount=_money(oon_left), network="N"))
    return lines


def _behavioral_lines(profile: Profile, codes: list[str], payer_name: str) -> list[list[Element]]:
    auth = "Y" if profile.prior_auth else "N"
    lines: list[list[Element]] = []
    if profile.in_network:
        lines.append(_eb("1", "IND", codes, plan=profile.plan_name, network="Y"))
        lines.append(_eb("B", "IND", codes, period="27", amount=_money(profile.copay), auth=auth, network="Y"))
        lines.append(["MSG", "COPAY APPLIES PER DAY FOR INTENSIVE OUTPATIENT SERVICES"])
        lines.append(_eb("A", "IND", codes, period="27", percent=_pct(profile.coinsurance), auth=auth, network="Y"))
    else:
        lines.append(_eb("1", "IND", codes, plan=profile.plan_name, network="N"))
        lines.append(["MSG", "PROVIDER IS NOT IN THE MEMBER'S NETWORK"])
    lines.append(_eb("B", "IND", codes, period="27", amount=_money(profile.oon_copay), auth=auth, network="N"))
    lines.append(_eb("A", "IND", codes, period="27", percent=_pct(profile.oon_coinsurance), auth=auth, network="N"))
    if profile.visit_limit is not None:
        limit, left = profile.visit_limit
        lines.append(_eb("F", "IND", codes, period="23", qty_qualifier="VS", quantity=str(limit), network="Y"))
        lines.append(["HSD", "VS", str(limit), "", "", "23", "1"])
        lines.append(_eb("F", "IND", codes, period="29", qty_qualifier="VS", quantity=str(left), network="Y"))
        if left == 0:
            lines.append(["MSG", "VISIT LIMIT REACHED FOR THIS BENEFIT PERIOD"])
    if profile.prior_auth:
        lines.append(["MSG", "PRIOR AUTHORIZATION REQUIRED FOR INTENSIVE OUTPATIENT SERVICES"])
        lines.append(["LS", "2120"])
        lines.append(["NM1", "X3", "2", x12_text(f"{payer_name} BEHAVIORAL HEALTH UM")[:60]])
        lines.append(["PER", "IC", "", "TE", "8005550100"])
        lines.append(["LE", "2120"])
    return lines


def _benefits(profile: Profile, service_type: str, payer_name: str) -> list[list[Element]]:
    if not profile.active:
        codes = [service_type] if service_type in BEHAVIORAL_CODES else [PLAN_COVERAGE]
        return [
            _eb("6", "IND", codes, insurance="PR", plan=profile.plan_name),
            ["MSG", "COVERAGE TERMINATED"],
        ]
    if service_type in BEHAVIORAL_CODES:
        return _behavioral_lines(profile, [service_type], payer_name)
    plan_types = [PLAN_COVERAGE, "1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"]
    lines: list[list[Element]] = [_eb("1", "IND", plan_types, insurance="PR", plan=profile.plan_name)]
    lines.extend(_cost_lines(profile, "C"))
    lines.extend(_cost_lines(profile, "G"))
    lines.extend(_behavioral_lines(profile, ["MH"], payer_name))
    return lines


def respond_271(
    request: str | EligibilityRequest,
    service_type: str | None = None,
    *,
    now: datetime,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    newline: bool = False,
) -> str:
    """The 271 the simulated payer returns for a 270 (text or typed) and a service type.

    ``service_type`` defaults to the one the request asks. Raises ``PayerUnavailable`` for the
    unreachable member and ``X12Error`` for a malformed 270 text.
    """
    req = parse_270(request) if isinstance(request, str) else request
    stc = (service_type or req.service_type or PLAN_COVERAGE).strip().upper()
    answer = _answer_for(req)
    profile = answer.profile
    if profile.unreachable:
        raise PayerUnavailable("the payer did not answer the eligibility inquiry")
    payer_name = x12_text(req.payer_name or "EXAMPLE HEALTH PLAN")[:60] or "EXAMPLE HEALTH PLAN"
    today = now.date()
    body: list[list[Element]] = [
        ["BHT", "0022", "11", req.trace_number, now.strftime("%Y%m%d"), now.strftime("%H%M")],
        ["HL", "1", "", LEVEL_SOURCE, "1"],
        ["NM1", "PR", "2", payer_name, "", "", "", "", "PI", req.payer_id],
    ]
    rejection = answer.rejection
    dep = answer.dependent
    traces: list[list[Element]] = [
        ["TRN", "2", req.trace_number, req.trace_originator or "9" + req.provider_npi[:9]],
        ["TRN", "1", f"{now:%Y%m%d}{req.interchange_control_number:09d}"[:30], "9SIMPAYER0"],
    ]
    subscriber_nm1: list[Element] = [
        "NM1", "IL", "1", x12_text(req.last_name)[:60], x12_text(req.first_name)[:35], "", "", "", "MI", req.member_id,
    ]  # fmt: skip
    if rejection and rejection[0] == "2100A":
        body.append(["AAA", rejection[1], "", rejection[2], rejection[3]])
    else:
        body += [
            ["HL", "2", "1", LEVEL_RECEIVER, "1"],
            ["NM1", "1P", "2", x12_text(req.provider_name)[:60] or "PROVIDER", "", "", "", "", "XX", req.provider_npi],
            ["HL", "3", "2", LEVEL_SUBSCRIBER, "0" if dep is None else "1"],
        ]  # fmt: skip
        if dep is None:
            body += [*traces, subscriber_nm1]
        else:
            body += [subscriber_nm1, ["DMG", "D8", req.date_of_birth.strftime("%Y%m%d")]]
            if rejection and rejection[0] == "2100C":
                body.append(["AAA", rejection[1], "", rejection[2], rejection[3]])
                rejection = None  # the dependent's loop still echoes who was asked
            body += [
                ["HL", "4", "3", LEVEL_DEPENDENT, "0"],
                *traces,
                ["NM1", "03", "1", x12_text(dep.last_name)[:60], x12_text(dep.first_name)[:35]],
            ]
        dob = (dep.date_of_birth if dep is not None else req.date_of_birth).strftime("%Y%m%d")
        if rejection or (dep is not None and answer.rejection):
            if rejection:
                body.append(["AAA", rejection[1], "", rejection[2], rejection[3]])
            body.append(["DMG", "D8", dob])
            if dep is not None:
                body.append(["INS", "N", dep.relationship])
        else:
            if req.group_number:
                body.append(["REF", "6P", req.group_number, "EXAMPLE EMPLOYER GROUP"])
            body.append(["REF", "18", "SIM-" + profile.plan_name.replace(" ", "-"), profile.plan_name])
            body.append(["DMG", "D8", dob])
            if dep is not None:
                body.append(["INS", "N", dep.relationship])
            if profile.active:
                body.append(["DTP", "346", "D8", f"{today.year}0101"])
                body.append(["DTP", "291", "RD8", f"{today.year}0101-{today.year}1231"])
            else:
                body.append(["DTP", "346", "D8", f"{today.year - 1}0101"])
                body.append(["DTP", "347", "D8", f"{today.year - 1}1231"])
            body.extend(_benefits(profile, stc, payer_name))
    return render_interchange(
        [OutgoingTransaction("271", req.transaction_control_number, body)],
        functional_id="HB",
        sender_id=PAYER_RECEIVER_ID,
        receiver_id=(req.sender_id or "VIRTUALIOP")[:15],
        interchange_control_number=req.interchange_control_number,
        group_control_number=max(req.group_control_number, 1),
        now=now,
        delimiters=delimiters,
        usage=req.usage,
        newline=newline,
    )


def sample_request(member_id: str, service_type: str = PLAN_COVERAGE, **changes: object) -> EligibilityRequest:
    """A ready-made request for a test member (the local stack's demo and the tests use it)."""
    fields: dict[str, object] = {
        "payer_id": "SIMPAYER01",
        "payer_name": "Example Health Plan",
        "provider_npi": "1234567893",
        "provider_name": "Example Virtual IOP",
        "member_id": member_id,
        "first_name": "Jordan",
        "last_name": "Sample",
        "date_of_birth": date(1990, 4, 12),
        "service_type": service_type,
        "group_number": "GRP-0001",
        "trace_number": "93175012547",
        "interchange_control_number": 905,
        "group_control_number": 905,
        "transaction_control_number": "0001",
    }
    fields.update(changes)
    return EligibilityRequest(**fields)  # type: ignore[arg-type]


__all__ = [
    "FAMILIES",
    "FAMILY_OWN_ID",
    "FAMILY_SUBSCRIBER_ID",
    "TEST_MEMBERS",
    "UNKNOWN_MEMBER",
    "PayerUnavailable",
    "Profile",
    "X12Error",
    "member_for_scenario",
    "member_profile",
    "respond_271",
    "sample_request",
]
