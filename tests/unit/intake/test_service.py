"""The intake service without AWS: what a submission writes, idempotent retries and their race,
crisis cases and signals, the staff view. The store is an in-memory fake of the IntakeStore port."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.errors import ConflictError, NotFoundError, RetryableError
from functions.core.ids import derived_id, new_id
from functions.core.outbox import OUTBOX_SHARDS, OutboxEvent, carried_record, events_of
from functions.crisis.items import due_shard
from functions.intake import service
from functions.intake.schema import CrisisRequest, IntakeRequest, parse_crisis, parse_intake
from tests.factories import intake_form

NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
CONFIG = service.ClinicConfig(
    clinic_name="Harbor  Clinic", intake_staff_email="intake@clinic.example", public_base_url="https://clinic.example/"
)
PHI = (
    "Zelda",
    "Quixotica",
    "zelda.quixotica@example.org",
    "2125550187",
    "1987-09-14",
    "WQX88231907",
    "41 Orchard Lane",
)


def make_form(*, risky: bool = False, self_pay: bool = False, high: bool = False) -> IntakeRequest:
    """tests/factories.py's form with this file's answers: SMS only, mornings, PHQ-9 8, GAD-7 10."""
    data = intake_form(
        phq9=[1, 1, 1, 1, 1, 1, 1, 1, 0],
        gad7=[2, 2, 2, 2, 1, 1, 0],
        channels=["sms"],
        email=False,
        preferences={"session_times": ["morning"]},
        self_pay=self_pay,
    )
    if risky:
        data["screening"]["phq9"][8] = 1
    if high:
        data["screening"]["cssrs"]["behavior_past_3_months"] = True
    return parse_intake(data, NOW.date())


def ids() -> Any:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(counter):03d}"


def _attrs(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.get_attributes()}


KEYED_ID = derived_id("itk", "k" * 64)  # build()'s intake id: derived from its key's digest


def events(write: service.IntakeWrite) -> list[OutboxEvent]:
    """Every event a write stores: its own outbox items, or those the intake carries."""
    return [*write.events, *(events_of(write.intake) if write.intake.outbox_events is not None else [])]


def sent(write: service.IntakeWrite) -> list[OutboxEvent]:
    """The events that leave the table (not the patient record the relay writes)."""
    return [e for e in events(write) if e.channel != "record"]


def patient_data(write: service.IntakeWrite) -> dict[str, Any]:
    if write.patient is not None:
        return dict(write.patient.data)
    found = carried_record(write.intake, f"PATIENT#{write.patient_id}")
    assert found is not None
    return found


class FakeStore:
    """An in-memory IntakeStore with the same conditions as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.transactions = 0
        self.hide_idempotency_reads = 0  # the next N reads of a record miss (a racing writer)

    def _put(self, table: str, item: Any) -> None:
        self.items[(table, item.pk, item.sk)] = _attrs(item)

    def get_item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.items.get((table, pk, sk))
        return dict(found) if found is not None else None

    def get_idempotency(self, key_hash: str, now: datetime) -> service.IdempotencyRecord | None:
        if self.hide_idempotency_reads > 0:
            self.hide_idempotency_reads -= 1
            return None
        intake_id = derived_id("itk", key_hash)
        found = self.get_item("intakes", f"INTAKE#{intake_id}", "INTAKE")
        if found is None:
            return None
        data = found["data"]
        return service.IdempotencyRecord(intake_id, data["body_sha256"], data["shows_risk"])

    def create_intake(self, write: service.IntakeWrite, now: datetime) -> None:
        if self.get_item("intakes", write.intake.pk, write.intake.sk) is not None:
            raise service.KeyTaken("taken")
        self.transactions += 1
        for item in (write.patient, write.intake, *(e.to_item() for e in write.events)):
            if item is not None:
                self._put("intakes", item)
        for item in (write.case, write.open_marker):
            if item is not None:
                self._put("crisis", item)

    def get_open_marker(self, subject: str) -> service.OpenMarker | None:
        found = self.get_item("crisis", f"OPEN#{subject}", "OPEN")
        return service.OpenMarker(found["data"]["case_id"], found["version"]) if found else None

    def open_case(self, write: service.CaseWrite) -> None:
        marker = self.get_open_marker(write.open_marker.pk.removeprefix("OPEN#"))
        if (marker.version if marker else None) != write.previous_marker_version:
            raise ConflictError("marker changed")
        self.transactions += 1
        self._put("crisis", write.open_marker)
        self._put("crisis", write.case)
        for event in write.events:
            self._put("intakes", event.to_item())

    def add_signal(self, write: service.SignalWrite) -> None:
        if self.get_item("crisis", f"CASE#{write.case_id}", "CASE") is None:
            raise NotFoundError("no case")
        self.transactions += 1
        self._put("crisis", write.signal)
        for event in write.events:
            self._put("intakes", event.to_item())

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [item for item in self.items.values() if item["kind"] == kind]


