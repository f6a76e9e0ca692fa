"""The X12 271 reader: a raw 271 -> one ``Answer`` per patient loop -> a coverage summary."""

from __future__ import annotations

from functions.insurance.interpret import interpret
from functions.insurance.summary import Answer, CoverageSummary, EligibilityParseError
from functions.insurance.x12 import X12Error
from functions.insurance.x12_271 import parse_271


def answers_from_271(text: str) -> tuple[Answer, ...]:
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
                    dependent = sub.dependents[-1] if sub.dependents else None
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


def summarize_271(text: str) -> CoverageSummary:
    """The coverage summary of a raw X12 271 (any separators its ISA declares)."""
    return interpret(answers_from_271(text))
