"""X12 005010X279A1 eligibility: a tokenizer, a 270 builder and a 271 parser into typed loops.

Pure text in, typed values out: no I/O, no clock (the caller passes ``now``).

Separators are never assumed: the ISA segment declares them. The element separator is the
character after ``ISA``; the component separator is ISA16 and the segment terminator is the
character right after it; ISA11 is the repetition separator in 00501 (in 00401 it is the
letter ``U``, and then there is none). The ISA is found by counting its sixteen element
separators rather than by fixed offsets, so an ISA whose fields were not padded still parses.
Whitespace (a newline after each terminator, or CR LF) between segments is ignored, and the
terminator itself may be a newline.

Structure checks (``X12Error``, one line, naming segment positions and ids, never a value):
ISA/IEA, GS/GE and ST/SE must pair up, their control numbers match and SE01/GE01/IEA01 count
what they enclose. A 271 with a rejection (AAA) at any level and no benefits is a valid 271.

Repr of every model that carries patient data (names, member ids, dates of birth, reference
numbers) hides those fields, so logging a parsed value cannot leak them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from functions.core.errors import DomainError

IMPLEMENTATION_GUIDE = "005010X279A1"
INTERCHANGE_VERSION = "00501"

# HL03 hierarchical level codes.
LEVEL_SOURCE = "20"
LEVEL_RECEIVER = "21"
LEVEL_SUBSCRIBER = "22"
LEVEL_DEPENDENT = "23"

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_DIGITS = re.compile(r"^\d+$")


class X12Error(DomainError, ValueError):
    """The X12 text is malformed, or a value cannot be written as X12. One line, no values."""


# --------------------------------------------------------------------------------------------
# Delimiters and segments


@dataclass(frozen=True)
class Delimiters:
    """The four separators an interchange declares in its ISA segment."""

    element: str = "*"
    segment: str = "~"
    component: str = ":"
    repetition: str | None = "^"

    def __post_init__(self) -> None:
        chars = [self.element, self.segment, self.component]
        if self.repetition is not None:
            chars.append(self.repetition)
        for name, ch in (
            ("element", self.element),
            ("segment", self.segment),
            ("component", self.component),
            ("repetition", self.repetition),
        ):
            if ch is None:
                continue
            if len(ch) != 1:
                raise X12Error(f"the {name} separator must be one character")
            if ch.isalnum() or (ch.isspace() and not (name == "segment" and ch in "\r\n")):
                raise X12Error(f"the {name} separator must be a special character")
        if len(set(chars)) != len(chars):
            raise X12Error("the ISA declares the same character for two different separators")


DEFAULT_DELIMITERS = Delimiters()


@dataclass(frozen=True)
class Segment:
    """One segment: its id, its elements (index 1 is the first element) and its position."""

    id: str
    elements: tuple[str, ...] = field(repr=False)
    position: int
    delimiters: Delimiters = field(repr=False, compare=False, default=DEFAULT_DELIMITERS)

    def get(self, index: int) -> str:
        """Element ``index`` (1-based, as the guide numbers them); '' when absent."""
        if 1 <= index < len(self.elements):
            return self.elements[index]
        return ""

    def opt(self, index: int) -> str | None:
        value = self.get(index).strip()
        return value or None

    def components(self, index: int) -> tuple[str, ...]:
        value = self.get(index)
        return tuple(value.split(self.delimiters.component)) if value else ()

    def repeats(self, index: int) -> tuple[str, ...]:
        value = self.get(index)
        if not value:
            return ()
        rep = self.delimiters.repetition
        parts = value.split(rep) if rep else [value]
        return tuple(p.strip() for p in parts if p.strip())

    def decimal(self, index: int) -> float | None:
        value = self.get(index).strip()
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise X12Error(f"{self.id}{index:02d} in segment {self.position} is not a number") from None
        if not number.is_finite():
            raise X12Error(f"{self.id}{index:02d} in segment {self.position} is not a number")
        return float(number)

    def where(self) -> str:
        return f"segment {self.position} ({self.id})"


def _detect_delimiters(text: str) -> Delimiters:
    if not text.startswith("ISA"):
        raise X12Error("an X12 interchange must begin with an ISA segment")
    if len(text) < 4:
        raise X12Error("the ISA segment is truncated")
    element = text[3]
    if element.isalnum() or element.isspace():
        raise X12Error("the ISA element separator must be a special character")
    idx = 3
    for _ in range(15):
        idx = text.find(element, idx + 1)
        if idx < 0:
            raise X12Error("the ISA segment is truncated: it needs 16 elements")
    if idx + 2 >= len(text):
        raise X12Error("the ISA segment is truncated: no component separator or segment terminator")
    component = text[idx + 1]
    terminator = text[idx + 2]
    if terminator.isalnum() or terminator in " \t":
        raise X12Error("the ISA segment is not 16 elements followed by a segment terminator")
    fields = text[4 : idx + 1].split(element)
    isa11 = fields[10] if len(fields) > 10 else ""
    repetition: str | None = None
    if len(isa11) == 1 and not isa11.isalnum() and not isa11.isspace():
        repetition = isa11
    return Delimiters(element=element, segment=terminator, component=component, repetition=repetition)


def tokenize(text: str) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments, with the separators its ISA declares."""
    if not isinstance(text, str):
        raise X12Error("X12 input must be text")
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise X12Error("the input is empty")
    delimiters = _detect_delimiters(text)
    segments: list[Segment] = []
    for raw in text.split(delimiters.segment):
        raw = raw.strip()
        if not raw:
            continue
        elements = tuple(raw.split(delimiters.element))
        seg_id = elements[0].strip()
        position = len(segments) + 1
        if not _SEGMENT_ID.match(seg_id):
            raise X12Error(f"segment {position} does not start with a valid segment id")
        segments.append(Segment(seg_id, (seg_id, *elements[1:]), position, delimiters))
    return delimiters, segments


