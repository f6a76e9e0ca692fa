"""Helpers of the intake integration tests: the API client, readers, the form's PHI values.

The valid form is tests/factories.py ``intake_form``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.factories import VALID_FORM as VALID_FORM  # re-export: tests/integration/test_patient_records.py
from tests.factories import intake_form

form = intake_form  # re-export: tests/e2e/test_staff_page.py

ORIGIN = "https://www.clinic.example"

# What a log line must never contain (tests/factories.py's form: its personal data, as typed and as stored).
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
