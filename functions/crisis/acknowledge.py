"""Acknowledging a case: by an ``ACK <code>`` text from a phone on the case's roster snapshot, or
by the signed single-use link a page carries. The first acknowledgement wins (a conditional
write); the "acknowledged by ..." notices to the others go through the crisis queue, with the case
left due at once as the safety net."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from functions.core import ids
from functions.core.clock import iso
from functions.core.errors import ConflictError, NotFoundError, RetryableError
from functions.core.links import staff_case_url
from functions.core.log import get_logger
from functions.core.queues import QueuePort
from functions.core.settings import get_settings
from functions.crisis import codes, escalation, messages, store
from functions.crisis.escalation import AckAccepted, LateAck, NotifyAcknowledged
from functions.crisis.links import AckClaims, LinkError, LinkExpired, read_token
from functions.crisis.ports import publish, signing_key
from functions.crisis.roster import Member, member_by_phone
from functions.crisis.store import MAX_RACES, CaseRecord, next_due

logger = get_logger("crisis")


@dataclass(frozen=True)
class AckOutcome:
    accepted: bool
    code: str
    status: str
    acked_by_name: str | None
    others_told: bool
    case_id: str = ""


def _acknowledge(
    case_id: str, member: Member, via: Literal["sms", "link"], at: datetime, queue: QueuePort | None
) -> AckOutcome:
    """Acknowledge as ``member`` (already checked against the case); first one wins."""
    for _ in range(MAX_RACES):
        record = store.load_case(case_id)
        if record is None or record.state is None:
            raise NotFoundError("no such case")
        state, actions = escalation.acknowledge(record.state, record.roster, member, at, via)
        late = next((a for a in actions if isinstance(a, LateAck)), None)
        if late is not None:
            store.add_event(case_id, f"lateack#{ids.new_id('ack')}", at, "ack_late", by=member.name, via=via)
            logger.info("late acknowledgement", extra={"case_id": case_id, "via": via})
            return AckOutcome(
                False, state.code, state.status, late.acked_by.name if late.acked_by else None, False, case_id
            )
        notice = next((a for a in actions if isinstance(a, NotifyAcknowledged)), None)
        data: dict[str, Any] = {**record.data, "state": state.model_dump(mode="json"), "status": state.status}
        if notice is not None:
            data["ack_notice"] = {"recipients": [[r.tier, r.member_index] for r in notice.recipients]}
            data["notices_pending"] = True
            data["notices_due"] = iso(at)
        try:
            store.save_case(record, data, state.version, next_due(state, data))
        except ConflictError:
            continue
        accepted = next(a for a in actions if isinstance(a, AckAccepted))
        store.add_event(case_id, "acknowledged", at, "acknowledged", by=accepted.ack.name, via=via)
        logger.info("case acknowledged", extra={"case_id": case_id, "via": via})
        if notice is not None:
            if queue is None:
                from functions.core.queues import SqsPublisher

                queue = SqsPublisher()
            publish(queue, {"case_id": case_id, "type": "acknowledged", "event_id": f"ack-{case_id}"})
        return AckOutcome(True, state.code, state.status, member.name, notice is not None, case_id)
    raise RetryableError("crisis case keeps changing")


def sms_ack_reply(phone: str, text: str, at: datetime, queue: QueuePort | None) -> str:
    """The answer to an ``ACK <code>`` text from ``phone`` (acknowledging the case when the phone
    is on its roster snapshot). A refusal never says whether the code exists."""
    clinic = get_settings().clinic_name
    reply = codes.parse_ack(text)
    if reply is None or reply.code is None:
        return messages.ack_missing_code_sms(clinic)
    case_id = store.case_for_code(reply.code)
    record = store.load_case(case_id) if case_id else None
    if record is None or record.state is None or record.roster is None:
        logger.info("ack refused: unknown code")
        return messages.ack_refused_sms(clinic)
    matches = member_by_phone(record.roster, phone)
    if not matches:
        logger.info("ack refused: phone not on the case's roster", extra={"case_id": record.case_id})
        return messages.ack_refused_sms(clinic)
    outcome = _acknowledge(record.case_id, matches[0], "sms", at, queue)
    if outcome.accepted:
        link = staff_case_url(get_settings().public_base_url, outcome.case_id)
        return messages.ack_confirmed_sms(clinic, outcome.code, link, outcome.others_told)
    return messages.ack_late_sms(
        clinic,
        outcome.code,
        outcome.status,  # type: ignore[arg-type]
        outcome.acked_by_name,
    )


LinkState = Literal["ready", "used", "invalid", "expired", "closed"]


@dataclass(frozen=True)
class LinkView:
    """What the acknowledgement page shows for a link."""

    state: LinkState
    code: str = ""
    outcome: AckOutcome | None = None


def _link_member(record: CaseRecord, claims: AckClaims) -> Member | None:
    """The person a link was sent to, from the case's roster snapshot (or the fallback address)."""
    recipient = claims.recipient
    roster = record.roster
    if recipient.kind == "member":
        if (
            roster is None
            or recipient.tier >= len(roster.tiers)
            or recipient.index >= len(roster.tiers[recipient.tier].members)
        ):
            return None
        return roster.tiers[recipient.tier].members[recipient.index]
    if recipient.kind == "always":
        if roster is None or recipient.index >= len(roster.always_email):
            return None
        address = roster.always_email[recipient.index]
    else:
        address = get_settings().intake_staff_email
    # Not an on-call member: no phone. Shown to colleagues by address.
    return Member.model_construct(name=address, phone="", email=address, timezone="UTC")


def _read_link(token: str, at: datetime) -> tuple[LinkView, AckClaims | None, CaseRecord | None]:
    try:
        claims = read_token(signing_key(), token, now=at)
    except LinkExpired:
        return LinkView("expired"), None, None
    except LinkError:
        return LinkView("invalid"), None, None
    record = store.load_case(claims.case_id)
    if record is None or record.state is None or _link_member(record, claims) is None:
        return LinkView("invalid"), None, None
    if store.token_used(claims.jti):
        return LinkView("used", record.state.code), claims, record
    return LinkView("ready", record.state.code), claims, record


def view_ack_link(token: str, *, at: datetime | None = None) -> LinkView:
    """GET: check the link and show a confirm button. Never acknowledges (mail scanners open links)."""
    from functions.core.clock import now

    view, _, _ = _read_link(token, at or now())
    return view


def acknowledge_by_link(token: str, *, at: datetime | None = None, queue: QueuePort | None = None) -> LinkView:
    """POST: acknowledge as the link's recipient, once (the link's id is burnt first)."""
    from functions.core.clock import now

    at = at or now()
    view, claims, record = _read_link(token, at)
    if view.state != "ready" or claims is None or record is None:
        return view
    member = _link_member(record, claims)
    assert member is not None
    if not store.burn_token(claims.jti, claims.case_id, at, claims.expires_at):
        return LinkView("used", view.code)
    try:
        outcome = _acknowledge(claims.case_id, member, "link", at, queue)
    except Exception:
        store.unburn_token(claims.jti)  # nothing was decided: the link stays usable
        raise
    return LinkView("ready", outcome.code, outcome)
