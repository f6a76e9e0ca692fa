"""Repeat-screening rules as pure functions: when a request is due, when it may go out, what it says,
and which answers alert the care team. Nothing here reads a table or the clock.

Sources:

- Cadence: CONTRACTS.md section 8 (seven days after the first session, then every seven days
  while the patient has sessions); measurement-based care as the Joint Commission standard
  CTS.03.01.09 asks of behavioural-health programs.
- Sending: the non-urgent message rules of DESIGN.md section 5 (08:00-21:00 in the patient's own
  zone, opt-out honoured, at most 1 SMS a day and 3 a week; CTIA / TCPA healthcare-message
  practice) through ``functions/reminders/timing.py`` (``is_quiet``, ``next_allowed``,
  ``cap_block``): one definition of quiet hours and caps for every workflow.
- Alerts: CONTRACTS.md section 8 (``worse``, ``not_on_track``, two requests in a row unanswered
  for 72 h); the labels themselves come from :mod:`functions.assessments.changes` (Lowe 2004,
  Toussaint 2020, NCQA HEDIS DRR-E).
- Texts: minimum necessary (DESIGN.md section 5): the clinic's name and the link, nothing
  clinical, one GSM-7 segment, ``Reply STOP to opt out.`` (Spanish: ``Responda STOP para salir.``,
  GSM-7 without accented vowels).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from functions.reminders import timing
from functions.reminders.templates import Clinic, segments

EVERY = timedelta(days=7)
TOKEN_TTL = timedelta(hours=72)
#: how far ahead :func:`hold_until` looks for a day within the caps (the weekly cap frees a day
#: within 7 days, so this is never reached with the default caps)
MAX_HOLD_DAYS = 8
SMS_OPT_OUT = "Reply STOP to opt out."
SMS_OPT_OUT_ES = "Responda STOP para salir."

Decision = Literal["send", "skip", "end"]
HoldReason = Literal["quiet_hours", "daily_cap", "weekly_cap"]


# --------------------------------------------------------------------------------------------
# The schedule


def first_due(first_session_at: datetime) -> datetime:
    """The first scheduled request: seven days after the patient's first session."""
    timing.require_aware(first_session_at, "first_session_at")
    return first_session_at + EVERY


def decide(due: datetime, sessions: Iterable[datetime]) -> Decision:
    """What a scheduled due instant does, from the starts of the patient's sessions that are not
    cancelled (any order, any range).

    - ``send``: a session started in the week up to the due instant (``[due - 7 d, due]``): the
      patient is in treatment (the first due always has the first session in its week; the due
      after the last session measures the end of treatment);
    - ``skip``: none in that week but one is planned later (a break): no request, next due in 7 d;
    - ``end``: no session in that week nor after it: treatment is over, the schedule stops (a
      session planned later starts it again).
    """
    timing.require_aware(due, "due")
    starts = list(sessions)
    if any(due - EVERY <= start <= due for start in starts):
        return "send"
    if any(start > due for start in starts):
        return "skip"
    return "end"


# --------------------------------------------------------------------------------------------
# When a request may go out


@dataclass(frozen=True)
class Hold:
    """When a request may be sent: ``at`` (``now`` itself when it may go now) and why it waits."""

    at: datetime
    reason: HoldReason | None = None

    @property
    def now(self) -> bool:
        return self.reason is None


def hold_until(
    now: datetime,
    tz: str,
    sms_sent: Sequence[datetime] = (),
    *,
    by_sms: bool = True,
    daily_cap: int = 1,
    weekly_cap: int = 3,
) -> Hold:
    """The first instant from ``now`` at which a request may go to a patient in zone ``tz``:
    outside quiet hours and, for an SMS, within the caps given the patient's earlier capped SMS
    (``sms_sent``). A capped day moves the request to 08:00 on the next local day."""
    timing.require_aware(now, "now")
    at = timing.next_allowed(now, tz)
    reason: HoldReason | None = None if at == now else "quiet_hours"
    if not by_sms:
        return Hold(at, reason)
    for _ in range(MAX_HOLD_DAYS):
        capped = timing.cap_block(sms_sent, at, tz, daily_cap, weekly_cap)
        if capped is None:
            return Hold(at, reason)
        reason = reason or capped
        local = at.astimezone(timing.zone(tz))
        at = timing.local_instant(local.date() + timedelta(days=1), timing.QUIET_END, timing.zone(tz),
                                  prefer="earlier")
    return Hold(at, reason or "weekly_cap")