# --------------------------------------------------------------------------------------------
# Envelope


@dataclass(frozen=True)
class TransactionSet:
    """The segments of one ST..SE transaction set (ST and SE included)."""

    set_id: str
    control_number: str
    version: str
    segments: tuple[Segment, ...] = field(repr=False)
    functional_id: str = ""


@dataclass(frozen=True)
class Envelope:
    delimiters: Delimiters
    sender_id: str
    receiver_id: str
    control_number: str
    usage: str
    version: str
    transactions: tuple[TransactionSet, ...]
    group_control_number: str = ""


def _expect(seg: Segment | None, seg_id: str, context: str) -> Segment:
    if seg is None:
        raise X12Error(f"{context}: the input ends before its {seg_id} segment (truncated?)")
    if seg.id != seg_id:
        raise X12Error(f"{context}: expected {seg_id} at segment {seg.position}, found {seg.id}")
    return seg


def _count(seg: Segment, index: int) -> int:
    value = seg.get(index).strip()
    if not _DIGITS.match(value):
        raise X12Error(f"{seg.id}{index:02d} in segment {seg.position} must be a number")
    return int(value)


def parse_envelope(text: str) -> Envelope:
    """Tokenize and check the ISA/GS/ST structure; return the transaction sets."""
    delimiters, segments = tokenize(text)
    isa = segments[0]
    if len(isa.elements) != 17:
        raise X12Error("the ISA segment must have 16 elements")
    control = isa.get(13).strip()
    transactions: list[TransactionSet] = []
    i = 1
    groups = 0
    first_group_control = ""
    n = len(segments)
    while i < n and segments[i].id == "GS":
        gs = segments[i]
        groups += 1
        functional_id = gs.get(1).strip()
        group_control = gs.get(6).strip()
        first_group_control = first_group_control or group_control
        i += 1
        sets_in_group = 0
        while i < n and segments[i].id == "ST":
            st = segments[i]
            start = i
            set_control = st.get(2).strip()
            i += 1
            while i < n and segments[i].id not in ("SE", "ST", "GE", "IEA"):
                i += 1
            se = _expect(segments[i] if i < n else None, "SE", f"transaction set at segment {st.position}")
            if se.get(2).strip() != set_control:
                raise X12Error(f"SE02 at segment {se.position} does not match its ST02 control number")
            declared = _count(se, 1)
            actual = i - start + 1
            if declared != actual:
                raise X12Error(
                    f"SE01 at segment {se.position} counts {declared} segments but the transaction set has {actual}"
                )
            transactions.append(
                TransactionSet(
                    set_id=st.get(1).strip(),
                    control_number=set_control,
                    version=st.get(3).strip() or gs.get(8).strip(),
                    segments=tuple(segments[start : i + 1]),
                    functional_id=functional_id,
                )
            )
            sets_in_group += 1
            i += 1
        ge = _expect(segments[i] if i < n else None, "GE", f"functional group at segment {gs.position}")
        if ge.get(2).strip() != group_control:
            raise X12Error(f"GE02 at segment {ge.position} does not match its GS06 control number")
        if _count(ge, 1) != sets_in_group:
            raise X12Error(f"GE01 at segment {ge.position} does not count the group's transaction sets")
        i += 1
    if groups == 0:
        found = segments[1].id if n > 1 else "nothing"
        raise X12Error(f"expected a GS functional group after the ISA, found {found}")
    iea = _expect(segments[i] if i < n else None, "IEA", "interchange")
    if iea.get(2).strip() != control:
        raise X12Error(f"IEA02 at segment {iea.position} does not match the ISA13 control number")
    if _count(iea, 1) != groups:
        raise X12Error(f"IEA01 at segment {iea.position} does not count the functional groups")
    if i + 1 < n:
        raise X12Error(f"unexpected segments after IEA (segment {segments[i + 1].position})")
    return Envelope(
        delimiters=delimiters,
        sender_id=isa.get(6).strip(),
        receiver_id=isa.get(8).strip(),
        control_number=control,
        usage=isa.get(15).strip(),
        version=isa.get(12).strip(),
        transactions=tuple(transactions),
        group_control_number=first_group_control,
    )


