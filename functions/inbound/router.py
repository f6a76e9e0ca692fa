"""Inbound SMS: each intent of :mod:`functions.inbound.keywords` answered by one typed function.

The order of the checks is :data:`functions.inbound.keywords.MATCHERS`; :data:`ROUTES` says what
each intent does. A new intent is one line there, one line here and one function. Rules in
``docs/inbound-sms.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.core.contacts import set_sms_opt_out, sms_opted_out
from functions.core.errors import OptedOutError
from functions.core.messaging import SmsPort, SnsSms
from functions.inbound.keywords import InboundIntent, IntentKind, classify
from functions.reminders import store, templates
from functions.reminders.confirm import confirm_next
from functions.reminders.templates import clinic

CANNOT_READ_EVERY = timedelta(hours=24)
REPLY_LEDGER_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Inbound:
    """One inbound SMS being answered. ``text`` goes to no log; ``sent_at`` is when the patient sent it."""

    sender: str
    text: str
    intent: InboundIntent
    at: datetime
    sent_at: datetime | None
    message_id: str | None
    sms: SmsPort
    clinic: templates.Clinic

    def reply(self, body: str, outcome: str) -> str:
        """Text ``body`` back once per inbound message id; ``outcome``, or why it was not sent."""
        if self.message_id and not store.claim_reply(self.message_id, self.at, REPLY_LEDGER_TTL):
            return "duplicate"
        try:
            self.sms.send_sms(self.sender, body)
        except OptedOutError:
            return f"{outcome}_refused"
        return outcome


def opt_out(msg: Inbound) -> str:
    """STOP words: set the opt-out at once and send the one confirmation carriers require."""
    if set_sms_opt_out(msg.sender, True, msg.sent_at or msg.at) is False:
        return "opt_out_stale"  # a later START was already recorded: their last word stands
    return msg.reply(templates.stop_reply(msg.clinic), "opted_out")


def crisis(msg: Inbound) -> str:
    """Crisis language: the crisis workflow opens a case (even for an opted-out number, so staff
    call); the patient gets 988 / 911 guidance unless opted out."""
    from functions.crisis.sms import open_case_from_sms  # here, not at the top: few texts need crisis

    open_case_from_sms(msg.sender, msg.at)
    if sms_opted_out(msg.sender):
        return "crisis_opted_out"
    return msg.reply(templates.crisis_reply(msg.clinic), "crisis")


def opt_in(msg: Inbound) -> str:
    if set_sms_opt_out(msg.sender, False, msg.sent_at or msg.at) is False:
        return "opt_in_stale"  # a later STOP was already recorded: no texts, no reply
    return msg.reply(templates.start_reply(msg.clinic), "opted_in")


def help_(msg: Inbound) -> str:
    return msg.reply(templates.help_reply(msg.clinic), "help")


def confirm(msg: Inbound) -> str:
    """C: the reminders workflow confirms the sender's next session."""
    found = confirm_next(msg.sender, msg.at)
    if found is None:
        return msg.reply(templates.confirm_nothing_reply(msg.clinic), "confirm_nothing")
    return msg.reply(templates.confirm_reply(msg.clinic, found[0], found[1]), "confirmed")


def acknowledge(msg: Inbound) -> str:
    """``ACK <code>``: the crisis workflow acknowledges and answers the sender itself."""
    from functions.crisis.sms import acknowledge_by_sms  # here, not at the top: few texts need crisis

    acknowledge_by_sms(msg.sender, msg.text)
    return "ack"


def cannot_read(msg: Inbound) -> str:
    """Anything else: at most one "can't read messages" reply per number per day."""
    if not store.claim_cannot_read(msg.sender, msg.at, CANNOT_READ_EVERY):
        return "cannot_read_already_sent"
    return msg.reply(templates.cannot_read_reply(msg.clinic), "cannot_read")


@dataclass(frozen=True)
class Route:
    """What an intent does. ``opted_in_only``: an opted-out number gets nothing (``<kind>_opted_out``)."""

    answer: Callable[[Inbound], str]
    opted_in_only: bool = False


ROUTES: dict[IntentKind, Route] = {
    "opt_out": Route(opt_out),
    "crisis": Route(crisis),
    "opt_in": Route(opt_in),
    "help": Route(help_, opted_in_only=True),
    "confirm": Route(confirm, opted_in_only=True),
    "ack": Route(acknowledge),
    "other": Route(cannot_read, opted_in_only=True),
}


def handle_inbound(
    sender: str,
    text: str,
    at: datetime,
    *,
    sms: SmsPort | None = None,
    message_id: str | None = None,
    sent_at: datetime | None = None,
) -> str:
    """Act on one inbound SMS and reply; returns the outcome (safe to log: never the text).

    ``sent_at`` (when the patient sent it) stamps opt-out changes, so the ledger keeps the
    patient's last word when SQS delivers a STOP and a START out of order."""
    intent = classify(text)
    msg = Inbound(sender, text, intent, at, sent_at, message_id, sms or SnsSms(), clinic())
    route = ROUTES[intent.kind]
    if route.opted_in_only and sms_opted_out(sender):
        return f"{intent.kind}_opted_out"
    if intent.kind == "other":  # a reply to a check-in (docs/checkins.md); crisis words were checked first
        from functions.checkins.service import answer_reply

        answered = answer_reply(sender, text, at, message_id, msg.reply, msg.clinic)
        if answered is not None:
            return answered
    return route.answer(msg)
