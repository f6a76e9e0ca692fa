"""What a payer answers, whatever the wire format: benefit lines (EB), rejections (AAA) and their
references (REF), dates (DTP) and entities (NM1). The 271 parser and the JSON reader both produce
these; the interpretation reads only these. ``repr`` hides every field that can carry patient data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


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
