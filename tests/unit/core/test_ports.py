"""Messaging and queue ports: the in-memory fakes behave like the adapters, and the adapters send
what AWS expects (checked with hand-written fake clients: no network, no moto)."""

from __future__ import annotations

import json
from email import message_from_bytes
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core.errors import OptedOutError, RetryableError
from functions.core.messaging import (
    Attachment,
    Email,
    EmailPort,
    SesEmail,
    SmsPort,
    SnsSms,
)
from functions.core.queues import MAX_DELAY_SECONDS, QueuePort, SqsPublisher
from tests.fakes import RecordingEmail, RecordingQueue, RecordingSms

PATIENT = "+12025550123"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/virtual-iop-test-crisis-events"


class FakeClient:
    """Records calls by operation; ``fail`` makes every call raise that ClientError code."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def _record(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise ClientError(
                {
                    "Error": {"Code": self.fail, "Message": f"about {PATIENT}"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )
        self.calls.append((operation, kwargs))
        return {"MessageId": f"id-{len(self.calls)}"}

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("Publish", kwargs)

    def send_email(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("SendEmail", kwargs)

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("SendMessage", kwargs)


# --------------------------------------------------------------------------- recording fakes


def test_recording_sms_records_in_order_and_returns_ids() -> None:
    sms = RecordingSms()
    port: SmsPort = sms
    assert port.send_sms(PATIENT, "Harbor Clinic: see you at 6 PM.") == "sms-1"
    assert port.send_sms("+13125550142", "second") == "sms-2"
    assert sms.sent == [(PATIENT, "Harbor Clinic: see you at 6 PM."), ("+13125550142", "second")]


def test_recording_sms_refuses_opted_out_numbers_like_sns() -> None:
    sms = RecordingSms(opted_out={PATIENT})
    with pytest.raises(OptedOutError):
        sms.send_sms(PATIENT, "hello")
    assert sms.sent == []
    sms.send_sms("+13125550142", "hello")
    assert len(sms.sent) == 1


def test_recording_sms_opt_outs_are_not_shared_between_instances() -> None:
    a, b = RecordingSms(), RecordingSms()
    a.opted_out.add(PATIENT)
    b.send_sms(PATIENT, "ok")
    assert b.sent == [(PATIENT, "ok")]


def test_recording_email_records_messages() -> None:
    mail = RecordingEmail()
    port: EmailPort = mail
    email = Email(to="jordan.sample@example.com", subject="Your session", text="See you soon.")
    assert port.send_email(email) == "email-1"
    assert mail.sent == [email]


def test_recording_queue_records_and_can_fail() -> None:
    queue = RecordingQueue()
    port: QueuePort = queue
    assert port.publish(QUEUE, {"case_id": "cas_1"}, delay_seconds=300, dedup_id="evt_1") == "msg-1"
    assert queue.messages == [(QUEUE, {"case_id": "cas_1"}, 300)]
    queue.fail = RetryableError("sqs.SendMessage failed: ServiceUnavailable")
    with pytest.raises(RetryableError):
        queue.publish(QUEUE, {"case_id": "cas_2"})
    assert len(queue.messages) == 1


# --------------------------------------------------------------------------- adapters


def test_sns_sms_is_transactional_to_the_number(aws_env: dict[str, str]) -> None:
    client = FakeClient()
    assert SnsSms(client).send_sms(PATIENT, "Harbor Clinic: reply C to confirm.") == "id-1"
    ((operation, kwargs),) = client.calls
    assert operation == "Publish"
    assert kwargs["PhoneNumber"] == PATIENT
    assert kwargs["Message"] == "Harbor Clinic: reply C to confirm."
    attributes = kwargs["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.SMSType"] == {"DataType": "String", "StringValue": "Transactional"}
    assert "AWS.MM.SMS.OriginationNumber" not in attributes
    assert "TopicArn" not in kwargs and "Subject" not in kwargs


def test_sns_sms_uses_the_origination_number_when_configured(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.core.settings import reset_settings

    monkeypatch.setenv("IOP_SMS_ORIGINATION_NUMBER", "+12025550100")
    reset_settings()
    client = FakeClient()
    SnsSms(client).send_sms(PATIENT, "hi")
    attributes = client.calls[0][1]["MessageAttributes"]
    assert attributes["AWS.MM.SMS.OriginationNumber"]["StringValue"] == "+12025550100"


def test_sns_sms_maps_opted_out_without_echoing_the_number(aws_env: dict[str, str]) -> None:
    with pytest.raises(OptedOutError) as caught:
        SnsSms(FakeClient(fail="OptedOut")).send_sms(PATIENT, "hi")
    assert PATIENT not in str(caught.value)


def test_sns_sms_maps_throttling_to_retryable(aws_env: dict[str, str]) -> None:
    with pytest.raises(RetryableError):
        SnsSms(FakeClient(fail="Throttling")).send_sms(PATIENT, "hi")


def test_ses_email_simple_content_from_the_configured_sender(aws_env: dict[str, str]) -> None:
    client = FakeClient()
    SesEmail(client).send_email(Email(to="jordan.sample@example.com", subject="Your session", text="Body"))
    ((operation, kwargs),) = client.calls
    assert operation == "SendEmail"
    assert kwargs["FromEmailAddress"] == aws_env["IOP_SENDER_EMAIL"]
    assert kwargs["Destination"] == {"ToAddresses": ["jordan.sample@example.com"]}
    simple = kwargs["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Your session"
    assert simple["Body"]["Text"]["Data"] == "Body"
    assert "ConfigurationSetName" not in kwargs


def test_ses_email_with_attachment_is_raw_mime(aws_env: dict[str, str]) -> None:
    client = FakeClient()
    invite = Attachment("session.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    SesEmail(client).send_email(
        Email(to="jordan.sample@example.com", subject="Invite", text="Attached.", attachments=(invite,))
    )
    raw = client.calls[0][1]["Content"]["Raw"]["Data"]
    message = message_from_bytes(raw)
    assert message["To"] == "jordan.sample@example.com"
    assert message["From"] == aws_env["IOP_SENDER_EMAIL"]
    assert message["Subject"] == "Invite"
    parts = [p for p in message.walk() if p.get_filename() == "session.ics"]
    assert len(parts) == 1 and parts[0].get_content_type() == "text/calendar"


def test_ses_email_uses_the_configuration_set_when_configured(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.core.settings import reset_settings

    monkeypatch.setenv("IOP_SES_CONFIGURATION_SET", "virtual-iop-test")
    reset_settings()
    client = FakeClient()
    SesEmail(client).send_email(Email(to="a@example.org", subject="s", text="t"))
    assert client.calls[0][1]["ConfigurationSetName"] == "virtual-iop-test"


def test_sqs_publisher_sends_compact_sorted_json_and_clamps_the_delay(aws_env: dict[str, str]) -> None:
    client = FakeClient()
    publisher = SqsPublisher(client)
    publisher.publish(QUEUE, {"type": "ack_due", "case_id": "cas_1"}, delay_seconds=3600)
    publisher.publish(QUEUE, {"case_id": "cas_1"}, delay_seconds=-5)
    first, second = (kwargs for _, kwargs in client.calls)
    assert first["MessageBody"] == '{"case_id":"cas_1","type":"ack_due"}'
    assert first["DelaySeconds"] == MAX_DELAY_SECONDS == 900
    assert second["DelaySeconds"] == 0
    assert "MessageAttributes" not in first


def test_sqs_publisher_attributes_carry_only_the_dedup_id(aws_env: dict[str, str]) -> None:
    client = FakeClient()
    SqsPublisher(client).publish(QUEUE, {"case_id": "cas_1"}, dedup_id="evt_01KJQ6W5B3M8N0P2Q4R6S8T0V2")
    kwargs = client.calls[0][1]
    assert kwargs["MessageAttributes"] == {
        "dedup_id": {"DataType": "String", "StringValue": "evt_01KJQ6W5B3M8N0P2Q4R6S8T0V2"}
    }
    assert json.loads(kwargs["MessageBody"]) == {"case_id": "cas_1"}
