"""handle_inbound_sms (two-way SMS -> SNS -> SQS inbound-sms) against moto.

Opt-out keywords take effect at once and are honoured by every send path (``sms_opted_out``);
HELP answers with the clinic's name and number, through SNS.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.contacts import set_sms_opt_out, sms_opted_out, sms_opted_out_many
from functions.core.settings import get_settings
from functions.inbound.handler import handle_inbound_sms
from tests.fakes import RecordingSms

LoadEvent = Callable[[str], dict[str, Any]]
PATIENT = "+12025550123"  # the sample's first sender
OTHER = "+13125550142"  # the sample's second sender
STOP_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"]


def _sms_event(sample: dict[str, Any], *messages: tuple[str, str]) -> dict[str, Any]:
    """The sample batch rewritten to carry ``(from, text)`` messages, one record each, as SNS sends them."""
    template = sample["Records"][0]
    records = []
    for i, (sender, text) in enumerate(messages):
        record = copy.deepcopy(template)
        envelope = json.loads(record["body"])
        inner = json.loads(envelope["Message"])
        inner.update(originationNumber=sender, messageBody=text, inboundMessageId=f"in-{i}")
        envelope["Message"] = json.dumps(inner, separators=(",", ":"))
        envelope["MessageId"] = f"sns-{i}"
        record["body"] = json.dumps(envelope, indent=2, separators=(",", " : "))
        record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
        record["messageId"] = f"00000000-0000-4000-8000-{i:012d}"
        records.append(record)
    return {"Records": records}


@pytest.fixture
def sample(load_event: LoadEvent) -> dict[str, Any]:
    return load_event("sqs_inbound_sms")


def _to(aws: Any, number: str) -> list[str]:
    """Texts SNS sent to ``number``, oldest first."""
    return [text for to, text in aws.sent_sms() if to == number]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_the_sample_batch_opts_out_one_number_and_answers_help_to_the_other(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    assert handle_inbound_sms(sample, lambda_context) == {"batchItemFailures": []}
    assert sms_opted_out(PATIENT) is True
    assert sms_opted_out(OTHER) is False
    assert len(_to(aws, OTHER)) == 1


def test_stop_opts_out_and_start_opts_back_in(aws: Any, sample: dict[str, Any], lambda_context: Any) -> None:
    assert sms_opted_out(PATIENT) is False  # no record: never opted out
    handle_inbound_sms(_sms_event(sample, (PATIENT, "STOP")), lambda_context)
    assert sms_opted_out(PATIENT) is True
    assert sms_opted_out(OTHER) is False  # only the sender
    handle_inbound_sms(_sms_event(sample, (PATIENT, "START")), lambda_context)
    assert sms_opted_out(PATIENT) is False
    handle_inbound_sms(_sms_event(sample, (PATIENT, "stop"), (PATIENT, "unstop")), lambda_context)
    assert sms_opted_out(PATIENT) is False  # the later message wins within a batch
    assert _to(aws, OTHER) == []


def test_after_stop_at_most_one_confirmation_is_sent(aws: Any, sample: dict[str, Any], lambda_context: Any) -> None:
    handle_inbound_sms(_sms_event(sample, (PATIENT, "STOP")), lambda_context)
    confirmations = _to(aws, PATIENT)
    assert len(confirmations) <= 1
    for text in confirmations:
        assert "START" in text.upper()  # how to come back


SPELLINGS: list[Callable[[str], str]] = [str.upper, str.lower, str.title, lambda w: f"  {w.lower()}.\n"]


@pytest.mark.parametrize("word", STOP_WORDS)
def test_every_stop_word_opts_out_whatever_the_case(
    aws: Any, sample: dict[str, Any], lambda_context: Any, word: str
) -> None:
    senders = [f"+1202555011{i}" for i in range(len(SPELLINGS))]
    event = _sms_event(sample, *((to, spell(word)) for to, spell in zip(senders, SPELLINGS, strict=True)))
    assert handle_inbound_sms(event, lambda_context) == {"batchItemFailures": []}
    assert [sms_opted_out(to) for to in senders] == [True] * len(SPELLINGS)


def test_cancel_is_an_opt_out_not_an_appointment_cancellation(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    handle_inbound_sms(_sms_event(sample, (PATIENT, "Cancel")), lambda_context)
    assert sms_opted_out(PATIENT) is True


@pytest.mark.parametrize("word", ["HELP", "help", "Info"])
def test_help_sends_one_sms_with_clinic_name_number_and_opt_out(
    aws: Any, sample: dict[str, Any], lambda_context: Any, word: str
) -> None:
    assert handle_inbound_sms(_sms_event(sample, (PATIENT, word)), lambda_context) == {"batchItemFailures": []}
    assert [to for to, _ in aws.sent_sms()] == [PATIENT]
    (text,) = _to(aws, PATIENT)
    settings = get_settings()
    assert settings.clinic_name in text
    assert _digits(settings.clinic_phone)[-10:] in _digits(text)  # in any format
    assert "STOP" in text
    assert len(text) <= 160  # one SMS segment
    assert sms_opted_out(PATIENT) is False


def test_help_delivered_twice_is_answered_once(aws: Any, sample: dict[str, Any], lambda_context: Any) -> None:
    event = _sms_event(sample, (PATIENT, "HELP"))
    handle_inbound_sms(event, lambda_context)
    handle_inbound_sms(event, lambda_context)  # SQS at-least-once
    assert len(_to(aws, PATIENT)) == 1


def test_help_answer_carries_no_clinical_wording(aws: Any, sample: dict[str, Any], lambda_context: Any) -> None:
    handle_inbound_sms(_sms_event(sample, (PATIENT, "HELP")), lambda_context)
    (text,) = _to(aws, PATIENT)
    for word in ("mental", "depression", "anxiety", "IOP", "therapy", "psychiatr", "PHQ", "diagnos"):
        assert word.lower() not in text.lower()


def test_help_through_a_fake_port(aws: Any, sample: dict[str, Any]) -> None:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from functions.inbound.handler import handle_sms

    sms = RecordingSms()
    record = SQSRecord(_sms_event(sample, (OTHER, "help"))["Records"][0])
    handle_sms(record, sms)
    assert [to for to, _ in sms.sent] == [OTHER]
    assert aws.sent_sms() == []


def test_an_opted_out_number_gets_no_reply_to_ordinary_text(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    set_sms_opt_out(PATIENT, True, datetime(2026, 3, 1, tzinfo=UTC))
    event = _sms_event(sample, (PATIENT, "See you Tuesday"), (OTHER, "Thanks, see you then"))
    assert handle_inbound_sms(event, lambda_context) == {"batchItemFailures": []}
    assert sms_opted_out(PATIENT) is True  # an ordinary reply does not opt back in
    assert sms_opted_out(OTHER) is False  # nor out
    assert _to(aws, PATIENT) == []


def test_the_dispatchers_batch_read_sees_the_same_ledger_as_one_number(aws: Any) -> None:
    numbers = [f"+1212555{n:04d}" for n in range(150)]  # more than one BatchGetItem of 100
    set_sms_opt_out(numbers[3], True, datetime(2026, 3, 1, tzinfo=UTC))
    set_sms_opt_out(numbers[120], True, datetime(2026, 3, 1, tzinfo=UTC))
    set_sms_opt_out(numbers[7], True, datetime(2026, 3, 1, tzinfo=UTC))
    set_sms_opt_out(numbers[7], False, datetime(2026, 3, 2, tzinfo=UTC))  # START again
    assert sms_opted_out_many(numbers + numbers[:5]) == {numbers[3], numbers[120]}
    assert {n for n in numbers if sms_opted_out(n)} == {numbers[3], numbers[120]}


def test_raw_message_delivery_is_understood_too(aws: Any, sample: dict[str, Any], lambda_context: Any) -> None:
    event = _sms_event(sample, (PATIENT, "STOP"))
    record = event["Records"][0]
    record["body"] = json.loads(record["body"])["Message"]  # RawMessageDelivery: the bare payload
    assert handle_inbound_sms(event, lambda_context) == {"batchItemFailures": []}
    assert sms_opted_out(PATIENT) is True


def test_malformed_messages_are_reported_and_the_good_one_still_handled(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    event = _sms_event(sample, (PATIENT, "STOP"), (OTHER, "x"), (OTHER, "y"), (OTHER, "z"))
    _good, not_json, no_body, inner_not_json = event["Records"]
    not_json["body"] = "not json"
    envelope = json.loads(no_body["body"])
    envelope["Message"] = json.dumps({"originationNumber": OTHER})
    no_body["body"] = json.dumps(envelope)
    envelope = json.loads(inner_not_json["body"])
    envelope["Message"] = "STOP"
    inner_not_json["body"] = json.dumps(envelope)
    result = handle_inbound_sms(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        r["messageId"] for r in (not_json, no_body, inner_not_json)
    )
    assert sms_opted_out(PATIENT) is True
    assert sms_opted_out(OTHER) is False


def test_the_opt_out_is_stored_not_cached_so_a_new_container_sees_it(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    from functions.core import aws as aws_clients
    from functions.core import models, settings

    handle_inbound_sms(_sms_event(sample, (PATIENT, "STOP")), lambda_context)
    settings.reset_settings()
    aws_clients.reset_clients()
    models.unbind_models()
    assert sms_opted_out(PATIENT) is True


def _sent_at(event: dict[str, Any], when: str, epoch_ms: int) -> dict[str, Any]:
    """Stamp every record with the time the patient's SMS was received (SNS Timestamp, SQS SentTimestamp)."""
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        envelope["Timestamp"] = when
        record["body"] = json.dumps(envelope, indent=2, separators=(",", " : "))
        record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
        record["attributes"]["SentTimestamp"] = str(epoch_ms)
    return event


def test_a_late_redelivered_start_does_not_undo_a_newer_stop(
    aws: Any, sample: dict[str, Any], lambda_context: Any
) -> None:
    start = _sent_at(_sms_event(sample, (PATIENT, "START")), "2026-03-02T14:06:00.000Z", 1772460360000)
    stop = _sent_at(_sms_event(sample, (PATIENT, "STOP")), "2026-03-02T14:07:00.000Z", 1772460420000)
    start["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"  # its first try failed
    handle_inbound_sms(stop, lambda_context)
    handle_inbound_sms(start, lambda_context)
    assert sms_opted_out(PATIENT) is True
