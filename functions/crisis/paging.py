"""The sends of one consumer run on one case: pages, always-email notices, "acknowledged by ..."
notices and the patient's 988 / 911 text. Each is claimed in the send ledger before it is made
and marked after, so a redelivered message, a second consumer or the sweep never sends twice;
each one sent or failed is written to the case timeline."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from functions.core.errors import DomainError, OptedOutError, PermanentError, RetryableError
from functions.core.log import get_logger
from functions.core.messaging import Email
from functions.core.settings import get_settings
from functions.crisis import escalation, messages, store
from functions.crisis.escalation import MemberRef, NotifyAcknowledged, NotifyAlwaysEmail, PageMember, PageResult
from functions.crisis.links import Recipient, make_link
from functions.crisis.ports import Ports, link_base, signing_key
from functions.crisis.store import CaseRecord

logger = get_logger("crisis")

STALE_CLAIM = timedelta(seconds=60)


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, OptedOutError):
        return "opted_out"
    if isinstance(exc, RetryableError):
        return "provider_unavailable"
    if isinstance(exc, PermanentError):
        return "provider_refused"
    return "failed"


def _phone_tag(phone: str) -> str:
    return hashlib.sha256(phone.encode("utf-8")).hexdigest()[:16]


class Sender:
    """One consumer invocation's sends for one case (``pending``: a send is in flight elsewhere,
    or its ledger write failed: the message must come back later)."""

    def __init__(self, case_id: str, at: datetime, ports: Ports) -> None:
        self.case_id = case_id
        self.at = at
        self.ports = ports
        self.settings = get_settings()
        self.pending = False  # a send is in flight elsewhere, or its ledger write failed
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = signing_key()
        return self._key

    def event(self, key: str, event_type: str, **details: Any) -> None:
        try:
            store.add_event(self.case_id, key, self.at, event_type, **details)
        except DomainError as exc:  # the timeline must not stop a page
            logger.warning("timeline write failed", extra={"case_id": self.case_id, "error": type(exc).__name__})

    def record_send(
        self,
        outcome: str,
        prefix: str,
        key: str,
        sent: str,
        failed: str,
        *,
        reason_field: str = "reason",
        **details: Any,
    ) -> None:
        """The timeline entry of a send made in this run (``send_once``'s ``outcome``): ``sent`` at
        ``<prefix>#<key>``, or ``failed`` at ``<prefix>fail#<key>`` with the reason under
        ``reason_field``; nothing for a send made earlier, skipped or in flight."""
        if outcome == "sent":
            self.event(f"{prefix}#{key}", sent, **details)
        elif outcome.startswith("failed:"):
            self.event(f"{prefix}fail#{key}", failed, **details, **{reason_field: outcome.split(":", 1)[1]})

    def send_once(self, ledger_key: str, send: Callable[[], str]) -> str:
        """Claim, send, mark. Returns "sent" (now), "done" (earlier), "failed:<reason>" (now),
        "skip" (failed earlier) or "busy" (in flight elsewhere: ``pending`` is set)."""
        status = store.claim_send(self.case_id, ledger_key, self.at, STALE_CLAIM)
        if status == "sent":
            return "done"
        if status == "failed":
            return "skip"
        if status == "busy":
            self.pending = True
            return "busy"
        try:
            provider_id = send()
        except DomainError as exc:
            reason = _failure_reason(exc)
            try:
                store.mark_failed(self.case_id, ledger_key, self.at, reason)
            except DomainError:
                self.pending = True
            return f"failed:{reason}"
        except Exception as exc:  # not an answer from the provider: leave the claim, retry after it goes stale
            logger.error("send raised unexpectedly", extra={"case_id": self.case_id, "error": type(exc).__name__})
            self.pending = True
            return "busy"
        try:
            store.mark_sent(self.case_id, ledger_key, self.at, provider_id)
        except Exception as exc:
            # Sent, but not recorded: the claim goes stale and a redelivery sends again.
            logger.error(
                "send ledger not updated after a send", extra={"case_id": self.case_id, "error": type(exc).__name__}
            )
            self.pending = True
        return "sent"

    def send_sms(self, phone: str, text: str) -> str:
        from functions.core.contacts import sms_opted_out

        try:
            opted_out = sms_opted_out(phone)
        except DomainError:
            opted_out = False  # cannot tell: try, SNS refuses opted-out numbers itself
        if opted_out:
            raise OptedOutError("recipient opted out of SMS")
        return self.ports.sms.send_sms(phone, text)

    def page(self, record: CaseRecord, pages: list[PageMember]) -> list[PageResult]:
        state, roster = record.state, record.roster
        assert state is not None and roster is not None
        clinic = self.settings.clinic_name
        links: dict[MemberRef, str] = {}
        results: list[PageResult] = []
        for page in pages:
            member = escalation.member_at(roster, page.ref)
            if page.ref not in links:
                links[page.ref] = make_link(
                    self.key, link_base(), self.case_id, Recipient.member(page.tier, page.member_index), now=self.at
                )
            link = links[page.ref]
            if page.channel == "sms":
                text = messages.staff_alert_sms(clinic, state.code, state.urgency, link)
                outcome = self.send_once(page.key, partial(self.send_sms, member.phone, text))
            else:
                mail = messages.staff_alert_email(clinic, state.code, state.urgency, link)
                outcome = self.send_once(
                    page.key, partial(self.ports.email.send_email, Email(member.email, mail.subject, mail.text))
                )
            who: dict[str, Any] = {
                "round": page.round + 1,
                "tier": page.tier + 1,
                "member": member.name,
                "channel": page.channel,
            }
            if outcome in ("sent", "done"):
                results.append(PageResult(page, True))
            elif outcome == "skip" or outcome.startswith("failed:"):
                results.append(PageResult(page, False))
            self.record_send(outcome, "page", page.key, "paged", "page_failed", **who)
        logger.info(
            "tier paged",
            extra={
                "case_id": self.case_id,
                "round": state.round,
                "tier": state.tier,
                "pages": len(pages),
                "delivered": sum(r.delivered for r in results),
            },
        )
        return results

    def always_email(self, record: CaseRecord, action: NotifyAlwaysEmail) -> None:
        state = record.state
        assert state is not None
        recipients: list[tuple[str, Recipient]] = [(addr, Recipient.always(i)) for i, addr in enumerate(action.to)]
        if not recipients:
            recipients = [(self.settings.intake_staff_email, Recipient.fallback())]
        rounds = record.roster.rounds if record.roster is not None else None
        if action.reason == "exhausted":
            self.event("exhausted", "chain_exhausted", rounds=rounds)
        for index, (address, recipient) in enumerate(recipients):
            link = make_link(self.key, link_base(), self.case_id, recipient, now=self.at)
            mail = messages.always_email_message(
                self.settings.clinic_name, state.code, state.urgency, action.reason, link, rounds
            )
            key = f"{action.key}#{index}"
            outcome = self.send_once(key, partial(self.ports.email.send_email, Email(address, mail.subject, mail.text)))
            fields = {"reason": action.reason, "to": address}
            self.record_send(
                outcome, "always", key, "always_emailed", "always_email_failed", reason_field="error", **fields
            )

    def ack_notices(self, record: CaseRecord, action: NotifyAcknowledged) -> None:
        state, roster = record.state, record.roster
        if state is None or roster is None:
            return
        clinic = self.settings.clinic_name
        for ref in action.recipients:
            member = escalation.member_at(roster, ref)
            for channel in escalation.CHANNELS:
                key = action.key(ref, channel)
                if channel == "sms":
                    text = messages.ack_notice_sms(clinic, state.code, action.acked_by.name)
                    outcome = self.send_once(key, partial(self.send_sms, member.phone, text))
                else:
                    mail = messages.ack_notice_email(clinic, state.code, action.acked_by.name)
                    outcome = self.send_once(
                        key, partial(self.ports.email.send_email, Email(member.email, mail.subject, mail.text))
                    )
                self.record_send(outcome, "told", key, "told", "told_failed", member=member.name, channel=channel)

    def patient_sms(self, phone: str, replied: bool) -> None:
        key = f"patient#{self.case_id}#{_phone_tag(phone)}"
        if replied:  # the inbound-SMS workflow answered with 988 / 911 at once
            self.event(f"patient#{key}", "patient_notified", channel="sms", by="inbound_reply")
            return
        text = messages.patient_crisis_sms(self.settings.clinic_name, self.settings.clinic_phone)
        outcome = self.send_once(key, lambda: self.send_sms(phone, text))
        self.record_send(outcome, "patient", key, "patient_notified", "patient_notice_failed", channel="sms")