def build(**kwargs: Any) -> service.IntakeWrite:
    request = kwargs.pop("request", None) or make_form(**kwargs)
    return service.build_intake_write(
        request, now=NOW, body_hash="b" * 64, key_hash="k" * 64, config=CONFIG, new_id=ids()
    )


# --- what a submission writes -----------------------------------------------------------------


def test_a_submission_writes_patient_intake_scores_and_consent_with_its_version() -> None:
    write = build()

    assert write.intake_id == KEYED_ID and write.patient_id == "pat_001"
    intake = write.intake.data
    assert intake["patient_id"] == "pat_001" and intake["status"] == "received"
    assert intake["scores"] == {
        "phq9": {"total": 8, "band": "mild", "item9": 0},
        "gad7": {"total": 10, "band": "moderate"},
        "cssrs": {"risk": "none"},
    }
    assert intake["flags"] == ["iop_indicated"] and intake["urgency"] is None
    assert intake["consent"]["accepted_at"] == "2026-03-02T14:05:00Z"
    assert intake["consent"]["text_version"] == service.CONSENT_TEXT_VERSION
    assert intake["answers"]["insurance"]["member_id"] == "WQX88231907"
    assert intake["current_address"]["postal_code"] == "12207"
    assert patient_data(write)["phone"] == "+12125550187"
    assert patient_data(write)["contact_consent"] == {"sms": True, "email": False}
    assert write.case is None and write.open_marker is None and write.case_id is None


def test_without_risk_the_intake_is_one_item_carrying_its_patient_and_events() -> None:
    write = build()

    assert write.patient is None and write.events == ()  # nothing but the intake is written
    record, *rest = events_of(write.intake)
    assert record.channel == "record" and record.home == (f"INTAKE#{KEYED_ID}", "INTAKE")
    assert record.payload["pk"] == "PATIENT#pat_001" and record.payload["sk"] == "PROFILE"
    assert record.payload["kind"] == "patient" and record.payload["data"]["intake_ids"] == [KEYED_ID]
    assert [e.target for e in rest] == ["insurance", "email"]
    assert write.intake.outbox_shard in OUTBOX_SHARDS and write.intake.outbox_at == "2026-03-02T14:05:00Z"


def test_the_intake_holds_the_body_digest_and_its_id_comes_from_the_key() -> None:
    write = build()

    assert write.intake.data["body_sha256"] == "b" * 64 and write.intake.data["shows_risk"] is False
    assert write.intake_id == derived_id("itk", "k" * 64) != derived_id("itk", "j" * 64)
    assert "k" * 64 not in str(_attrs(write.intake))  # the key's digest is not stored


def test_insurance_given_queues_a_check_and_staff_are_emailed() -> None:
    found = sent(build())

    assert [(e.channel, e.target) for e in found] == [("queue", "insurance"), ("email", "email")]
    assert found[0].payload["body"] == {"intake_id": KEYED_ID}


def test_self_pay_queues_no_insurance_check() -> None:
    assert [e.target for e in sent(build(self_pay=True))] == ["email"]


def test_a_risky_screen_opens_a_case_due_now_with_its_marker_and_a_crisis_event() -> None:
    write = build(risky=True)

    assert write.shows_risk and write.case_id == "cas_002"
    assert write.patient is not None and write.intake.outbox_events is None  # one transaction, as before
    assert write.case is not None and write.open_marker is not None
    assert write.case.pk == "CASE#cas_002" and write.case.sk == "CASE"
    assert write.case.data == {
        "case_id": "cas_002",
        "intake_id": KEYED_ID,
        "urgency": "same_day",
        "source": "intake",
        "status": "open",
        "opened_at": "2026-03-02T14:05:00Z",
    }
    assert (write.case.due_shard, write.case.due_at) == (due_shard("cas_002"), "2026-03-02T14:05:00Z")
    assert write.open_marker.pk == f"OPEN#{KEYED_ID}" and write.open_marker.data == {"case_id": "cas_002"}
    crisis = write.events[0]
    assert crisis.target == "crisis"
    assert crisis.payload["body"] == {"case_id": "cas_002", "type": "case_opened", "event_id": crisis.event_id}
    assert write.intake.data["crisis_case_id"] == "cas_002"


def test_a_high_risk_answer_makes_the_case_urgent() -> None:
    write = build(high=True)

    assert write.case is not None and write.case.data["urgency"] == "urgent"
    assert write.intake.data["flags"][0] == "urgent_review"


