"""What the inbound-SMS router asks of the crisis workflow: acknowledge a case by ``ACK <code>``,
open a case (or add a signal) from a text in crisis language."""

from __future__ import annotations

from datetime import datetime

from functions.core import ids
from functions.core.errors import ConflictError, DomainError, RetryableError
from functions.core.log import get_logger
from functions.core.messaging import SmsPort
from functions.core.queues import QueuePort
from functions.crisis import store
from functions.crisis.acknowledge import sms_ack_reply
from functions.crisis.ports import publish
from functions.crisis.store import MAX_RACES

logger = get_logger("crisis")


def acknowledge_by_sms(
    phone: str,
    text: str,
    *,
    at: datetime | None = None,
    queue: QueuePort | None = None,
    sms: SmsPort | None = None,
    send_reply: bool = True,
) -> str:
    """An inbound ``ACK <code>`` from ``phone``: acknowledge if the phone is on the case's roster
    snapshot (first acknowledgement wins). Returns the reply; with ``send_reply`` (the default:
    the inbound-SMS workflow leaves the answer to this one) it is also texted back. A refusal
    never says whether the code exists."""
    from functions.core.clock import now

    answer = sms_ack_reply(phone, text, at or now(), queue)
    if send_reply:
        try:
            if sms is None:
                from functions.core.messaging import SnsSms

                sms = SnsSms()
            sms.send_sms(phone, answer)
        except DomainError as exc:  # the acknowledgement stands; only the reply is lost
            logger.warning("ack reply not sent", extra={"error": type(exc).__name__})
    return answer


def open_case_from_sms(
    phone: str,
    at: datetime,
    *,
    message: str | None = None,
    queue: QueuePort | None = None,
    patient_replied: bool = True,
) -> str:
    """Crisis language in a text from ``phone``: open a case (or add a signal to the patient's open
    case: one open case per patient). Returns the case id; the escalation consumer pages staff.

    ``patient_replied``: the inbound-SMS workflow has already answered the patient with 988 / 911
    guidance (it does, at once, in the same invocation), so the consumer only records it. With
    False the consumer texts ``messages.patient_crisis_sms`` itself (once per case and phone)."""
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    for _ in range(MAX_RACES):
        open_case = store.open_marker(phone)
        if open_case is not None:
            case = store.load_case(open_case.case_id)
            if case is not None and case.data.get("status", "open") != "resolved":
                signal_id = ids.new_id("sig")
                store.add_signal(
                    open_case.case_id,
                    signal_id,
                    at,
                    source="sms",
                    phone=phone,
                    message=message,
                    patient_replied=patient_replied,
                )
                publish(queue, {"case_id": open_case.case_id, "type": "signal_added", "event_id": ids.new_id("evt")})
                logger.info("crisis signal added", extra={"case_id": open_case.case_id, "signal_id": signal_id})
                return open_case.case_id
        case_id = ids.new_id("cas")
        fields = {
            "intake_id": None,
            "phone": phone,
            "message": message,
            "urgency": "urgent",
            "source": "sms",
            "patient_replied": patient_replied,
        }
        try:
            store.create_case(case_id, fields, phone, at, previous_marker=open_case)
        except ConflictError:
            continue  # someone opened or replaced the patient's case meanwhile: look again
        publish(queue, {"case_id": case_id, "type": "case_opened", "event_id": ids.new_id("evt")})
        logger.info("crisis case opened from sms", extra={"case_id": case_id})
        return case_id
    raise RetryableError("crisis case kept changing")


__all__ = ["acknowledge_by_sms", "open_case_from_sms"]
