"""The 270 eligibility inquiry: built from a typed request, and parsed back (the simulator's side)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

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
    d8,
    date_reference,
    parse_envelope,
    render_interchange,
)

# INS02 (individual relationship code) of a dependent in a 005010X279A1 270 (2100D): the guide
# allows 01 spouse, 19 child and 34 other adult. Keys are the intake's subscriber_relationship.
RELATIONSHIP_CODES: dict[str, str] = {"spouse": "01", "child": "19", "other": "34"}


@dataclass(frozen=True)
class Dependent:
    """The patient when they are not the subscriber: 2000D/2100D (NM1*03, DMG, INS*N)."""

    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    relationship: str = "19"  # INS02: 01, 19 or 34


@dataclass(frozen=True)
class EligibilityRequest:
    """What one 270 asks, about one service type: the subscriber (2100C: member id, name, birth
    date) and, when the patient is someone else on the plan, that ``dependent`` (2100D). Without
    a dependent the subscriber is the patient."""

    payer_id: str
    payer_name: str
    provider_npi: str
    provider_name: str
    member_id: str = field(repr=False)
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    service_type: str = "30"
    service_date: date | None = None
    group_number: str | None = field(default=None, repr=False)
    trace_number: str = "1"
    trace_originator: str | None = None
    interchange_control_number: int = 1
    group_control_number: int = 1
    transaction_control_number: str = "0001"
    sender_id: str = "VIRTUALIOP"
    receiver_id: str | None = None
    usage: str = "P"
    dependent: Dependent | None = field(default=None, repr=False)


_NAME_LIMITS = {"last": 60, "first": 35, "org": 60}


# Letters that Unicode does not decompose into an ASCII letter plus accents: their usual Latin
# transliteration (ICAO Doc 9303 machine-readable names, which payers' member files follow).
_TRANSLITERATION = str.maketrans({
    "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe",
    "ß": "ss", "ẞ": "SS", "Þ": "TH", "þ": "th", "Ð": "D", "ð": "d", "Đ": "D", "đ": "d",
    "Ħ": "H", "ħ": "h", "\u0131": "i", "Ŀ": "L", "ŀ": "l", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n",
    "ĸ": "q", "Ɨ": "I", "ɨ": "i", "Ƶ": "Z", "ƶ": "z",
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-",
    "\u2012": "-", "\u2013": "-", "\u2014": "-",
})  # fmt: skip


def x12_text(value: str) -> str:
    """Upper-case, accents removed, other letters transliterated (Ł -> L, Ø -> O, Æ -> AE, ß -> SS,
    Þ -> TH, Ð -> D), only characters of the X12 extended set kept."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_TRANSLITERATION))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    kept = "".join(ch if (ch.isascii() and ch.isprintable()) else " " for ch in plain)
    return " ".join(kept.upper().split())


def _strip_separators(value: str, separators: set[str | None]) -> str:
    return " ".join("".join(" " if ch in separators else ch for ch in value).split())


def _required(value: str | None, what: str, *, max_len: int, min_len: int = 1) -> str:
    text = (value or "").strip()
    if not min_len <= len(text) <= max_len:
        raise X12Error(f"{what} must be {min_len} to {max_len} characters")
    return text