# --------------------------------------------------------------------------------------------
# Writing


Element = str | tuple[str, ...] | list[str]
"""A value to write: a string; a tuple is a composite (components); a list is repetitions."""


@dataclass(frozen=True)
class OutgoingTransaction:
    """One transaction set to write: its body, without ST and SE (they are added)."""

    set_id: str
    control_number: str
    body: Sequence[Sequence[Element]]


def _clean(value: str, delimiters: Delimiters, where: str) -> str:
    bad = {delimiters.element, delimiters.segment, delimiters.component}
    if delimiters.repetition:
        bad.add(delimiters.repetition)
    if any(ch in bad for ch in value) or "\r" in value or "\n" in value:
        raise X12Error(f"{where} contains a separator character")
    return value


def _render_segment(spec: Sequence[Element], delimiters: Delimiters) -> str:
    seg_id = spec[0]
    if not isinstance(seg_id, str) or not _SEGMENT_ID.match(seg_id):
        raise X12Error("cannot write a segment without a valid id")
    parts: list[str] = [seg_id]
    for index, element in enumerate(spec[1:], start=1):
        where = f"{seg_id}{index:02d}"
        if isinstance(element, tuple):
            text = delimiters.component.join(_clean(c, delimiters, where) for c in element)
            text = text.rstrip(delimiters.component)
        elif isinstance(element, list):
            if len(element) > 1 and not delimiters.repetition:
                raise X12Error(f"{where} repeats but the interchange has no repetition separator")
            text = (delimiters.repetition or "").join(_clean(c, delimiters, where) for c in element)
        else:
            text = _clean(element, delimiters, where)
        parts.append(text)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return delimiters.element.join(parts)


