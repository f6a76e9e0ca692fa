"""How payer answers become one coverage summary: ``interpret`` and ``merge``.

Both wire formats are read into ``Answer`` values (``reader_271``, ``reader_json``); this module
ranks their benefit lines (EB loops) and rejections (AAA) into a ``CoverageSummary``. ``merge``
re-interprets the union of the answers behind several summaries (one per service type asked),
so the best line wins whichever answer it came in. What each AAA reason means is in ``aaa``.
The rules (which line supplies each figure, how the status and the errors are decided) are
written out in ``docs/insurance.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, cast

from functions.insurance.aaa import AAA_REASONS, FOLLOW_UP_ACTIONS
from functions.insurance.benefits import DateReference, EligibilityBenefit, Reference, Rejection
from functions.insurance.service_types import (
    FIGURE_PREFERENCE,
    IOP_PROCEDURES,
    PLAN_COVERAGE,
    PRIMARY_OUTPATIENT,
    TELEHEALTH_PLACES,
)
from functions.insurance.summary import CALL_PAYER as _CALL_PAYER
from functions.insurance.summary import STATUSES, Amounts, Answer, CoverageError, CoverageSummary, Status

ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})
# Lines that only exist for a known, covered member: without a status line they imply "active".
IMPLIES_ACTIVE = frozenset({"A", "B", "C", "F", "G", "H", "J", "CB", "D", "E", "L", "MC", "N", "X", "Y"})

# AAA03 reasons meaning "the payer could not identify the patient from what we sent".
NOT_FOUND_CODES = frozenset({"58", "64", "65", "67", "68", "71", "72", "73", "75", "76", "77", "78"})
OUT_OF_NETWORK_CODE = "35"

_TOTAL_PERIOD_RANK = {"23": 0, "22": 0, "25": 0, "21": 0, "": 0, "32": 1}
_REMAINING_PERIODS = {"29": 0, "33": 1}
_YEAR_TO_DATE = "24"
_EXCEEDED = "30"
_VISITS = "VS"
_QUANTITY_USED = "99"
_PLAN_RANK = len(FIGURE_PREFERENCE)
_SVC_RANK = {code: i for i, code in enumerate(FIGURE_PREFERENCE)}


# --------------------------------------------------------------------------------------------
# Ranking lines


def _svc_rank(b: EligibilityBenefit) -> int | None:
    """Lower is more relevant to mental-health outpatient; None: not a line for us."""
    if not b.service_types:
        return _PLAN_RANK
    ranks = [_SVC_RANK[t] for t in b.service_types if t in _SVC_RANK]
    if ranks:
        return min(ranks)
    if PLAN_COVERAGE in b.service_types:
        return _PLAN_RANK
    return None


def _net_coarse(b: EligibilityBenefit) -> int:
    return {"N": 2, "U": 1}.get(b.in_network or "", 0)


def _net_fine(b: EligibilityBenefit) -> int:
    return {"Y": 0, "W": 1}.get(b.in_network or "", 2)


def _cov_coarse(b: EligibilityBenefit) -> int:
    level = b.coverage_level or ""
    if level in ("", "IND", "EMP"):
        return 0
    return 2 if level == "FAM" else 1


def _cov_fine(b: EligibilityBenefit) -> int:
    return {"IND": 0, "EMP": 1, "": 2}.get(b.coverage_level or "", 3)


def _proc_rank(b: EligibilityBenefit) -> int:
    if not b.procedure:
        return 1
    return 0 if any(p.upper() in IOP_PROCEDURES for p in b.procedure[1:2]) else 2


def _pos_rank(b: EligibilityBenefit) -> int:
    if not b.places_of_service:
        return 1
    return 0 if any(p in TELEHEALTH_PLACES for p in b.places_of_service) else 2


Ranked = tuple[tuple[int, ...], EligibilityBenefit]


def _relevant(lines: Sequence[EligibilityBenefit]) -> list[Ranked]:
    """The lines that may supply figures, each with its rank key (lower is better)."""
    out: list[Ranked] = []
    for index, b in enumerate(lines):
        svc = _svc_rank(b)
        if svc is None or b.code == "I":
            continue
        key = (
            _net_coarse(b),
            _cov_coarse(b),
            _proc_rank(b),
            svc,
            _pos_rank(b),
            _net_fine(b),
            _cov_fine(b),
            index,
        )
        out.append((key, b))
    return out


def _best(ranked: Iterable[tuple[tuple[int, ...], float]]) -> float | None:
    items = sorted(ranked, key=lambda item: item[0])
    return items[0][1] if items else None


def _with_period(key: tuple[int, ...], period_rank: int) -> tuple[int, ...]:
    # The period preference sits after service type and place, before the tie-breakers.
    return (*key[:5], period_rank, *key[5:])


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _amounts(ranked: list[Ranked], code: str) -> Amounts:
    totals: list[tuple[tuple[int, ...], float]] = []
    remaining: list[tuple[tuple[int, ...], float]] = []
    met: list[tuple[tuple[int, ...], float]] = []
    for key, b in ranked:
        if b.code != code or b.amount is None:
            continue
        period = b.time_period or ""
        if period in _REMAINING_PERIODS:
            remaining.append((_with_period(key, _REMAINING_PERIODS[period]), b.amount))
        elif period == _YEAR_TO_DATE:
            met.append((key, b.amount))
        elif period in _TOTAL_PERIOD_RANK:
            totals.append((_with_period(key, _TOTAL_PERIOD_RANK[period]), b.amount))
    total = _best(totals)
    left = _best(remaining)
    if left is None and total is not None:
        used = _best(met)
        if used is not None:
            left = max(total - used, 0.0)
    return Amounts(_money(total), _money(left))


def _visits(ranked: list[Ranked]) -> int | None:
    remaining: list[tuple[tuple[int, ...], float]] = []
    limits: list[tuple[tuple[int, ...], float]] = []
    used: list[tuple[tuple[int, ...], float]] = []
    for key, b in ranked:
        code_key = (*key[:5], 0 if b.code == "F" else 1, *key[5:])
        period = b.time_period or ""
        if b.quantity_qualifier == _VISITS:
            if period == _EXCEEDED:
                remaining.append((code_key, 0.0))
            elif b.quantity is not None:
                if period in _REMAINING_PERIODS:
                    remaining.append((code_key, b.quantity))
                elif period == _YEAR_TO_DATE:
                    used.append((code_key, b.quantity))
                elif period in _TOTAL_PERIOD_RANK:
                    limits.append((code_key, b.quantity))
        elif b.quantity_qualifier == _QUANTITY_USED and b.quantity is not None:
            used.append((code_key, b.quantity))
        for d in b.deliveries:
            if d.quantity_qualifier != _VISITS or d.quantity is None:
                continue
            if (d.time_period or "") in _REMAINING_PERIODS:
                remaining.append((code_key, d.quantity))
            else:
                limits.append(((*code_key, 1), d.quantity))
    left = _best(remaining)
    if left is None:
        limit, spent = _best(limits), _best(used)
        if limit is not None and spent is not None:
            left = limit - spent
    if left is None:
        return None
    return max(math.floor(left + 1e-9), 0)


def _percent(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value * 100 if value <= 1 else value, 2)


def _prior_auth(ranked: list[Ranked]) -> bool | None:
    cands = [(key, b) for key, b in ranked if b.auth_required in ("Y", "N")]
    if not cands:
        return None
    tier = min(key[0] for key, _ in cands)
    cands = [(key, b) for key, b in cands if key[0] == tier]
    specific = [b for key, b in cands if key[3] < _PLAN_RANK]
    chosen = specific or [b for _, b in cands]
    return any(b.auth_required == "Y" for b in chosen)


def _in_network(lines: Sequence[EligibilityBenefit], rejections: Sequence[Rejection]) -> bool | None:
    if any(r.code == OUT_OF_NETWORK_CODE for r in rejections):
        return False
    status_lines = sorted(
        (
            (svc, i, b)
            for i, b in enumerate(lines)
            if b.code in ACTIVE_CODES and b.in_network in ("Y", "N") and (svc := _svc_rank(b)) is not None
        ),
        key=lambda t: (t[0], t[1]),
    )
    if status_lines:
        return status_lines[0][2].in_network == "Y"
    cost = [
        (svc, b)
        for b in lines
        if b.code not in ACTIVE_CODES
        and b.code not in INACTIVE_CODES
        and b.code != "I"
        and (svc := _svc_rank(b)) is not None
        and b.in_network in ("Y", "N")
    ]
    specific = [b for svc, b in cost if svc < _PLAN_RANK]
    chosen = specific or [b for _, b in cost]
    if chosen and all(b.in_network == "N" for b in chosen):
        return False
    return None


def _plan(lines: Sequence[EligibilityBenefit], references: Sequence[Reference]) -> str | None:
    status = [
        (0 if (not b.service_types or PLAN_COVERAGE in b.service_types) else 1, i, b.plan_description)
        for i, b in enumerate(lines)
        if (b.code in ACTIVE_CODES or b.code in INACTIVE_CODES) and b.plan_description
    ]
    if status:
        return min(status)[2]
    for ref in references:
        if ref.qualifier == "18" and ref.description:
            return ref.description
    ranked = [(key, b.plan_description) for key, b in _relevant(lines) if b.plan_description]
    if ranked:
        return min(ranked)[1]
    for ref in references:
        if ref.qualifier in ("6P", "1L", "IG") and ref.description:
            return ref.description
    return None


def _coverage_dates(dates: Sequence[DateReference]) -> tuple[date | None, date | None]:
    def first(qualifiers: tuple[str, ...], attr: str) -> date | None:
        for q in qualifiers:
            for d in dates:
                if d.qualifier == q and getattr(d, attr) is not None:
                    return cast(date, getattr(d, attr))
        return None

    begin = first(("346", "356", "291", "307"), "begin")
    end = first(("347", "357"), "end")
    if end is None:
        for q in ("291", "307"):
            match = next((d for d in dates if d.qualifier == q and d.end and d.end != d.begin), None)
            if match:
                end = match.end
                break
    return begin, end


def _error_for(r: Rejection) -> CoverageError:
    known = AAA_REASONS.get(r.code)
    message = r.description or (known[0] if known else f"Rejected by the payer (reason code {r.code})")
    if known:
        follow_up = known[1]
    else:
        follow_up = r.follow_up_text or FOLLOW_UP_ACTIONS.get(r.follow_up_code or "", "") or _CALL_PAYER
    return CoverageError(r.code, " ".join(message.split()), " ".join(follow_up.split()))


def _entity_names(b: EligibilityBenefit) -> list[str]:
    return [e.name for e in b.related_entities if e.name]


def _synthetic_errors(lines: Sequence[EligibilityBenefit]) -> list[CoverageError]:
    out: list[CoverageError] = []
    if any(b.code == "V" for b in lines):
        out.append(CoverageError("V", "The payer cannot process this eligibility inquiry.", _CALL_PAYER))
    referred = [b for b in lines if b.code == "U" and _svc_rank(b) is not None]
    if referred:
        names = sorted({n for b in referred for n in _entity_names(b)})
        who = f": {', '.join(names)}" if names else ""
        out.append(
            CoverageError(
                "U",
                f"The payer says another organisation handles these benefits{who}.",
                "Contact that organisation (often a behavioral health plan) for the mental health benefits.",
            )
        )
    primary = [b for b in lines if any(t in PRIMARY_OUTPATIENT for t in b.service_types)]
    not_covered = [b for b in primary if b.code == "I" and b.in_network != "N"]
    covered = [b for b in primary if b.code not in ("I", "V", "U") and b.code not in INACTIVE_CODES]
    if not_covered and not covered:
        out.append(
            CoverageError(
                "I",
                "The payer lists mental health outpatient services as not covered.",
                "Call the payer to confirm; if they are not covered, discuss self-pay or other coverage "
                "with the patient.",
            )
        )
    return out


def _dedupe(errors: Iterable[CoverageError]) -> tuple[CoverageError, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[CoverageError] = []
    for e in errors:
        if (e.code, e.message) not in seen:
            seen.add((e.code, e.message))
            out.append(e)
    return tuple(out)


def interpret(answers: Sequence[Answer]) -> CoverageSummary:
    lines = [b for a in answers for b in a.benefits]
    top = [r for a in answers for r in a.rejections]
    nested = [r for b in lines for r in b.rejections]
    references = [r for a in answers for r in a.references]
    dates = [d for a in answers for d in a.dates]
    payer = next((a.payer for a in answers if a.payer), None)

    errors = [_error_for(r) for r in top] + [_error_for(r) for r in nested] + _synthetic_errors(lines)
    status: Status
    if any(b.code in ACTIVE_CODES for b in lines):
        status = "active"
    elif any(b.code in INACTIVE_CODES for b in lines):
        status = "inactive"
    elif top:
        status = "not_found" if any(r.code in NOT_FOUND_CODES for r in top) else "error"
    elif any(b.code in IMPLIES_ACTIVE or b.code == "I" for b in lines):
        status = "active"
    else:
        status = "error"
        if not errors:
            errors.append(
                CoverageError(
                    "no_status",
                    "The payer's response gave no coverage status.",
                    _CALL_PAYER,
                )
            )

    ranked = _relevant(lines)
    copay = _best((key, b.amount) for key, b in ranked if b.code == "B" and b.amount is not None)
    coinsurance = _best((key, b.percent) for key, b in ranked if b.code == "A" and b.percent is not None)
    begin, end = _coverage_dates(dates)
    return CoverageSummary(
        status=status,
        payer=payer,
        plan=_plan(lines, references),
        in_network=_in_network(lines, top + nested),
        prior_auth_required=_prior_auth(ranked),
        copay=_money(copay),
        coinsurance_percent=_percent(coinsurance),
        deductible=_amounts(ranked, "C"),
        out_of_pocket=_amounts(ranked, "G"),
        visits_remaining=_visits(ranked),
        errors=_dedupe(errors),
        coverage_begin=begin,
        coverage_end=end,
        sources=tuple(answers),
    )


# --------------------------------------------------------------------------------------------
# Merging and files


def _merge_fields(summaries: Sequence[CoverageSummary]) -> CoverageSummary:
    """Field by field, for summaries read back from storage (no sources)."""
    statuses = {s.status for s in summaries}
    status: Status = next(st for st in STATUSES if st in statuses)

    def first(values: Iterable[Any]) -> Any:
        return next((v for v in values if v is not None), None)

    # Later summaries answer the behavioural service types: their figures are the specific ones.
    specific = list(reversed(summaries))
    networks = [s.in_network for s in summaries if s.in_network is not None]
    auths = [s.prior_auth_required for s in summaries if s.prior_auth_required is not None]
    visits = [s.visits_remaining for s in summaries if s.visits_remaining is not None]
    return CoverageSummary(
        status=status,
        payer=first(s.payer for s in summaries),
        plan=first(s.plan for s in summaries),
        in_network=all(networks) if networks else None,
        prior_auth_required=any(auths) if auths else None,
        copay=first(s.copay for s in specific),
        coinsurance_percent=first(s.coinsurance_percent for s in specific),
        deductible=Amounts(
            first(s.deductible.total for s in specific), first(s.deductible.remaining for s in specific)
        ),
        out_of_pocket=Amounts(
            first(s.out_of_pocket.total for s in specific), first(s.out_of_pocket.remaining for s in specific)
        ),
        visits_remaining=min(visits) if visits else None,
        errors=_dedupe(e for s in summaries for e in s.errors),
        coverage_begin=first(s.coverage_begin for s in summaries),
        coverage_end=first(s.coverage_end for s in summaries),
    )


def merge(summaries: Sequence[CoverageSummary]) -> CoverageSummary:
    """One summary from the answers to several service types (asked ``30`` first).

    Summaries made by ``summarize_*`` are merged line by line (their EB loops re-ranked together);
    summaries read back with ``from_dict`` are merged field by field: the first active/inactive/
    not_found/error status in that order, out of network if any says so, prior auth if any says so,
    figures from the most specific (last) answer that has them, the fewest visits remaining.
    """
    if not summaries:
        raise ValueError("merge needs at least one summary")
    if len(summaries) == 1:
        return summaries[0]
    if all(s.sources for s in summaries):
        return interpret([a for s in summaries for a in s.sources])
    return _merge_fields(summaries)