def build_270(
    request: EligibilityRequest,
    *,
    now: datetime,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    newline: bool = False,
) -> str:
    """A complete 005010X279A1 270 interchange for one patient and one service type: the
    subscriber in 2000C/2100C, and the patient in 2000D/2100D when ``request.dependent`` is set."""
    npi = request.provider_npi.strip()
    if not re.fullmatch(r"\d{10}", npi):
        raise X12Error("the provider NPI must be 10 digits")
    service_type = request.service_type.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,2}", service_type):
        raise X12Error("the service type code must be 1 or 2 letters or digits")
    payer_id = _required(request.payer_id, "the payer id", max_len=80, min_len=2)
    member_id = _required(request.member_id, "the member id", max_len=80, min_len=2)
    payer_name = _required(x12_text(request.payer_name), "the payer name", max_len=60)
    provider_name = _required(x12_text(request.provider_name), "the provider name", max_len=60)
    last = x12_text(request.last_name)[: _NAME_LIMITS["last"]]
    first = x12_text(request.first_name)[: _NAME_LIMITS["first"]]
    if not last:
        raise X12Error("the patient's last name is required")
    group_number = (request.group_number or "").strip() or None
    separators = {delimiters.element, delimiters.segment, delimiters.component, delimiters.repetition}
    for what, value in (
        ("the payer id", payer_id),
        ("the member id", member_id),
        ("the group number", group_number or ""),
    ):
        if any(ch in separators for ch in value if ch):
            raise X12Error(f"{what} contains a separator character of this interchange")
    payer_name, provider_name, last, first = (
        _strip_separators(v, separators) for v in (payer_name, provider_name, last, first)
    )
    dependent = request.dependent
    if dependent is not None:
        dep_last = _strip_separators(x12_text(dependent.last_name)[: _NAME_LIMITS["last"]], separators)
        dep_first = _strip_separators(x12_text(dependent.first_name)[: _NAME_LIMITS["first"]], separators)
        if not dep_last:
            raise X12Error("the patient's last name is required")
        if dependent.relationship not in RELATIONSHIP_CODES.values():
            raise X12Error("the dependent's relationship (INS02) must be 01, 19 or 34")
        if dependent.date_of_birth > now.date():
            raise X12Error("the patient's date of birth is in the future")
    trace = _required(request.trace_number, "the trace number", max_len=50)
    originator = request.trace_originator or ("9" + npi[:9])
    if not re.fullmatch(r"[A-Za-z0-9]{10}", originator):
        raise X12Error("the trace originator (TRN03) must be 10 letters or digits")
    st_control = request.transaction_control_number.strip()
    if not re.fullmatch(r"\d{4,9}", st_control):
        raise X12Error("the transaction control number must be 4 to 9 digits")
    if request.date_of_birth > now.date():
        raise X12Error("the date of birth is in the future")

    # The TRN, the service date and the EQ go in the patient's own loop: 2000C/2100C/2110C when
    # the subscriber is the patient, 2000D/2100D/2110D when a dependent is.
    body: list[list[Element]] = [
        ["BHT", "0022", "13", trace, now.strftime("%Y%m%d"), now.strftime("%H%M")],
        ["HL", "1", "", LEVEL_SOURCE, "1"],
        ["NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id],
        ["HL", "2", "1", LEVEL_RECEIVER, "1"],
        ["NM1", "1P", "2", provider_name, "", "", "", "", "XX", npi],
        ["HL", "3", "2", LEVEL_SUBSCRIBER, "0" if dependent is None else "1"],
    ]
    if dependent is None:
        body.append(["TRN", "1", trace, originator])
    body.append(["NM1", "IL", "1", last, first, "", "", "", "MI", member_id])
    if group_number:
        body.append(["REF", "6P", _required(group_number, "the group number", max_len=50)])
    body.append(["DMG", "D8", request.date_of_birth.strftime("%Y%m%d")])
    if dependent is not None:
        body += [
            ["HL", "4", "3", LEVEL_DEPENDENT, "0"],
            ["TRN", "1", trace, originator],
            ["NM1", "03", "1", dep_last, dep_first],
            ["DMG", "D8", dependent.date_of_birth.strftime("%Y%m%d")],
            ["INS", "N", dependent.relationship],
        ]
    if request.service_date is not None:
        body.append(["DTP", "291", "D8", request.service_date.strftime("%Y%m%d")])
    body.append(["EQ", service_type])
    return render_interchange(
        [OutgoingTransaction("270", st_control, body)],
        functional_id="HS",
        sender_id=request.sender_id,
        receiver_id=request.receiver_id or payer_id[:15],
        interchange_control_number=request.interchange_control_number,
        group_control_number=request.group_control_number,
        now=now,
        delimiters=delimiters,
        usage=request.usage,
        newline=newline,
    )


def parse_270(text: str) -> EligibilityRequest:
    """The first inquiry of a 270 interchange, as a typed request (its 2000D dependent, if any)."""
    envelope = parse_envelope(text)
    tx = next((t for t in envelope.transactions if t.set_id == "270"), None)
    if tx is None:
        found = envelope.transactions[0].set_id if envelope.transactions else "none"
        raise X12Error(f"expected a 270 transaction set, found {found}")
    payer_id = payer_name = npi = provider_name = None
    member_id = first = last = None
    dob: date | None = None
    service_date: date | None = None
    service_type: str | None = None
    group_number = trace = originator = None
    reference = None
    level = ""
    in_dependent = False
    dep_first = dep_last = dep_relationship = None
    dep_dob: date | None = None
    for seg in tx.segments:
        if seg.id == "BHT":
            reference = seg.opt(3)
        elif seg.id == "HL":
            level = seg.get(3).strip()
            if level == LEVEL_DEPENDENT:
                if in_dependent or member_id is None:
                    raise X12Error("the 270 has a dependent level (HL 23) out of place: one per subscriber")
                in_dependent = True
        elif seg.id == "NM1":
            code = seg.get(1).strip()
            if code == "PR" and level == LEVEL_SOURCE:
                payer_name, payer_id = seg.opt(3), seg.opt(9)
            elif level == LEVEL_RECEIVER:
                provider_name, npi = seg.opt(3), seg.opt(9)
            elif level == LEVEL_DEPENDENT and code == "03" and dep_last is None:
                dep_last, dep_first = seg.opt(3) or "", seg.opt(4)
            elif level == LEVEL_SUBSCRIBER and code == "IL" and member_id is None:
                last, first, member_id = seg.opt(3), seg.opt(4), seg.opt(9)
        elif seg.id == "TRN" and trace is None:
            trace, originator = seg.opt(2), seg.opt(3)
        elif seg.id == "REF" and seg.get(1).strip() == "6P":
            group_number = seg.opt(2)
        elif seg.id == "DMG" and seg.opt(2):
            if level == LEVEL_DEPENDENT:
                dep_dob = dep_dob or d8(seg, 2)
            elif dob is None:
                dob = d8(seg, 2)
        elif seg.id == "INS" and level == LEVEL_DEPENDENT:
            dep_relationship = seg.opt(2)
        elif seg.id == "DTP" and seg.get(1).strip() == "291" and service_date is None:
            service_date = date_reference(seg).begin
        elif seg.id == "EQ" and service_type is None:
            types = seg.repeats(1)
            service_type = types[0] if types else None
    missing = [
        name
        for name, value in (
            ("payer (2100A NM1*PR)", payer_id),
            ("information receiver (2100B NM1)", npi),
            ("subscriber (2100C NM1*IL)", member_id),
            ("subscriber date of birth (DMG)", dob),
        )
        if value is None
    ]
    if in_dependent:
        missing += [
            name
            for name, value in (
                ("dependent (2100D NM1*03)", dep_last),
                ("dependent date of birth (2100D DMG)", dep_dob),
                ("dependent relationship (2100D INS)", dep_relationship),
            )
            if value is None
        ]
    if missing:
        raise X12Error("the 270 has no " + ", ".join(missing))
    assert payer_id and npi and member_id and dob
    dependent = None
    if in_dependent:
        assert dep_last is not None and dep_dob is not None and dep_relationship is not None
        dependent = Dependent(dep_first or "", dep_last, dep_dob, dep_relationship)
    return EligibilityRequest(
        payer_id=payer_id,
        payer_name=payer_name or "",
        provider_npi=npi,
        provider_name=provider_name or "",
        member_id=member_id,
        first_name=first or "",
        last_name=last or "",
        date_of_birth=dob,
        service_type=(service_type or "30").upper(),
        service_date=service_date,
        group_number=group_number,
        trace_number=trace or reference or "1",
        trace_originator=originator,
        interchange_control_number=int(envelope.control_number) if envelope.control_number.isdigit() else 1,
        group_control_number=(int(envelope.group_control_number) if envelope.group_control_number.isdigit() else 1),
        transaction_control_number=tx.control_number,
        sender_id=envelope.sender_id or "VIRTUALIOP",
        receiver_id=envelope.receiver_id or None,
        usage=envelope.usage if envelope.usage in ("P", "T") else "P",
        dependent=dependent,
    )
