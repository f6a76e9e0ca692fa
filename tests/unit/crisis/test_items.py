"""The crisis table's item builders: one shape and one due shard for a case, whoever opens it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.crisis import items
from functions.intake import service
from functions.intake.schema import parse_crisis, parse_intake
from tests.factories import intake_form

NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
CONFIG = service.ClinicConfig("Clinic", "intake@clinic.example", "https://clinic.example/")


def _attrs(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.get_attributes()}


def _ids(case_id: str) -> Any:
    return lambda prefix: case_id if prefix == "cas" else f"{prefix}_X"


def test_the_due_shard_is_fixed_by_the_case_id_and_spreads_cases_over_every_shard() -> None:
    case_ids = [f"cas_{n:026d}" for n in range(64)]
    assert all(items.due_shard(c) == items.due_shard(c) in items.DUE_SHARDS for c in case_ids)
    assert {items.due_shard(c) for c in case_ids} == set(items.DUE_SHARDS)


def test_a_case_opened_by_a_risky_intake_is_the_case_the_crisis_workflow_builds() -> None:
    for n in range(8):  # ids in different shards
        case_id = f"cas_{n:026d}"
        write = service.build_intake_write(
            parse_intake(intake_form(risky=True), NOW.date()),
            now=NOW,
            body_hash="0" * 64,
            key_hash=None,
            config=CONFIG,
            new_id=_ids(case_id),
        )
        assert write.case is not None and write.open_marker is not None
        fields = {"intake_id": write.intake_id, "urgency": "same_day", "source": "intake"}
        assert _attrs(write.case) == _attrs(items.case_item(case_id, NOW, **fields))
        assert write.case.due_shard == items.due_shard(case_id)
        assert _attrs(write.open_marker) == _attrs(items.open_marker_item(write.intake_id, case_id, NOW, None))


def test_a_case_opened_from_the_website_is_the_case_the_crisis_workflow_builds() -> None:
    request = parse_crisis({"phone": "(212) 555-0199", "message": "help"})
    for n in range(8):
        case_id = f"cas_{n:026d}"
        write = service.build_case_write(
            request, "+12125550199", None, now=NOW, previous_marker_version=2, new_id=_ids(case_id)
        )
        fields = {"intake_id": None, "phone": "+12125550199", "message": "help", "urgency": "urgent", "source": "web"}
        assert _attrs(write.case) == _attrs(items.case_item(case_id, NOW, **fields))
        assert write.case.due_shard == items.due_shard(case_id)
        assert write.open_marker.version == 3
        assert _attrs(write.open_marker) == _attrs(items.open_marker_item("+12125550199", case_id, NOW, 2))


def test_keys_and_markers() -> None:
    assert items.case_key("cas_1") == ("CASE#cas_1", "CASE")
    assert items.case_id_of("CASE#cas_1") == "cas_1"
    assert items.open_key("+12125550199") == ("OPEN#+12125550199", "OPEN")
    assert items.code_key("K7") == ("CODE#K7", "CODE")
    assert items.token_key("j") == ("ACKTOKEN#j", "TOKEN")
    assert items.roster_version_sk(12) == "VERSION#000012"
    assert items.marker_of({"case_id": "cas_1"}, 3) == items.OpenMarker("cas_1", 3)
    assert items.marker_of(None, None) == items.OpenMarker("", 0)
    signal = items.signal_item("cas_1", "sig_1", NOW, source="sms", phone="+12125550199")
    assert (signal.pk, signal.sk, signal.kind) == ("CASE#cas_1", "SIGNAL#sig_1", "signal")
    assert signal.data == {"signal_id": "sig_1", "source": "sms", "phone": "+12125550199"}
