"""The 271 eligibility response, parsed into typed loops (2000A payer, 2000B receiver, 2000C/D
member) holding :mod:`functions.insurance.benefits` values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from functions.insurance.benefits import (
    DateReference,
    EligibilityBenefit,
    Entity,
    Reference,
    Rejection,
    ServiceDelivery,
)
from functions.insurance.x12 import (
    LEVEL_DEPENDENT,
    LEVEL_RECEIVER,
    LEVEL_SOURCE,
    LEVEL_SUBSCRIBER,
    Delimiters,
    Segment,
    TransactionSet,
    X12Error,
    d8,
    date_reference,
    parse_envelope,
)


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
                    member.dob = d8(seg, 2)
                member.gender = seg.opt(3)
            elif sid == "DTP":
                member.dates.append(date_reference(seg))
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
            benefit.dates.append(date_reference(seg))
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
