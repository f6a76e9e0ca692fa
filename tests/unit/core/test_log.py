"""The JSON log never carries PHI: whatever a developer passes, synthetic PHI never reaches stdout."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from functions.core.log import REDACTED, get_logger, scrub, scrub_text

EMAIL = "jordan.sample@example.com"
PHONE = "+12025550123"
DOB = "1990-04-12"
NAME = "Jordan"
MEMBER_ID = "XEX900000001"
_names = itertools.count()


class LogCapture:
    """A fresh PHI-safe logger writing to the captured stdout, and a reader of its JSON lines.

    The logger is created on first use, inside the test: Powertools binds a logger's stream (and a
    service name's handler) when it is first created, so each test gets its own service name.
    """

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._logger: Logger | None = None

    @property
    def logger(self) -> Logger:
        if self._logger is None:
            self._logger = get_logger(f"x-{next(_names)}")
        return self._logger

    def records(self) -> list[dict[str, Any]]:
        out = self._capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def __iter__(self) -> Iterator[Any]:
        """``logger, records = log`` inside the test body."""
        yield self.logger
        yield self.records


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> LogCapture:
    return LogCapture(capsys)


def _raw(records: list[dict[str, Any]]) -> str:
    return json.dumps(records)


def test_log_lines_are_json_with_level_service_and_message(log: Any) -> None:
    logger, records = log
    logger.info("insurance check recorded", extra={"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE", "count": 2})
    (record,) = records()
    assert record["level"] == "INFO"
    assert record["service"].startswith("x-")
    assert record["message"] == "insurance check recorded"
    assert record["intake_id"] == "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"  # ids and counts survive
    assert record["count"] == 2


def test_email_phone_and_date_of_birth_in_the_message_are_masked(log: Any) -> None:
    logger, records = log
    logger.info(f"patient {EMAIL} phone {PHONE} born {DOB}")
    (record,) = records()
    assert record["message"] == "patient [email] phone [phone] born [date]"


def test_phi_passed_as_format_arguments_is_masked(log: Any) -> None:
    logger, records = log
    logger.info("sent reminder to %s / %s", PHONE, EMAIL)
    text = _raw(records())
    assert PHONE not in text
    assert EMAIL not in text


@pytest.mark.parametrize(
    "phone",
    [
        "+12025550123",
        "+1 202 555 0123",
        "+1-202-555-0123",
        "+1 (202) 555-0123",
        "(202) 555-0123",
        "202-555-0123",
        "202.555.0123",
        "202 555 0123",
        "2025550123",
        "12025550123",
        "+44 20 7946 0958",
    ],
)
def test_phone_numbers_in_many_formats_are_masked(log: Any, phone: str) -> None:
    logger, records = log
    logger.info(f"reply from {phone}: ok")
    (record,) = records()
    message = record["message"]
    assert phone not in message
    for fragment in ("555", "0123", "7946", "0958"):
        assert fragment not in message
    assert message.startswith("reply from ") and message.endswith(": ok")


def test_timestamps_and_ids_are_not_mistaken_for_phi(log: Any) -> None:
    logger, records = log
    logger.info(
        "due at 2026-03-02T14:05:00Z for cas_01KJQ6W5B2C4D6E8F0G1H3J5K7",
        extra={"due_at": "2026-03-02T14:05:00Z", "case_id": "cas_01KJQ6W5B2C4D6E8F0G1H3J5K7", "sent": 3},
    )
    (record,) = records()
    assert "2026-03-02T14:05:00Z" in record["message"]
    assert record["due_at"] == "2026-03-02T14:05:00Z"
    assert record["case_id"] == "cas_01KJQ6W5B2C4D6E8F0G1H3J5K7"
    assert record["sent"] == 3


def test_phi_keys_in_extra_are_redacted_whatever_their_value(log: Any) -> None:
    logger, records = log
    logger.info(
        "intake stored",
        extra={
            "first_name": NAME,
            "last_name": "Sample",
            "email": EMAIL,
            "phone": PHONE,
            "date_of_birth": DOB,
            "dob": DOB,
            "member_id": MEMBER_ID,
            "group_number": "GRP-0001",
            "signature": "Jordan Sample",
            "to": PHONE,
            "body": "Reply C to confirm",
            "subject": "Your appointment",
            "intake_id": "itk_1",
        },
    )
    (record,) = records()
    for key in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "dob",
        "member_id",
        "group_number",
        "signature",
        "to",
        "body",
        "subject",
    ):
        assert record[key] == REDACTED, key
    assert record["intake_id"] == "itk_1"
    text = _raw([record])
    for value in (NAME, "Sample", EMAIL, PHONE, DOB, MEMBER_ID, "GRP-0001", "Reply C", "appointment"):
        assert value not in text


def test_phi_keys_are_redacted_in_nested_objects_and_lists(log: Any) -> None:
    logger, records = log
    logger.info(
        "payload",
        extra={
            "patient": {"first_name": NAME, "address": {"line1": "100 Example Street", "city": "Springfield"}},
            "emergency_contact": {"name": "Riley Sample", "phone": "+13125550142"},
            "members": [{"name": "Dr. Example", "phone": "+12025550101", "tier": 1}],
            "screening": {"phq9": [1, 2, 1, 2, 1, 1, 2, 0, 0]},
            "Phone": PHONE,
        },
    )
    (record,) = records()
    assert record["patient"]["first_name"] == REDACTED
    assert record["patient"]["address"] == REDACTED
    assert record["emergency_contact"] == REDACTED
    assert record["members"][0] == {"name": REDACTED, "phone": REDACTED, "tier": 1}
    assert record["screening"] == REDACTED
    assert record["Phone"] == REDACTED  # keys match case-insensitively
    text = _raw([record])
    for value in (NAME, "Example Street", "Springfield", "Riley", "+13125550142", "+12025550101", PHONE):
        assert value not in text


def test_unknown_keys_still_have_phi_values_masked(log: Any) -> None:
    logger, records = log
    logger.info("x", extra={"contact_value": EMAIL, "callback": PHONE, "born": DOB})
    (record,) = records()
    assert record["contact_value"] == "[email]"
    assert record["callback"] == "[phone]"
    assert record["born"] == "[date]"


def test_appended_keys_are_scrubbed_on_every_line(log: Any) -> None:
    logger, records = log
    logger.append_keys(phone=PHONE, request_note=f"from {EMAIL}")
    logger.info("one")
    logger.warning("two")
    lines = records()
    assert len(lines) == 2
    for record in lines:
        assert record["phone"] == REDACTED
        assert record["request_note"] == "from [email]"


def test_exception_text_with_a_phone_number_is_masked(log: Any) -> None:
    logger, records = log
    try:
        raise ValueError(f"carrier refused {PHONE} and (202) 555-0188 for {EMAIL} born {DOB}")
    except ValueError:
        logger.exception("sms send failed")
    (record,) = records()
    assert record["level"] == "ERROR"
    assert record["exception_name"] == "ValueError"
    assert "carrier refused [phone]" in record["exception"]
    text = _raw([record])
    for value in (PHONE, "555-0188", EMAIL, DOB):
        assert value not in text


def test_exception_notes_are_masked(log: Any) -> None:
    logger, records = log
    try:
        error = RuntimeError("send failed")
        error.add_note(f"recipient {EMAIL}")
        raise error
    except RuntimeError:
        logger.exception("failed")
    text = _raw(records())
    assert EMAIL not in text


def test_dict_messages_are_scrubbed_like_extra(log: Any) -> None:
    logger, records = log
    logger.info({"event": "reply", "from": PHONE, "text": "STOP"})
    (record,) = records()
    assert record["message"] == {"event": "reply", "from": REDACTED, "text": REDACTED}


def test_scrub_helpers_directly() -> None:
    assert scrub_text(f"{EMAIL}, {PHONE}, {DOB}") == "[email], [phone], [date]"
    assert scrub({"a": [PHONE, {"email": "x"}], "n": 5, "ok": True, "none": None}) == {
        "a": ["[phone]", {"email": REDACTED}],
        "n": 5,
        "ok": True,
        "none": None,
    }
    assert scrub((EMAIL,)) == ["[email]"]


def test_camel_case_phi_keys_are_redacted(log: Any) -> None:
    logger, records = log
    logger.info(
        "inbound",
        extra={
            "sms": {"originationNumber": PHONE, "messageBody": "i feel unsafe tonight"},
            "memberId": MEMBER_ID,
            "firstName": NAME,
        },
    )
    text = _raw(records())
    for value in ("unsafe", MEMBER_ID, NAME):
        assert value not in text