def test_the_staff_email_names_the_clinic_and_links_the_intake_and_nothing_else() -> None:
    for write in (build(risky=True), build()):
        email = sent(write)[-1]
        assert email.payload["to"] == "intake@clinic.example"
        assert email.payload["subject"] == "[Harbor Clinic] New intake received"
        assert f"https://clinic.example/staff.html?intake={KEYED_ID}" in email.payload["text"]
        text = (email.payload["subject"] + email.payload["text"]).lower()
        for value in (*PHI, "risk", "score", "phq", "crisis", "mental"):
            assert value.lower() not in text


def test_outbox_items_sit_in_the_sparse_index_and_round_trip() -> None:
    for event in build(risky=True).events:
        item = event.to_item()
        assert item.kind == "outbox" and item.outbox_shard in OUTBOX_SHARDS
        assert item.outbox_at == "2026-03-02T14:05:00Z"
        assert OutboxEvent.from_item(item) == event


def test_the_body_digest_ignores_key_order_and_spacing_but_not_values() -> None:
    a = {"b": [1, 2], "a": {"y": "é", "x": None}}
    b = {"a": {"x": None, "y": "é"}, "b": [1, 2]}

    assert service.body_digest(a) == service.body_digest(b)
    assert service.body_digest(a) != service.body_digest({**a, "b": [2, 1]})


# --- submit: idempotency ----------------------------------------------------------------------


def submit(
    store: FakeStore, *, key: str | None = "key-1", body: str = "b" * 64, real_ids: bool = False, **kwargs: Any
) -> service.Submitted:
    return service.submit_intake(
        make_form(**kwargs),
        now=NOW,
        body_hash=body,
        idempotency_key=key,
        store=store,
        config=CONFIG,
        new_id=new_id if real_ids else ids(),
        sleep=lambda _: None,
    )


def test_a_first_submission_is_written_once_and_returns_its_events() -> None:
    store = FakeStore()

    result = submit(store, risky=True)

    assert not result.replayed and result.shows_risk
    assert store.transactions == 1
    assert [e.target for e in result.events] == ["crisis", "insurance", "email"]
    assert len(store.of_kind("intake")) == 1 and len(store.of_kind("outbox")) == 3
    assert len(store.of_kind("patient")) == 1


def test_a_first_submission_without_risk_writes_the_intake_alone() -> None:
    store = FakeStore()

    result = submit(store)

    assert not result.replayed and not result.shows_risk and result.events == ()
    assert store.transactions == 1 and [i["kind"] for i in store.items.values()] == ["intake"]


def test_the_same_key_and_body_replays_the_first_answer_without_writing() -> None:
    store = FakeStore()
    first = submit(store, risky=True)

    again = submit(store, risky=True)

    assert again.replayed and again.intake_id == first.intake_id and again.shows_risk
    assert again.events == ()
    assert store.transactions == 1


def test_the_same_key_with_another_body_is_a_conflict() -> None:
    store = FakeStore()
    submit(store)

    with pytest.raises(service.IdempotencyConflict):
        submit(store, body="c" * 64)
    assert store.transactions == 1


@pytest.mark.parametrize(("body", "outcome"), [("b" * 64, "same"), ("c" * 64, "conflict")])
def test_losing_the_race_for_a_key_answers_from_the_winner(body: str, outcome: str) -> None:
    store = FakeStore()
    winner = submit(store)
    store.hide_idempotency_reads = 1  # our first read happened before the winner's write

    if outcome == "same":
        result = submit(store, body=body)
        assert result.replayed and result.intake_id == winner.intake_id
    else:
        with pytest.raises(service.IdempotencyConflict):
            submit(store, body=body)
    assert store.transactions == 1


def test_a_winner_whose_record_never_becomes_readable_is_retryable() -> None:
    store = FakeStore()
    submit(store)
    store.hide_idempotency_reads = 100

    with pytest.raises(RetryableError):
        submit(store)


def test_a_key_stays_bound_to_its_intake_a_day_later() -> None:
    store = FakeStore()
    first = submit(store)
    later = service.submit_intake(
        make_form(),
        now=NOW + timedelta(days=30),
        body_hash="b" * 64,
        idempotency_key="key-1",
        store=store,
        config=CONFIG,
        new_id=lambda p: f"{p}_later",
    )

    assert later.replayed and later.intake_id == first.intake_id and store.transactions == 1


def test_without_a_key_every_submission_is_a_new_intake() -> None:
    store = FakeStore()

    a = submit(store, key=None)
    b = submit(store, key=None, real_ids=True)

    assert a.intake_id != b.intake_id and store.transactions == 2


# --- POST /crisis -----------------------------------------------------------------------------


def crisis(store: FakeStore, counter: Any = None, **body: Any) -> service.CrisisOpened:
    request: CrisisRequest = parse_crisis(body)
    return service.open_crisis(request, now=NOW, store=store, new_id=counter or ids())


