"""The X12 271 reader: a raw 271 -> one ``Answer`` per patient loop -> a coverage summary.

The patient's loop under a subscriber (2000C) is the dependent (2000D) that names the patient
(birth date and last name, when the caller says who the patient is), else the subscriber itself
when it names the patient, else the last dependent. Its benefits are its own 2110D lines; a
payer that answers a dependent with the benefits under the subscriber (2110C) and the
dependent's own loop holding only who they are (NM1, DMG, INS) gets those 2110C lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from functions.insurance.interpret import interpret
from functions.insurance.summary import Answer, CoverageSummary, EligibilityParseError
from functions.insurance.x12 import X12Error
from functions.insurance.x12_270 import x12_text
from functions.insurance.x12_271 import MemberLoop, parse_271


@dataclass(frozen=True)
class Patient:
    """Who the inquiry was about, to find their loop in a family's answer."""

    last_name: str
    date_of_birth: date


def _names(loop: MemberLoop, patient: Patient) -> bool:
    if loop.date_of_birth is not None and loop.date_of_birth != patient.date_of_birth:
        return False
    name = loop.entity.name if loop.entity else None
    return bool(name) and x12_text(name or "") == x12_text(patient.last_name)


def patient_loop(sub: MemberLoop, patient: Patient | None) -> MemberLoop | None:
    """The dependent loop that holds the patient, or None when the subscriber is the patient."""
    if not sub.dependents:
        return None
    if patient is not None:
        named = [d for d in sub.dependents if _names(d, patient)]
        if named:
            return named[0]
        if _names(sub, patient):
            return None
    return sub.dependents[-1]


def answers_from_271(text: str, patient: Patient | None = None) -> tuple[Answer, ...]:
    """Parse a 271 and return one answer per patient loop (raises ``EligibilityParseError``)."""
    try:
        interchange = parse_271(text)
    except X12Error as exc:
        raise EligibilityParseError(f"not a valid X12 271: {exc}") from exc
    answers: list[Answer] = []
    for tx in interchange.transactions:
        for source in tx.sources:
            payer = source.entity.name if source.entity else None
            if not source.receivers:
                answers.append(Answer(payer=payer, rejections=source.rejections))
            for receiver in source.receivers:
                upper = source.rejections + receiver.rejections
                if not receiver.subscribers:
                    answers.append(Answer(payer=payer, rejections=upper))
                for sub in receiver.subscribers:
                    dependent = patient_loop(sub, patient)
                    rejections = upper + sub.rejections + (dependent.rejections if dependent else ())
                    benefits = dependent.benefits if dependent and dependent.benefits else sub.benefits
                    answers.append(
                        Answer(
                            payer=payer,
                            benefits=benefits,
                            rejections=rejections,
                            references=sub.references + (dependent.references if dependent else ()),
                            dates=(dependent.dates if dependent else ()) + sub.dates,
                        )
                    )
    return tuple(answers)


def summarize_271(text: str, patient: Patient | None = None) -> CoverageSummary:
    """The coverage summary of a raw X12 271 (any separators its ISA declares)."""
    return interpret(answers_from_271(text, patient))
