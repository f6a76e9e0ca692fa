"""The inbound-SMS router: which workflow each message reaches, in which order, and its outcome.

The workflows are replaced by recorders at the router's seams (no AWS): what is asserted is the
order of the checks and what each intent does, for a number that is or is not opted out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from functions.crisis import sms as crisis_sms
from functions.inbound import keywords, router
from functions.inbound.keywords import IntentKind
from functions.reminders.templates import Clinic
from tests.fakes import RecordingSms

AT = datetime(2027, 3, 9, 15, 0, tzinfo=UTC)
SENDER = "+12025550123"


class World:
    """Recorders at every seam of the router."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, opted_out: bool) -> None:
        self.opted_out = opted_out
        self.calls: list[str] = []
        self.replied: set[str] = set()
        self.sms = RecordingSms()
        monkeypatch.setattr(router, "clinic", lambda: Clinic("Example Clinic", "+13035550100"))
        monkeypatch.setattr(router, "sms_opted_out", self._opted_out)
        monkeypatch.setattr(router, "set_sms_opt_out", self._set)
        monkeypatch.setattr(crisis_sms, "open_case_from_sms", lambda phone, at: self.calls.append("crisis.open_case"))
        monkeypatch.setattr(crisis_sms, "acknowledge_by_sms", lambda phone, text: self.calls.append("crisis.ack"))
        monkeypatch.setattr(router, "confirm_next", self._confirm)
        monkeypatch.setattr(router.store, "claim_reply", self._claim_reply)
        monkeypatch.setattr(router.store, "claim_cannot_read", lambda phone, at, every: True)
        from functions.checkins import service as checkins  # no check-in sent to this number

        monkeypatch.setattr(checkins, "answer_reply", lambda *args: None)

    def _opted_out(self, phone: str) -> bool:
        return self.opted_out

    def _set(self, phone: str, opted_out: bool, at: datetime) -> bool:
        self.calls.append(f"contacts.opt_{'out' if opted_out else 'in'}")
        self.opted_out = opted_out
        return True

    def _confirm(self, phone: str, at: datetime) -> tuple[datetime, str] | None:
        self.calls.append("reminders.confirm_next")
        return AT + timedelta(days=1), "America/New_York"

    def _claim_reply(self, message_id: str, at: datetime, keep_for: timedelta) -> bool:
        first = message_id not in self.replied
        self.replied.add(message_id)
        return first

    def text(self, body: str, message_id: str = "in-1") -> str:
        return router.handle_inbound(SENDER, body, AT, sms=self.sms, message_id=message_id)


CASES: list[tuple[str, bool, str, list[str], bool]] = [
    # body, opted out before, outcome, workflows called, a reply was sent
    ("STOP", False, "opted_out", ["contacts.opt_out"], True),
    ("cancel", False, "opted_out", ["contacts.opt_out"], True),
    ("STOP", True, "opted_out", ["contacts.opt_out"], True),
    ("START", True, "opted_in", ["contacts.opt_in"], True),
    ("HELP", False, "help", [], True),
    ("HELP", True, "help_opted_out", [], False),
    ("C", False, "confirmed", ["reminders.confirm_next"], True),
    ("C", True, "confirm_opted_out", [], False),
    ("ACK K7Q2", False, "ack", ["crisis.ack"], False),
    ("ACK K7Q2", True, "ack", ["crisis.ack"], False),
    ("I want to die", False, "crisis", ["crisis.open_case"], True),
    ("I want to die", True, "crisis_opted_out", ["crisis.open_case"], False),
    # crisis language wins over every keyword that is not a bare STOP word
    ("ACK K7Q2 I want to die", False, "crisis", ["crisis.open_case"], True),
    ("C i cant go on", False, "crisis", ["crisis.open_case"], True),
    ("stop i want to die", False, "crisis", ["crisis.open_case"], True),
    ("running late", False, "cannot_read", [], True),
    ("running late", True, "other_opted_out", [], False),
    ("", False, "cannot_read", [], True),
]


@pytest.mark.parametrize(("body", "opted_out", "outcome", "calls", "replied"), CASES)
def test_each_message_reaches_one_workflow_in_the_order_of_the_checks(
    monkeypatch: pytest.MonkeyPatch, body: str, opted_out: bool, outcome: str, calls: list[str], replied: bool
) -> None:
    world = World(monkeypatch, opted_out=opted_out)
    assert world.text(body) == outcome
    assert world.calls == calls
    assert [to for to, _ in world.sms.sent] == ([SENDER] if replied else [])


def test_a_redelivered_message_is_not_answered_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, opted_out=False)
    assert world.text("HELP") == "help"
    assert world.text("HELP") == "duplicate"
    assert world.text("HELP", message_id="in-2") == "help"
    assert len(world.sms.sent) == 2


def test_a_reply_refused_by_sns_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, opted_out=False)
    world.sms = RecordingSms(opted_out={SENDER})
    assert world.text("HELP") == "help_refused"


def test_every_intent_has_one_route_in_the_order_of_the_checks() -> None:
    kinds: tuple[Any, ...] = get_args(IntentKind)
    assert list(router.ROUTES) == [kind for kind, _ in keywords.MATCHERS] + ["other"]
    assert set(router.ROUTES) == set(kinds)