def render_interchange(
    transactions: Sequence[OutgoingTransaction],
    *,
    functional_id: str,
    sender_id: str,
    receiver_id: str,
    interchange_control_number: int,
    group_control_number: int,
    now: datetime,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    usage: str = "P",
    newline: bool = False,
) -> str:
    """Write ISA/GS, each transaction (ST + body + SE, counted), GE/IEA. ``newline`` adds a line
    break after each segment terminator (only when the terminator is not itself a newline)."""
    if usage not in ("P", "T"):
        raise X12Error("ISA15 usage must be P (production) or T (test)")
    if not 0 <= interchange_control_number <= 999_999_999:
        raise X12Error("the interchange control number must be 0..999999999")
    if not 1 <= group_control_number <= 999_999_999:
        raise X12Error("the group control number must be 1..999999999")
    for name, value in (("sender id", sender_id), ("receiver id", receiver_id)):
        if not 1 <= len(value) <= 15:
            raise X12Error(f"the interchange {name} must be 1 to 15 characters")
    d = delimiters
    el = d.element
    isa = el.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            _clean(sender_id, d, "ISA06").ljust(15),
            "ZZ",
            _clean(receiver_id, d, "ISA08").ljust(15),
            now.strftime("%y%m%d"),
            now.strftime("%H%M"),
            d.repetition or "U",
            INTERCHANGE_VERSION,
            f"{interchange_control_number:09d}",
            "0",
            usage,
            d.component,
        ]
    )
    lines = [isa]
    lines.append(
        _render_segment(
            [
                "GS",
                functional_id,
                sender_id,
                receiver_id,
                now.strftime("%Y%m%d"),
                now.strftime("%H%M"),
                str(group_control_number),
                "X",
                IMPLEMENTATION_GUIDE,
            ],
            d,
        )
    )
    for tx in transactions:
        body = [_render_segment(spec, d) for spec in tx.body]
        lines.append(_render_segment(["ST", tx.set_id, tx.control_number, IMPLEMENTATION_GUIDE], d))
        lines.extend(body)
        lines.append(_render_segment(["SE", str(len(body) + 2), tx.control_number], d))
    lines.append(_render_segment(["GE", str(len(transactions)), str(group_control_number)], d))
    lines.append(_render_segment(["IEA", "1", f"{interchange_control_number:09d}"], d))
    sep = d.segment + ("\n" if newline and d.segment not in "\r\n" else "")
    return sep.join(lines) + sep


# --------------------------------------------------------------------------------------------
# 270: the inquiry


@dataclass(frozen=True)
class EligibilityRequest:
    """What one 270 asks: one patient (sent as the subscriber), one service type."""

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


_NAME_LIMITS = {"last": 60, "first": 35, "org": 60}


def x12_text(value: str) -> str:
    """Upper-case, accents removed, only characters of the X12 extended set kept."""
    decomposed = unicodedata.normalize("NFKD", value)
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
    """A complete 005010X279A1 270 interchange for one patient and one service type."""
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
    trace = _required(request.trace_number, "the trace number", max_len=50)
    originator = request.trace_originator or ("9" + npi[:9])
    if not re.fullmatch(r"[A-Za-z0-9]{10}", originator):
        raise X12Error("the trace originator (TRN03) must be 10 letters or digits")
    st_control = request.transaction_control_number.strip()
    if not re.fullmatch(r"\d{4,9}", st_control):
        raise X12Error("the transaction control number must be 4 to 9 digits")
    if request.date_of_birth > now.date():
        raise X12Error("the date of birth is in the future")

    body: list[list[Element]] = [
        ["BHT", "0022", "13", trace, now.strftime("%Y%m%d"), now.strftime("%H%M")],
        ["HL", "1", "", LEVEL_SOURCE, "1"],
        ["NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id],
        ["HL", "2", "1", LEVEL_RECEIVER, "1"],
        ["NM1", "1P", "2", provider_name, "", "", "", "", "XX", npi],
        ["HL", "3", "2", LEVEL_SUBSCRIBER, "0"],
        ["TRN", "1", trace, originator],
        ["NM1", "IL", "1", last, first, "", "", "", "MI", member_id],
    ]
    if group_number:
        body.append(["REF", "6P", _required(group_number, "the group number", max_len=50)])
    body.append(["DMG", "D8", request.date_of_birth.strftime("%Y%m%d")])
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


def _d8(seg: Segment, index: int) -> date:
    value = seg.get(index).strip()
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise X12Error(f"{seg.id}{index:02d} in segment {seg.position} is not a CCYYMMDD date") from None


def parse_270(text: str) -> EligibilityRequest:
    """The first inquiry of a 270 interchange, as a typed request."""
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
    for seg in tx.segments:
        if seg.id == "BHT":
            reference = seg.opt(3)
        elif seg.id == "HL":
            level = seg.get(3).strip()
        elif seg.id == "NM1":
            code = seg.get(1).strip()
            if code == "PR" and level == LEVEL_SOURCE:
                payer_name, payer_id = seg.opt(3), seg.opt(9)
            elif level == LEVEL_RECEIVER:
                provider_name, npi = seg.opt(3), seg.opt(9)
            elif code in ("IL", "03") and member_id is None:
                last, first, member_id = seg.opt(3), seg.opt(4), seg.opt(9)
        elif seg.id == "TRN" and trace is None:
            trace, originator = seg.opt(2), seg.opt(3)
        elif seg.id == "REF" and seg.get(1).strip() == "6P":
            group_number = seg.opt(2)
        elif seg.id == "DMG" and dob is None and seg.opt(2):
            dob = _d8(seg, 2)
        elif seg.id == "DTP" and seg.get(1).strip() == "291" and service_date is None:
            service_date = _date_reference(seg).begin
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
    if missing:
        raise X12Error("the 270 has no " + ", ".join(missing))
    assert payer_id and npi and member_id and dob
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
    )


