"""SqsPublisher against moto: queue messages and their attributes carry ids only, never PHI."""

from __future__ import annotations

import json
import re
from typing import Any

from functions.core.queues import SqsPublisher
from functions.core.settings import get_settings

ID = re.compile(r"[A-Za-z0-9_:#-]+")


def test_a_published_message_has_no_attributes_but_the_dedup_id(aws: Any) -> None:
    url = get_settings().crisis_queue_url
    publisher = SqsPublisher()
    publisher.publish(
        url,
        {
            "case_id": "cas_01KJQ6W5B2C4D6E8F0G1H3J5K7",
            "type": "case_opened",
            "event_id": "evt_01KJQ6W5B3M8N0P2Q4R6S8T0V2",
        },
        dedup_id="evt_01KJQ6W5B3M8N0P2Q4R6S8T0V2",
    )
    publisher.publish(url, {"case_id": "cas_01KJQ6W5B2C4D6E8F0G1H3J5K7", "type": "ack_due", "event_id": "due-1"})
    messages = aws.receive_all("crisis-events")
    assert len(messages) == 2
    for message in messages:
        attributes = message.get("MessageAttributes", {})
        assert set(attributes) <= {"dedup_id"}
        for value in attributes.values():
            assert value["DataType"] == "String"
            assert ID.fullmatch(value["StringValue"])
        body = json.loads(message["Body"])
        assert all(ID.fullmatch(str(v)) for v in body.values())
    with_id = [m for m in messages if m.get("MessageAttributes")]
    assert [m["MessageAttributes"]["dedup_id"]["StringValue"] for m in with_id] == ["evt_01KJQ6W5B3M8N0P2Q4R6S8T0V2"]


def test_an_ack_deadline_beyond_fifteen_minutes_is_clamped_not_refused(aws: Any) -> None:
    url = get_settings().insurance_queue_url
    message_id = SqsPublisher().publish(url, {"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"}, delay_seconds=3600)
    assert message_id
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_messages_reach_the_queue_the_settings_name(aws: Any) -> None:
    SqsPublisher().publish(get_settings().insurance_queue_url, {"intake_id": "itk_1"})
    assert [json.loads(m["Body"]) for m in aws.receive_all("insurance-checks")] == [{"intake_id": "itk_1"}]
    assert aws.receive_all("crisis-events") == []
