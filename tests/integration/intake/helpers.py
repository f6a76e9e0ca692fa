"""Helpers of the intake integration tests: a valid form, the API client, readers."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

ORIGIN = "https://www.clinic.example"

VALID_FORM: dict[str, Any] = {
    "patient": {
        "first_name": "Zelda",
        "last_name": "Quixotica",
        "date_of_birth": "1987-09-14",
        "email": "zelda.quixotica@example.org",
        "phone": "(212) 555-0187",
        "timezone": "America/New_York",
        "address": {"line1": "41 Orchard Lane", "city": "Albany", "state": "NY", "postal_code": "12207"},
    },
    "current_location": {"same_as_address": True},
    "emergency_contact": {"name": "Marlowe Quixotica", "relationship": "sister", "phone": "+1 518 555 0163"},
    "insurance": {
        "payer_id": "60054",
        "payer_name": "Aetna",
        "member_id": "WQX88231907",
        "group_number": "GRP-4471",
        "subscriber_relationship": "self",
    },
    "screening": {
        "phq9": [2, 2, 1, 2, 1, 1, 2, 1, 0],
        "gad7": [2, 1, 2, 1, 1, 1, 1],
        "cssrs": {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False},
    },
    "preferences": {"channels": ["sms", "email"], "session_times": ["evening"], "language": "en"},
    "consent": {"telehealth": True, "privacy_notice": True, "sms": True, "email": True, "signature": "Zelda Quixotica"},
}
# What a log line must never contain (the form's personal data, as typed and as stored).
PHI_VALUES = (
    "Zelda",
    "Quixotica",
    "zelda.quixotica@example.org",
    "(212) 555-0187",
    "+12125550187",
    "2125550187",
    "1987-09-14",
    "WQX88231907",
    "41 Orchard Lane",
    "Marlowe",
    "+15185550163",
    "GRP-4471",
)


def form(**changes: Any) -> dict[str, Any]:
    """A fresh valid form; ``risky=True`` answers PHQ-9 item 9 with 2, ``self_pay=True`` drops insurance."""
    data = copy.deepcopy(VALID_FORM)
    if changes.pop("risky", False):
        data["screening"]["phq9"][8] = 2
    if changes.pop("self_pay", False):
        del data["insurance"]
    if changes:
        raise TypeError(f"unknown changes: {sorted(changes)}")
    return data


@dataclass
class Api:
    client: Any

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        headers: dict[str, str | None] | None = None,
        key: str | None = None,
    ) -> Any:
        """POST JSON; ``headers={"Content-Type": None}`` leaves a default header out."""
        sent: dict[str, str | None] = {"Content-Type": "application/json", "Origin": ORIGIN}
        if key is not None:
            sent["Idempotency-Key"] = key
        sent.update(headers or {})
        payload = raw if raw is not None else json.dumps(body)
        kept = {name: value for name, value in sent.items() if value is not None}
        return self.client.http.post(path, headers=kept, body=payload)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.http.get(path, headers={"Origin": ORIGIN, **(headers or {})})

    def options(self, path: str, origin: str = ORIGIN) -> Any:
        return self.client.http.request(
            "OPTIONS",
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,idempotency-key",
            },
        )


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def of_kind(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("kind") == kind]


def bodies(aws: Any, queue: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in aws.receive_all(queue)]


@dataclass
class Stream:
    """A DynamoDB stream read the way Lambda's event source mapping reads it (after the last
    record handed over), and ``relay_outbox`` invoked with those records."""

    client: Any
    arn: str
    context: Any
    after: str | None = None

    def records(self) -> list[dict[str, Any]]:
        """Records written since the last call, as Lambda hands them to the function."""
        found: list[dict[str, Any]] = []
        for shard in self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.after}
                if self.after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"], **position)
            for record in self.client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]:
                record["dynamodb"].pop("ApproximateCreationDateTime", None)
                found.append({**record, "eventSourceARN": self.arn})
        if found:
            self.after = found[-1]["dynamodb"]["SequenceNumber"]
        return found

    def invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        from functions.intake.handler import relay_outbox

        result: dict[str, Any] = relay_outbox({"Records": records}, self.context)
        return result

    def relay(self) -> dict[str, Any]:
        """Hand every new record to ``relay_outbox``; its response (``batchItemFailures``)."""
        return self.invoke(self.records())