# --------------------------------------------------------------------------------------------
# 271: the response, in typed loops


@dataclass(frozen=True)
class Rejection:
    """An AAA segment (or a JSON ``errors[]`` item): the payer could not process part of the request.

    ``loop`` says where it sat: 2000A/2100A (payer), 2100B (provider), 2100C/2100D (patient),
    2110C/2110D (one benefit). ``description``/``follow_up_text`` are the payer's own words when
    the response carries them (JSON does; X12 carries only codes).
    """

    loop: str
    code: str
    valid_request: bool | None = None
    follow_up_code: str | None = None
    description: str | None = None
    follow_up_text: str | None = None


@dataclass(frozen=True)
class ServiceDelivery:
    """HSD: how often or how much, e.g. 20 visits (VS) per calendar year (23)."""

    quantity_qualifier: str | None = None
    quantity: float | None = None
    unit: str | None = None
    sample_modulus: float | None = None
    time_period: str | None = None
    periods: float | None = None


@dataclass(frozen=True)
class Reference:
    """REF: a qualifier (18 plan number, 6P group number, 1L policy...) with a value and a description."""

    qualifier: str
    value: str = field(repr=False)
    description: str | None = None


@dataclass(frozen=True)
class DateReference:
    """DTP: qualifier (291 plan, 346 plan begin, 347 plan end, 356/357 eligibility...) with a date or range."""

    qualifier: str
    begin: date | None
    end: date | None