def expired(expires_at: datetime, now: datetime) -> bool:
    """A link is valid until (not at) its expiry instant."""
    return now >= expires_at


# --------------------------------------------------------------------------------------------
# Alerts


ALERT_LABELS = ("worse", "not_on_track")
UNANSWERED_IN_A_ROW = 2


def alert_reasons(changes: dict[str, list[str]]) -> list[str]:
    """Why an answered assessment alerts the care team: ``worse`` (PHQ-9 or GAD-7) and
    ``not_on_track`` (PHQ-9), once each, in that order; none for response, remission or any
    ordinary change."""
    found = {label for labels in changes.values() for label in labels}
    return [label for label in ALERT_LABELS if label in found]


def unanswered_alert(in_a_row: int) -> bool:
    """Whether the request that just went unanswered makes the care team be told: the second in a
    row (and every second one after it while the patient keeps not answering)."""
    return in_a_row >= UNANSWERED_IN_A_ROW and in_a_row % UNANSWERED_IN_A_ROW == 0


# --------------------------------------------------------------------------------------------
# Texts


def assess_url(public_base_url: str, token: str) -> str:
    """The page the patient answers on (``web/assess.html``), the token in its query."""
    return f"{public_base_url.rstrip('/')}/assess.html?t={token}"


def _fit(variants: list[str]) -> str:
    for text in variants:
        if segments(text).count == 1:
            return text
    return min(variants, key=lambda text: (segments(text).count, len(text)))


def link_sms(clinic: Clinic, url: str, language: str = "en") -> str:
    """The request SMS: the clinic's name and the link, nothing clinical, ending with the opt-out
    line; the longest wording that fits one GSM-7 segment."""
    name = "".join(ch for ch in clinic.display_name if ch.isascii()) or "Your clinic"
    if language == "es":
        variants = [
            f"{name}: responda unas preguntas breves antes de su proxima cita: {url} {SMS_OPT_OUT_ES}",
            f"{name}: responda unas preguntas breves: {url} {SMS_OPT_OUT_ES}",
            f"{name}: {url} {SMS_OPT_OUT_ES}",
        ]
    else:
        variants = [
            f"{name}: please answer a few short questions for your care team: {url} {SMS_OPT_OUT}",
            f"{name}: please answer a few short questions: {url} {SMS_OPT_OUT}",
            f"{name}: a few short questions: {url} {SMS_OPT_OUT}",
            f"{name}: {url} {SMS_OPT_OUT}",
        ]
    return _fit(variants)


def link_email(clinic: Clinic, url: str, language: str = "en") -> tuple[str, str]:
    """Subject and text of the request email (the subject names only the clinic)."""
    name = clinic.display_name
    if language == "es":
        subject = f"[{name}] Unas preguntas breves"
        text = (
            f"{name} le pide responder unas preguntas breves (unos 3 minutos).\n\n"
            f"{url}\n\n"
            "El enlace vale 72 horas y se puede usar una vez.\n"
            "Si necesita ayuda ahora, llame al 988 y marque 2, o escriba AYUDA al 988. "
            "En una emergencia, llame al 911.\n"
        )
        return subject, text
    subject = f"[{name}] A few short questions"
    text = (
        f"{name} asks you to answer a few short questions (about 3 minutes).\n\n"
        f"{url}\n\n"
        "The link works for 72 hours, once.\n"
        "If you need help now, call or text 988. In an emergency, call 911.\n"
    )
    return subject, text


def care_team_email(clinic: Clinic, intake_id: str, staff_link: str) -> tuple[str, str]:
    """The care team's alert: no patient name and no score in the subject or the body; the reason
    and the measures are behind staff sign-in (the link)."""
    name = clinic.display_name
    subject = f"[{name}] Repeat screening needs review"
    text = (
        "A patient's repeat screening needs a clinician's review.\n\n"
        f"Intake: {intake_id}\n"
        f"Open it (staff sign-in required): {staff_link}\n"
    )
    return subject, text
