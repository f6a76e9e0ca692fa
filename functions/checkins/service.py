"""Check-ins: the plan (default start, staff changes), what the dispatcher does after each check-in,
replies, alerts and the staff measures view. Rules in :mod:`functions.checkins.rules` and
``docs/checkins.md``; items in :mod:`functions.checkins.store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from functions.checkins import rules, store
from functions.core.clock import iso
from functions.core.errors import NotFoundError
from functions.core.log import get_logger
from functions.reminders.store import PENDING, SENT, PatientContact, Record, load_patients, parse_time

logger = get_logger("checkins")
PLAN_CHANGED = "plan_changed"


# --------------------------------------------------------------------------------------------
# The plan


def _plan_data(plan: rules.Plan, contact: PatientContact) -> dict[str, Any]:
    return {**plan.as_json(), "tz": contact.timezone or "UTC"}


def _job_data(intake_id: str, plan: rules.Plan, planned: datetime, contact: Mapping[str, Any],
              streak: int, last_sent_day: str | None) -> dict[str, Any]:
    """Everything the dispatcher needs to send (and to write the next one), so it reads one item."""
    return {
        "type": "checkin", "channel": "sms", "intake_id": intake_id, "planned_at": iso(planned),
        "to": contact.get("to"), "tz": contact.get("tz") or "UTC", "consent_sms": bool(contact.get("consent_sms")),
        "plan": plan.as_json(), "streak": streak, "last_sent_day": last_sent_day,
    }


def _contact_of(patient: PatientContact) -> dict[str, Any]:
    return {"to": patient.phone, "tz": patient.timezone or "UTC", "consent_sms": patient.consent_sms}


def default_plan() -> rules.Plan:
    """The clinic's default plan: ``IOP_CHECKIN_DEFAULT_PLAN`` (``mon,wed,fri@19:00``, or ``none``:
    no check-ins until staff set a plan); unset, Monday, Wednesday and Friday at 19:00."""
    from functions.core.settings import ConfigError, get_settings

    raw = (get_settings().checkin_default_plan or "").strip().lower()
    if not raw:
        return rules.DEFAULT_PLAN
    days, _, wall = raw.partition("@")
    plan, _ = rules.parse_plan({"days": [] if days == "none" else days.split(","),
                                     "local_time": wall or "19:00"})
    if plan is None:
        raise ConfigError("IOP_CHECKIN_DEFAULT_PLAN must look like mon,wed,fri@19:00 or none")
    return plan


def start_default(patients: Iterable[PatientContact], at: datetime) -> int:
    """A patient first put on a session gets the default plan and its first check-in; a patient
    who has a plan (a stopped one too) keeps it. How many plans were started."""
    started = 0
    plan = default_plan()
    if not plan.active:
        return 0
    for patient in patients:
        if not store.put_plan(patient.intake_id, _plan_data(plan, patient), at, only_if_absent=True):
            continue
        started += 1
        first = rules.next_due(plan, at, patient.timezone or "UTC")
        if first is not None:
            data = _job_data(patient.intake_id, plan, first, _contact_of(patient), 0, None)
            store.put_checkin(store.checkin_item(patient.intake_id, first, data, at), replace_planned_skip=True)
    return started


def set_plan(intake_id: str, plan: rules.Plan, at: datetime) -> dict[str, Any]:
    """Store a staff member's plan; every check-in not yet sent follows it (the pending one is
    skipped as ``plan_changed`` and the plan's next one written). NotFoundError for an unknown
    intake (nothing written)."""
    patient = load_patients([intake_id]).get(intake_id)
    if patient is None:
        raise NotFoundError("checkin plan: no such intake")
    store.put_plan(intake_id, _plan_data(plan, patient), at)
    streak, last_sent_day = 0, None
    for item in store.checkins_from(intake_id, at - timedelta(days=8)):
        info = item.info
        if item.state == PENDING:
            streak, last_sent_day = int(info.get("streak") or 0), info.get("last_sent_day")
            store.skip_pending(item, PLAN_CHANGED, at)
        elif item.state == SENT and info.get("sent_at"):
            last_sent_day = rules.local_day(parse_time(str(info["sent_at"])), str(info.get("tz") or "UTC")).isoformat()
    upcoming = rules.next_due(plan, at, patient.timezone or "UTC")
    if upcoming is not None:
        data = _job_data(intake_id, plan, upcoming, _contact_of(patient), streak, last_sent_day)
        store.put_checkin(store.checkin_item(intake_id, upcoming, data, at), replace_planned_skip=True)
    return {"intake_id": intake_id, **plan.as_json(), "next_at": iso(upcoming) if upcoming else None}


# --------------------------------------------------------------------------------------------
# What the dispatcher does after a check-in (sent, skipped, or its send uncertain)


def after_dispatch(job: Record, outcome: str, now: datetime) -> None:
    """Write the plan's next check-in (idempotent: its key is its planned instant); after a send,
    remember the number's latest check-in (replies are matched by it) and raise the unanswered
    alert when this is the first check-in after 3 unanswered in a row."""
    info = job.info
    intake_id, tz = str(info["intake_id"]), str(info.get("tz") or "UTC")
    plan = rules.plan_from_json(dict(info.get("plan") or {}))
    planned = parse_time(str(info["planned_at"]))
    sent = outcome in ("sent", "send_uncertain")
    streak = int(info.get("streak") or 0)
    last_sent_day = rules.local_day(now, tz).isoformat() if sent else info.get("last_sent_day")
    upcoming = rules.next_due(plan, max(planned, now), tz)
    next_sk = store.at_sk(upcoming) if upcoming is not None else None
    if upcoming is not None:
        contact = {"to": info.get("to"), "tz": tz, "consent_sms": info.get("consent_sms")}
        data = _job_data(intake_id, plan, upcoming, contact, streak + 1 if sent else streak, last_sent_day)
        store.put_checkin(store.checkin_item(intake_id, upcoming, data, now), replace_planned_skip=False)
    if outcome != "sent":
        return
    store.put_last(str(info["to"]), {"intake_id": intake_id, "planned_at": info["planned_at"], "sent_at": iso(now),
                                     "next_sk": next_sk}, now)
    unanswered = rules.unanswered_alert(streak)
    if unanswered is not None:
        raise_alert(intake_id, unanswered, now, tz)


# --------------------------------------------------------------------------------------------
# Alerts


def alert_email(clinic_name: str, link: str, kind: str) -> tuple[str, str]:
    """Subject (no name, no score) and text of the care team's alert."""
    why = {
        "checkin_low": "answered a check-in with a low score",
        "checkin_drop": "answered a check-in well below their recent check-ins",
        "checkin_unanswered": "has not answered their last 3 check-ins",
    }.get(kind, "needs follow-up after a check-in")
    subject = f"{clinic_name}: check-in follow-up needed"
    text = (
        "Hello,\n\n"
        f"A patient {why}. Please reach out to them today.\n\n"
        f"Patient record (staff sign-in required): {link}\n\n"
        f"{clinic_name}\n"
    )
    return subject, text