@dataclass(frozen=True)
class Entity:
    """NM1: an entity code (PR payer, 1P provider, IL subscriber, 03 dependent, X3 UM organisation...)."""

    entity_code: str
    entity_type: str | None = None
    name: str | None = field(default=None, repr=False)
    first_name: str | None = field(default=None, repr=False)
    id_qualifier: str | None = None
    identifier: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EligibilityBenefit:
    """One EB segment and what qualifies it (2110C/2110D loop, including 2115 III and 2120 entities).

    Codes are kept as the guide defines them: ``code`` EB01 (1-8 status, A coinsurance, B copay,
    C deductible, F limitations, G out of pocket, I non-covered...), ``coverage_level`` EB02
    (IND, FAM, EMP...), ``time_period`` EB06 (23 calendar year, 29 remaining...), ``percent`` EB08
    as a decimal (0.2 = 20%), ``quantity_qualifier`` EB09 (VS visits...), ``auth_required`` EB11
    and ``in_network`` EB12 (Y/N/U/W) as the raw letters.
    """

    code: str
    coverage_level: str | None = None
    service_types: tuple[str, ...] = ()
    insurance_type: str | None = None
    plan_description: str | None = None
    time_period: str | None = None
    amount: float | None = None
    percent: float | None = None
    quantity_qualifier: str | None = None
    quantity: float | None = None
    auth_required: str | None = None
    in_network: str | None = None
    procedure: tuple[str, ...] = ()
    deliveries: tuple[ServiceDelivery, ...] = ()
    references: tuple[Reference, ...] = ()
    dates: tuple[DateReference, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    messages: tuple[str, ...] = field(default=(), repr=False)
    places_of_service: tuple[str, ...] = ()
    related_entities: tuple[Entity, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class MemberLoop:
    """2000C (subscriber) or 2000D (dependent): who, and what the payer says about them."""

    level: str  # "subscriber" or "dependent"
    entity: Entity | None = None
    date_of_birth: date | None = field(default=None, repr=False)
    gender: str | None = field(default=None, repr=False)
    trace_numbers: tuple[str, ...] = field(default=(), repr=False)
    references: tuple[Reference, ...] = ()
    dates: tuple[DateReference, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    benefits: tuple[EligibilityBenefit, ...] = ()
    dependents: tuple[MemberLoop, ...] = ()


@dataclass(frozen=True)
class ReceiverLoop:
    """2000B: the information receiver (the provider who asked)."""

    entity: Entity | None = None
    rejections: tuple[Rejection, ...] = ()
    subscribers: tuple[MemberLoop, ...] = ()


@dataclass(frozen=True)
class SourceLoop:
    """2000A: the information source (the payer)."""

    entity: Entity | None = None
    rejections: tuple[Rejection, ...] = ()
    receivers: tuple[ReceiverLoop, ...] = ()


@dataclass(frozen=True)
class Transaction271:
    control_number: str
    reference: str | None
    sources: tuple[SourceLoop, ...]


@dataclass(frozen=True)
class Interchange271:
    delimiters: Delimiters
    sender_id: str
    receiver_id: str
    control_number: str
    usage: str
    transactions: tuple[Transaction271, ...]


# Mutable builders used while walking the segments.


@dataclass
class _Benefit:
    seg: Segment
    deliveries: list[ServiceDelivery] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    dates: list[DateReference] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)

    def build(self) -> EligibilityBenefit:
        s = self.seg
        code = s.get(1).strip()
        if not code:
            raise X12Error(f"EB01 in segment {s.position} is empty")
        return EligibilityBenefit(
            code=code.upper(),
            coverage_level=s.opt(2),
            service_types=tuple(t.upper() for t in s.repeats(3)),
            insurance_type=s.opt(4),
            plan_description=s.opt(5),
            time_period=s.opt(6),
            amount=s.decimal(7),
            percent=s.decimal(8),
            quantity_qualifier=s.opt(9),
            quantity=s.decimal(10),
            auth_required=(s.opt(11) or "").upper() or None,
            in_network=(s.opt(12) or "").upper() or None,
            procedure=tuple(c.strip() for c in s.components(13)),
            deliveries=tuple(self.deliveries),
            references=tuple(self.references),
            dates=tuple(self.dates),
            rejections=tuple(self.rejections),
            messages=tuple(self.messages),
            places_of_service=tuple(self.places),
            related_entities=tuple(self.entities),
        )


@dataclass
class _Member:
    level: str
    entity: Entity | None = None
    dob: date | None = None
    gender: str | None = None
    traces: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    dates: list[DateReference] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    benefits: list[_Benefit] = field(default_factory=list)
    dependents: list[_Member] = field(default_factory=list)

    def build(self) -> MemberLoop:
        return MemberLoop(
            level=self.level,
            entity=self.entity,
            date_of_birth=self.dob,
            gender=self.gender,
            trace_numbers=tuple(self.traces),
            references=tuple(self.references),
            dates=tuple(self.dates),
            rejections=tuple(self.rejections),
            benefits=tuple(b.build() for b in self.benefits),
            dependents=tuple(d.build() for d in self.dependents),
        )


@dataclass
class _Receiver:
    entity: Entity | None = None
    rejections: list[Rejection] = field(default_factory=list)
    subscribers: list[_Member] = field(default_factory=list)


@dataclass
class _Source:
    entity: Entity | None = None
    rejections: list[Rejection] = field(default_factory=list)
    receivers: list[_Receiver] = field(default_factory=list)


def _entity(seg: Segment) -> Entity:
    return Entity(
        entity_code=seg.get(1).strip(),
        entity_type=seg.opt(2),
        name=seg.opt(3),
        first_name=seg.opt(4),
        id_qualifier=seg.opt(8),
        identifier=seg.opt(9),
    )


def _rejection(seg: Segment, loop: str) -> Rejection:
    code = seg.get(3).strip()
    if not code:
        raise X12Error(f"AAA03 in segment {seg.position} (the reject reason) is empty")
    valid = seg.get(1).strip().upper()
    return Rejection(
        loop=loop,
        code=code.upper(),
        valid_request=True if valid == "Y" else False if valid == "N" else None,
        follow_up_code=(seg.opt(4) or "").upper() or None,
    )


def _date_reference(seg: Segment) -> DateReference:
    qualifier = seg.get(1).strip()
    fmt = seg.get(2).strip().upper()
    value = seg.get(3).strip()
    try:
        if fmt == "D8":
            day = datetime.strptime(value, "%Y%m%d").date()
            return DateReference(qualifier, day, day)
        if fmt == "RD8":
            first, _, last = value.partition("-")
            return DateReference(
                qualifier,
                datetime.strptime(first, "%Y%m%d").date(),
                datetime.strptime(last, "%Y%m%d").date(),
            )
    except ValueError:
        raise X12Error(f"DTP03 in segment {seg.position} is not a valid {fmt} date") from None
    raise X12Error(f"DTP02 in segment {seg.position} must be D8 or RD8")


def _reference(seg: Segment) -> Reference:
    return Reference(qualifier=seg.get(1).strip(), value=seg.get(2).strip(), description=seg.opt(3))


def _delivery(seg: Segment) -> ServiceDelivery:
    return ServiceDelivery(
        quantity_qualifier=seg.opt(1),
        quantity=seg.decimal(2),
        unit=seg.opt(3),
        sample_modulus=seg.decimal(4),
        time_period=seg.opt(5),
        periods=seg.decimal(6),
    )


def _parse_transaction(tx: TransactionSet) -> Transaction271:
    sources: list[_Source] = []
    hl_nodes: dict[str, object] = {}
    reference: str | None = None
    source: _Source | None = None
    receiver: _Receiver | None = None
    member: _Member | None = None
    benefit: _Benefit | None = None
    in_2120 = False
    level = ""
    for seg in tx.segments[1:-1]:
        sid = seg.id
        if sid == "BHT":
            reference = seg.opt(3)
            continue
        if sid == "HL":
            hl_id = seg.get(1).strip()
            parent_id = seg.get(2).strip()
            level = seg.get(3).strip()
            benefit = None
            in_2120 = False
            if not hl_id:
                raise X12Error(f"HL01 in segment {seg.position} is empty")
            parent = hl_nodes.get(parent_id) if parent_id else None
            if level == LEVEL_SOURCE:
                source = _Source()
                sources.append(source)
                hl_nodes[hl_id] = source
                receiver = None
                member = None
            elif level == LEVEL_RECEIVER:
                owner = parent if isinstance(parent, _Source) else source
                if owner is None:
                    raise X12Error(f"HL at segment {seg.position}: a receiver level needs a payer level above it")
                receiver = _Receiver()
                owner.receivers.append(receiver)
                hl_nodes[hl_id] = receiver
                member = None
            elif level == LEVEL_SUBSCRIBER:
                owner_r = parent if isinstance(parent, _Receiver) else receiver
                if owner_r is None:
                    raise X12Error(f"HL at segment {seg.position}: a subscriber level needs a receiver level above it")
                member = _Member("subscriber")
                owner_r.subscribers.append(member)
                hl_nodes[hl_id] = member
            elif level == LEVEL_DEPENDENT:
                owner_m = parent if isinstance(parent, _Member) else member
                if owner_m is None or owner_m.level != "subscriber":
                    raise X12Error(f"HL at segment {seg.position}: a dependent level needs a subscriber level above it")
                dependent = _Member("dependent")
                owner_m.dependents.append(dependent)
                hl_nodes[hl_id] = dependent
                member = dependent
            else:
                raise X12Error(f"HL03 in segment {seg.position} is not a 271 level (20, 21, 22 or 23)")
            continue
        if source is None:
            if sid in ("TRN", "REF", "DTP", "MSG"):
                continue
            raise X12Error(f"{seg.where()} appears before the first HL")

        if level == LEVEL_SOURCE:
            if sid == "NM1" and source.entity is None:
                source.entity = _entity(seg)
            elif sid == "AAA":
                source.rejections.append(_rejection(seg, "2100A" if source.entity else "2000A"))
            continue
        if level == LEVEL_RECEIVER and receiver is not None:
            if sid == "NM1" and receiver.entity is None:
                receiver.entity = _entity(seg)
            elif sid == "AAA":
                receiver.rejections.append(_rejection(seg, "2100B"))
            continue
        if member is None:
            continue
        suffix = "C" if member.level == "subscriber" else "D"
        if sid == "EB":
            benefit = _Benefit(seg)
            member.benefits.append(benefit)
            in_2120 = False
            continue
        if benefit is None:
            # 2000C/2100C (or D): the patient's own segments.
            if sid == "TRN":
                if seg.opt(2):
                    member.traces.append(seg.get(2).strip())
            elif sid == "NM1" and member.entity is None:
                member.entity = _entity(seg)
            elif sid == "REF":
                member.references.append(_reference(seg))
            elif sid == "DMG":
                if seg.opt(2):
                    if seg.get(1).strip() not in ("", "D8"):
                        raise X12Error(f"DMG01 in segment {seg.position} must be D8")
                    member.dob = _d8(seg, 2)
                member.gender = seg.opt(3)
            elif sid == "DTP":
                member.dates.append(_date_reference(seg))
            elif sid == "AAA":
                member.rejections.append(_rejection(seg, f"2100{suffix}"))
            continue
        # 2110C/D and its child loops.
        if sid == "LS":
            in_2120 = True
        elif sid == "LE":
            in_2120 = False
        elif in_2120:
            if sid == "NM1":
                benefit.entities.append(_entity(seg))
        elif sid == "HSD":
            benefit.deliveries.append(_delivery(seg))
        elif sid == "REF":
            benefit.references.append(_reference(seg))
        elif sid == "DTP":
            benefit.dates.append(_date_reference(seg))
        elif sid == "AAA":
            benefit.rejections.append(_rejection(seg, f"2110{suffix}"))
        elif sid == "MSG":
            if seg.opt(1):
                benefit.messages.append(seg.get(1).strip())
        elif sid == "III" and seg.get(1).strip() == "ZZ" and seg.opt(2):
            benefit.places.append(seg.get(2).strip())
    return Transaction271(
        control_number=tx.control_number,
        reference=reference,
        sources=tuple(
            SourceLoop(
                entity=s.entity,
                rejections=tuple(s.rejections),
                receivers=tuple(
                    ReceiverLoop(
                        entity=r.entity,
                        rejections=tuple(r.rejections),
                        subscribers=tuple(m.build() for m in r.subscribers),
                    )
                    for r in s.receivers
                ),
            )
            for s in sources
        ),
    )


def parse_271(text: str) -> Interchange271:
    """Parse a 271 interchange (one or more 271 transaction sets) into typed loops."""
    envelope = parse_envelope(text)
    if not envelope.transactions:
        raise X12Error("the interchange holds no transaction set")
    transactions: list[Transaction271] = []
    for tx in envelope.transactions:
        if tx.set_id != "271":
            raise X12Error(f"expected a 271 transaction set, found {tx.set_id or 'none'}")
        parsed = _parse_transaction(tx)
        if not parsed.sources:
            raise X12Error(f"the 271 transaction set {tx.control_number} has no HL payer level")
        transactions.append(parsed)
    return Interchange271(
        delimiters=envelope.delimiters,
        sender_id=envelope.sender_id,
        receiver_id=envelope.receiver_id,
        control_number=envelope.control_number,
        usage=envelope.usage,
        transactions=tuple(transactions),
    )
