"""The escalation chain end to end against moto: tier by tier, round by round, then always_email."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from functions.core.clock import iso
from functions.core.models import CrisisItem
from functions.crisis import roster
from tests.integration.crisis.conftest import API_BASE, Crisis

MIN = 60
LINK = re.compile(re.escape(API_BASE) + r"/crisis/ack/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def _emf(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_tier_one_is_paged_by_sms_and_email_at_once_with_the_code_and_a_signed_link(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    code = crisis.code(case_id)

    assert crisis.sms_to() == ["Ana", "Ben"]
    assert sorted(crisis.email_to()) == ["Ana", "Ben"]
    for _, text in crisis.sms():
        assert text.startswith(f"Harbor Clinic URGENT patient safety alert, case {code}. Reply ACK {code} or open ")
        assert LINK.search(text)
    sms_links = {phone: LINK.search(text).group(0) for phone, text in crisis.sms()}  # type: ignore[union-attr]
    for _, subject, body in crisis.email():
        assert subject == f"[Harbor Clinic] URGENT safety alert {code}"
        assert LINK.search(body)
    # the email carries the same link as the member's SMS
    ana_email = next(body for addr, _, body in crisis.email() if addr == "ana@clinic.example")
    assert sms_links["+12025550101"] in ana_email
    # minimum necessary: nothing about the patient or the screen
    for text in [t for _, t in crisis.sms()] + [b for _, _, b in crisis.email()]:
        assert "itk_TEST" not in text and "PHQ" not in text and "mental" not in text.lower()

    # the precise timer: one ack_due delayed to the 5-minute deadline; the due index holds it too
    checks = crisis.checks()
    assert [(c.body["round"], c.body["tier"], c.delay) for c in checks] == [(0, 0, 300)]
    item = CrisisItem.get(f"CASE#{case_id}", "CASE", consistent_read=True)
    assert item.due_at == iso(crisis.clock.now()).replace("14:05", "14:10")
    assert [e["type"] for e in crisis.timeline(case_id)] == ["opened", "paged", "paged", "paged", "paged"]


def test_a_check_that_arrives_before_the_deadline_waits_and_does_nothing_else(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    sent = len(crisis.sms())
    crisis.advance(2 * MIN)
    early = crisis.checks()[0]
    early.deliver_at = crisis.clock.now()  # as if SQS (or a lagging local clock) delivered it early
    crisis.deliver()
    assert len(crisis.sms()) == sent
    requeued = crisis.checks()[-1]
    assert requeued is not early and requeued.delay == 3 * MIN
    assert crisis.case(case_id).state.tier == 0
    # the sweep before the deadline finds nothing
    assert crisis.sweep()["queued"] == 0


def test_the_chain_runs_tier_by_tier_then_repeats_then_tells_always_email_once(crisis: Crisis, capsys: Any) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben"]

    crisis.advance(5 * MIN - 1)
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben"]  # one second before the deadline: nothing
    crisis.advance(1)
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben", "Chen"]
    assert crisis.email_to()[-1] == "Chen"

    crisis.advance(10 * MIN)
    crisis.deliver()
    assert crisis.sms_to()[-1] == "Dana"

    crisis.advance(15 * MIN)
    crisis.deliver()  # round 2 starts again at tier 1
    assert crisis.sms_to() == ["Ana", "Ben", "Chen", "Dana", "Ana", "Ben"]
    crisis.advance(5 * MIN)
    crisis.deliver()
    crisis.advance(10 * MIN)
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben", "Chen", "Dana", "Ana", "Ben", "Chen", "Dana"]
    assert crisis.email_to() == ["Ana", "Ben", "Chen", "Dana", "Ana", "Ben", "Chen", "Dana"]

    crisis.advance(15 * MIN)
    crisis.deliver()  # the last tier of the last round timed out
    assert crisis.email_to()[-1] == "director@clinic.example"
    director = crisis.email()[-1]
    assert director[1].startswith("[Harbor Clinic] UNACKNOWLEDGED URGENT safety alert")
    assert "after 2 round(s)" in director[2] and LINK.search(director[2])
    assert len(crisis.sms()) == 8

    # the case stays open, out of the due index; nothing more goes out, however long we wait
    state = crisis.case(case_id).state
    assert state.status == "open" and state.exhausted
    assert CrisisItem.get(f"CASE#{case_id}", "CASE").due_at is None
    for _ in range(3):
        crisis.tick(30 * MIN)
    assert len(crisis.sms()) == 8 and len(crisis.email()) == 9

    metrics = [m for m in _emf(capsys.readouterr().out)]
    unacked = [m for m in metrics if "CrisisUnacknowledged" in m]
    assert len(unacked) == 1
    dims = unacked[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert all(case_id not in json.dumps(d) for d in dims)
    kinds = [e["type"] for e in crisis.timeline(case_id)]
    assert Counter(kinds) == Counter(
        {"opened": 1, "paged": 16, "escalated": 5, "chain_exhausted": 1, "always_emailed": 1, "alarm": 1}
    )


def test_the_sweep_alone_moves_the_chain_when_timer_messages_are_lost(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    crisis.queue.clear()  # every delayed ack_due lost
    crisis.advance(5 * MIN)
    crisis.sweep()
    crisis.queue = [q for q in crisis.queue if q.body.get("sweep")]
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben", "Chen"]
    # a second sweep a minute later finds the new deadline not due yet
    crisis.queue.clear()
    crisis.advance(MIN)
    assert crisis.sweep()["queued"] == 0
    assert crisis.case(case_id).state.tier == 1


def test_a_case_whose_opening_message_never_came_is_started_by_the_sweep(crisis: Crisis) -> None:
    case_id = crisis.open_case(publish=False)
    assert crisis.sweep()["queued"] == 1
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben"]
    assert crisis.case(case_id).state.started


def test_a_same_day_case_waits_longer_per_tier_and_says_so(crisis: Crisis) -> None:
    crisis.open_case(urgency="same_day")
    crisis.deliver()
    assert "follow-up needed today" in crisis.sms()[0][1]
    assert [c.delay for c in crisis.checks()] == [900]  # 15 minutes: max(15, 3 x 5)
    crisis.advance(15 * MIN - 1)
    crisis.tick()
    assert crisis.sms_to() == ["Ana", "Ben"]
    crisis.tick(1)
    assert crisis.sms_to() == ["Ana", "Ben", "Chen"]
    assert crisis.checks()[-1].delay == 900  # 30 minutes for tier 2: capped at SQS's 15, then re-queued


def test_duplicate_delivery_of_every_message_sends_nothing_twice(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver(twice=True)
    assert Counter(crisis.sms_to()) == {"Ana": 1, "Ben": 1}
    crisis.advance(5 * MIN)
    crisis.deliver(twice=True)
    crisis.sweep()
    crisis.deliver(twice=True)
    assert Counter(crisis.sms_to()) == {"Ana": 1, "Ben": 1, "Chen": 1}
    assert Counter(crisis.email_to()) == {"Ana": 1, "Ben": 1, "Chen": 1}
    # the opening message again, much later: nothing new either
    crisis.on_publish(
        crisis.aws.env["IOP_CRISIS_QUEUE_URL"],
        {"case_id": case_id, "type": "case_opened", "event_id": f"evt_{case_id}"},
        0,
    )
    crisis.deliver(twice=True)
    assert len(crisis.sms()) == 3 and len(crisis.email()) == 3


def test_a_case_without_a_roster_goes_to_the_intake_staff_address_and_raises_the_alarm(
    crisis: Crisis, capsys: Any
) -> None:
    CrisisItem("ROSTER", "CURRENT").delete()
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms() == []
    assert crisis.email_to() == ["intake@clinic.example"]
    subject, body = crisis.email()[0][1], crisis.email()[0][2]
    assert "NO ON-CALL RESPONDER" in subject and LINK.search(body)
    assert any("CrisisNoResponder" in m for m in _emf(capsys.readouterr().out))
    crisis.tick(30 * MIN)
    assert len(crisis.email()) == 1
    assert crisis.case(case_id).state.status == "open"


def test_a_case_snapshots_the_roster_it_started_with(crisis: Crisis) -> None:
    from tests.integration.crisis.conftest import member, roster_data

    case_id = crisis.open_case()
    crisis.deliver()
    changed = roster_data()
    changed["tiers"][1]["members"] = [member("Dana")]
    roster.import_roster(changed, at=crisis.clock.now())
    crisis.advance(5 * MIN)
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben", "Chen"]  # the case's own roster: Chen, not Dana
    assert crisis.case(case_id).data["roster_version"] == 1
