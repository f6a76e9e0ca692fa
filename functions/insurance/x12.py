"""X12 005010X279A1: separators, segments, the envelope and the writer that 270 and 271 share.

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

The 270 is in ``x12_270``, the 271 in ``x12_271``. Repr of every model that carries patient data
(names, member ids, dates of birth, reference numbers) hides those fields, so logging a parsed
value cannot leak them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from functions.core.errors import DomainError
from functions.insurance.benefits import DateReference

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
# Dates (DTP, DMG), read by both sides


def date_reference(seg: Segment) -> DateReference:
    """A DTP segment: a D8 date or an RD8 range."""
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


def d8(seg: Segment, index: int) -> date:
    """Element ``index`` of ``seg`` as a CCYYMMDD date."""
    value = seg.get(index).strip()
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise X12Error(f"{seg.id}{index:02d} in segment {seg.position} is not a CCYYMMDD date") from None