def raise_alert(intake_id: str, kind: str, at: datetime, tz: str) -> bool:
    """Tell the care team (one email per patient per local day, sent by the dispatcher) and open
    the patient's work-queue entry. True when the day's email was written now."""
    from functions.core.links import staff_intake_url
    from functions.core.settings import get_settings

    settings = get_settings()
    day = rules.local_day(at, tz).isoformat()
    data = {"type": "checkin_alert", "channel": "email", "to": settings.care_team_email, "intake_id": intake_id,
            "alert": kind, "tz": tz, "link": staff_intake_url(settings.public_base_url, intake_id)}
    store.open_queue_entry(intake_id, kind, at)
    emailed = store.put_alert_email(intake_id, day, data, at)
    logger.info("checkin alert", extra={"intake_id": intake_id, "alert": kind, "emailed": emailed})
    return emailed


# --------------------------------------------------------------------------------------------
# Replies (the inbound router's hook: crisis words and keywords were checked before)


def _latest_scores(replies: list[Record]) -> dict[str, tuple[str, int]]:
    """planned_at -> (received, score) of the latest score reply of each check-in."""
    latest: dict[str, tuple[str, int]] = {}
    for reply in replies:  # oldest first within a check-in (sort key: planned, received)
        info = reply.info
        if info.get("score") is not None:
            latest[str(info["planned_at"])] = (str(info["received_at"]), int(info["score"]))
    return latest


def answer_reply(sender: str, text: str, at: datetime, message_id: str | None,
                 reply: Callable[[str, str], str], clinic: Any) -> str | None:
    """A reply to the sender's check-in sent within 24 h: record it and answer (thank-you, or one
    re-ask); None when it is not one (the router goes on as for any inbound SMS)."""
    last = store.get_last(sender)
    if last is None or not last.info.get("sent_at"):
        return None
    info = last.info
    sent_at = parse_time(str(info["sent_at"]))
    if not sent_at <= at <= sent_at + rules.REPLY_WINDOW:
        return None
    intake_id, planned = str(info["intake_id"]), str(info["planned_at"])
    parsed = rules.parse_reply(text)
    msg_id = message_id or f"at{iso(at)}"
    if parsed.score is None:
        if not store.claim_reask(intake_id, planned, at, msg_id):
            return None  # the one re-ask was sent: on as any other inbound SMS
        return reply(rules.reask_sms(clinic), "checkin_reask")
    store.put_reply(intake_id, planned, at, msg_id,
                    {"planned_at": planned, "received_at": iso(at), "score": parsed.score})
    if info.get("next_sk"):
        store.reset_streak(store.checkin_pk(intake_id), str(info["next_sk"]))
    latest = _latest_scores(store.replies(intake_id))
    previous = [score for when, (_, score) in sorted(latest.items()) if when < planned]
    kind = rules.score_alert(parsed.score, previous)
    if kind is not None:
        tz = _tz_of(intake_id, planned)
        raise_alert(intake_id, kind, at, tz)
    return reply(rules.thanks_sms(clinic), "checkin_score")


def _tz_of(intake_id: str, planned: str) -> str:
    from functions.reminders import store as reminders_store

    found = reminders_store.get(store.checkin_pk(intake_id), store.at_sk(planned))
    return str(found.info.get("tz") or "UTC") if found is not None else "UTC"


# --------------------------------------------------------------------------------------------
# Staff view


def measures_checkins(intake_id: str) -> list[dict[str, Any]]:
    """The patient's sent check-ins, oldest first: sent_at, answered_at and score (the latest
    score reply within 24 h), null when unanswered."""
    latest = _latest_scores(store.replies(intake_id))
    out = []
    for item in store.checkins_from(intake_id):
        info = item.info
        if item.state != SENT or info.get("type") != "checkin":
            continue
        answered = latest.get(str(info.get("planned_at")))
        out.append({"sent_at": info.get("sent_at"), "answered_at": answered[0] if answered else None,
                    "score": answered[1] if answered else None})
    return out


def measures(intake_id: str) -> dict[str, Any]:
    from functions.core.intakes import get_intake

    if get_intake(intake_id) is None:
        raise NotFoundError("measures: no such intake")
    return {"checkins": measures_checkins(intake_id), **screening_measures(intake_id)}


def screening_measures(intake_id: str) -> dict[str, Any]:
    # assessments: wired by the repeat-screening work
    return {"assessments": [], "changes": {}}