def test_a_phone_opens_an_urgent_case_with_a_marker_and_an_event() -> None:
    store = FakeStore()

    opened = crisis(store, phone="(212) 555-0199", message="please call")

    assert not opened.signal_added
    [case] = store.of_kind("case")
    assert case["data"]["phone"] == "+12125550199" and case["data"]["message"] == "please call"
    assert case["data"]["urgency"] == "urgent" and case["data"]["source"] == "web"
    [marker] = store.of_kind("open_case")
    assert marker["pk"] == "OPEN#+12125550199" and marker["version"] == 1
    [event] = opened.events
    assert event.payload["body"]["type"] == "case_opened"


def test_an_open_case_gets_a_signal_not_a_second_case() -> None:
    store = FakeStore()
    counter = ids()
    first = crisis(store, counter, phone="+12125550199")

    second = crisis(store, counter, phone="+12125550199", message="again")

    assert second.signal_added and second.case_id == first.case_id
    assert len(store.of_kind("case")) == 1
    [signal] = store.of_kind("signal")
    assert signal["pk"] == f"CASE#{first.case_id}" and signal["data"]["message"] == "again"
    assert second.events[0].payload["body"]["type"] == "signal_added"


def test_a_resolved_case_is_replaced_by_a_new_one() -> None:
    store = FakeStore()
    counter = ids()
    first = crisis(store, counter, phone="+12125550199")
    store.items[("crisis", f"CASE#{first.case_id}", "CASE")]["data"]["status"] = "resolved"

    second = crisis(store, counter, phone="+12125550199")

    assert not second.signal_added and second.case_id != first.case_id
    [marker] = store.of_kind("open_case")
    assert marker["data"]["case_id"] == second.case_id and marker["version"] == 2


def test_a_case_opened_meanwhile_by_another_request_gets_a_signal() -> None:
    store = FakeStore()
    counter = ids()
    real = store.get_open_marker
    reads: list[int] = []

    def racing(subject: str) -> Any:
        reads.append(1)
        if len(reads) == 1:  # we read "no case" ... then another request opens one
            crisis(store, counter, phone="+12125550199")
            return None
        return real(subject)

    store.get_open_marker = racing  # type: ignore[method-assign]

    opened = crisis(store, counter, phone="+12125550199")

    assert opened.signal_added
    assert len(store.of_kind("case")) == 1 and len(store.of_kind("signal")) == 1


def test_an_intake_with_a_case_gets_a_signal_on_it() -> None:
    store = FakeStore()
    intake = submit(store, risky=True, real_ids=True)

    opened = crisis(store, intake_id=intake.intake_id)

    assert opened.signal_added
    assert len(store.of_kind("case")) == 1


def test_an_unknown_intake_without_a_phone_is_refused_and_with_one_uses_the_phone() -> None:
    store = FakeStore()
    unknown = "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV"

    with pytest.raises(service.UnknownIntake):
        crisis(store, intake_id=unknown)
    opened = crisis(store, intake_id=unknown, phone="+12125550199")

    [case] = store.of_kind("case")
    assert case["pk"] == f"CASE#{opened.case_id}" and case["data"]["intake_id"] is None
    assert store.of_kind("open_case")[0]["pk"] == "OPEN#+12125550199"


# --- staff view -------------------------------------------------------------------------------


def test_the_staff_view_has_contract_scores_contact_data_and_eligibility() -> None:
    store = FakeStore()
    intake_id = submit(store, risky=True, real_ids=True).intake_id

    view = service.staff_view(intake_id, store)

    assert view["scores"]["phq9"] == {"total": 9, "band": "mild", "item9": 1}
    assert set(view["scores"]) == {"phq9", "gad7", "cssrs"}
    assert view["flags"] == ["same_day_followup", "iop_indicated"]
    assert view["patient"]["last_name"] == "Quixotica" and view["patient"]["email"] == "zelda.quixotica@example.org"
    assert view["insurance"]["member_id"] == "WQX88231907"
    assert view["consent"]["text_version"] == service.CONSENT_TEXT_VERSION
    assert view["eligibility"] is None

    store.items[("eligibility", f"INTAKE#{intake_id}", "SUMMARY")] = {
        "status": "active",
        "data": {"status": "active", "copay": 20.0},
        "updated_at": "2026-03-02T14:06:00Z",
    }
    assert service.staff_view(intake_id, store)["eligibility"] == {
        "status": "active",
        "copay": 20.0,
        "updated_at": "2026-03-02T14:06:00Z",
    }


@pytest.mark.parametrize("intake_id", ["itk_01ARZ3NDEKTSV4RRFFQ69G5FAV", "PATIENT#pat_002", "", "itk_001"])
def test_an_unknown_or_malformed_intake_is_not_found(intake_id: str) -> None:
    store = FakeStore()
    submit(store)  # stores itk_001, which is not a well-formed id: not reachable by the staff route

    with pytest.raises(NotFoundError):
        service.staff_view(intake_id, store)
