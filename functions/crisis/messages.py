"""Every text the crisis workflow sends, to staff and to the patient.

Minimum necessary: these take only the clinic's name and phone, the case code, links and a
staff member's name. No patient name, diagnosis, score, program type or
"mental health" wording can reach them. SMS texts use plain ASCII (GSM-7, no curly quotes or
dashes) so they are not re-encoded into shorter UCS-2 segments.

Staff names shown to colleagues are first names only (``first_name``). This module imports
nothing heavy: the inbound-SMS path renders replies without loading pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Urgency = Literal["urgent", "same_day"]
AlwaysEmailReason = Literal["no_responder", "exhausted"]
CaseStatus = Literal["open", "acknowledged", "resolved"]


@dataclass(frozen=True)
class EmailText:
    subject: str
    text: str


def first_name(name: str) -> str:
    """The name a colleague would use in a one-line notice ("Dr. Jane Roe" -> "Jane")."""
    titles = {"dr", "dr.", "mr", "mr.", "ms", "ms.", "mrs", "mrs.", "mx", "mx.", "prof", "prof."}
    parts = name.split()
    while len(parts) > 1 and parts[0].lower() in titles:
        parts = parts[1:]
    return parts[0] if parts else "a colleague"


# --- staff alerts --------------------------------------------------------------------------


def staff_alert_sms(clinic: str, code: str, urgency: Urgency, link: str) -> str:
    """The page: ``"<Clinic> URGENT patient safety alert, case K7Q2. Reply ACK K7Q2 or open <link>"``."""
    if urgency == "urgent":
        return f"{clinic} URGENT patient safety alert, case {code}. Reply ACK {code} or open {link}"
    return f"{clinic} patient safety follow-up needed today, case {code}. Reply ACK {code} or open {link}"


def staff_alert_email(clinic: str, code: str, urgency: Urgency, link: str) -> EmailText:
    """The page by email: same code and link; the subject carries nothing but the code."""
    if urgency == "urgent":
        subject = f"[{clinic}] URGENT safety alert {code}"
        need = "A patient needs an urgent safety response now."
    else:
        subject = f"[{clinic}] Safety follow-up needed today {code}"
        need = "A patient needs a safety follow-up today."
    text = (
        f"{need}\n\n"
        f"Case {code}. To take this case, open the link below and press Confirm:\n{link}\n\n"
        f"Opening the link alone does not take the case. You can also reply ACK {code} "
        "to the text message we sent you.\n\n"
        "Details are on the case page after staff sign-in. Please do not forward this email.\n\n"
        f"{clinic}"
    )
    return EmailText(subject, text)


def ack_notice_sms(clinic: str, code: str, acked_by_name: str) -> str:
    """To everyone already paged: ``"<Clinic>: case K7Q2 acknowledged by Jane. ..."``."""
    return f"{clinic}: case {code} acknowledged by {first_name(acked_by_name)}. No action needed from you."


def ack_notice_email(clinic: str, code: str, acked_by_name: str) -> EmailText:
    who = first_name(acked_by_name)
    return EmailText(
        f"[{clinic}] Case {code} acknowledged",
        f"Case {code} acknowledged by {who}. No action is needed from you.\n\n{clinic}",
    )


def always_email_message(
    clinic: str, code: str, urgency: Urgency, reason: AlwaysEmailReason, link: str, rounds: int | None = None
) -> EmailText:
    """To ``always_email``: nobody acknowledged after every round, or nobody could be paged."""
    kind = "URGENT safety alert" if urgency == "urgent" else "Safety follow-up"
    if reason == "exhausted":
        passes = f" after {rounds} round(s) of paging" if rounds else ""
        subject = f"[{clinic}] UNACKNOWLEDGED {kind} {code}"
        what = (
            f"Nobody on the on-call roster acknowledged case {code}{passes}. "
            "Paging has stopped and the case is still open."
        )
    else:
        subject = f"[{clinic}] NO ON-CALL RESPONDER for {kind} {code}"
        what = (
            f"Case {code} could not be paged: the on-call roster is missing or has nobody to page. "
            "The case is open and nobody has been alerted but you."
        )
    text = (
        f"{what}\n\n"
        f"Please make sure someone takes it now. Open the link below and press Confirm:\n{link}\n\n"
        "Details are on the case page after staff sign-in. Please do not forward this email.\n\n"
        f"{clinic}"
    )
    return EmailText(subject, text)


# --- replies to ACK texts ------------------------------------------------------------------


def ack_confirmed_sms(clinic: str, code: str, case_link: str | None = None, others_told: bool = True) -> str:
    """The acknowledging person's confirmation."""
    told = " The others paged have been told." if others_told else ""
    where = f" Details (staff sign-in): {case_link}" if case_link else " Details are on the case page."
    return f"{clinic}: thank you, case {code} is yours.{told}{where}"


def ack_refused_sms(clinic: str) -> str:
    """Unknown code, closed case's code, or a phone not on the roster: one polite answer for all,
    so a reply never reveals whether a code exists."""
    return (
        f"{clinic}: sorry, we could not match this reply to an alert sent to this phone. "
        "Check the code in the alert, or use the link in it."
    )


def ack_missing_code_sms(clinic: str) -> str:
    """``ACK`` without a readable code."""
    return f"{clinic}: to take a case, reply ACK and the case code from the alert, for example ACK K7Q2."


def ack_late_sms(clinic: str, code: str, status: CaseStatus, acked_by_name: str | None) -> str:
    """An acknowledgement after someone else took the case (or it was resolved)."""
    if acked_by_name:
        who = first_name(acked_by_name)
        return f"{clinic}: case {code} was already acknowledged by {who}. No action needed."
    if status == "resolved":
        return f"{clinic}: case {code} is already resolved. No action needed."
    return f"{clinic}: case {code} is already taken. No action needed."


# --- patient -------------------------------------------------------------------------------


def patient_crisis_sms(clinic: str, clinic_phone: str) -> str:
    """To a patient whose text opened a case: where to get help now; never mentions a case."""
    return (
        f"{clinic}: If you need help now, call or text 988 (veterans: press 1). "
        f"If you are in immediate danger, call 911. You can also call us at {clinic_phone}."
    )
