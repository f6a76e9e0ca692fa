"""Fixtures of the intake integration tests: the Chalice app's test client against moto (the
shared ``aws`` fixture of tests/conftest.py), readers for what was stored, an SQS outage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.intake.helpers import Api, Stream


@pytest.fixture
def stream(aws: Any, lambda_context: Any) -> Stream:
    """The intakes table's DynamoDB stream (``NEW_IMAGE``, as infra/merge-template.json declares it)
    and ``relay_outbox`` reading it as Lambda's event source mapping would: ``stream.relay()``."""
    table = aws.tables["intakes"]
    described = aws.dynamodb.describe_table(TableName=table)["Table"]
    if not described.get("StreamSpecification", {}).get("StreamEnabled"):  # tests/conftest.py skips it
        spec = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        described = aws.dynamodb.update_table(TableName=table, StreamSpecification=spec)["TableDescription"]
    import boto3

    # botocore would pick an account-based endpoint for a stream ARN (moto answers the regional one)
    streams = boto3.client(
        "dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
    )
    return Stream(streams, described["LatestStreamArn"], lambda_context)


@pytest.fixture
def api(aws: Any, fixed_clock: Any, monkeypatch: pytest.MonkeyPatch, stream: Stream) -> Iterator[Api]:
    """The app's test client. As in the local stack (local/stack.py), no API Gateway checks staff
    tokens here: the routes verify local bearer tokens themselves (IOP_STAFF_AUTH=local)."""
    from chalice.test import Client

    from app import app

    for methods in app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)
    with Client(app) as client:
        yield Api(client)


@pytest.fixture
def items(aws: Any) -> Callable[[str], list[dict[str, Any]]]:
    """``items("intakes")``: every item of a table, as plain dicts (``data`` decoded)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()

    def read(table: str) -> list[dict[str, Any]]:
        found = aws.dynamodb.scan(TableName=aws.tables[table], ConsistentRead=True)["Items"]
        rows = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in found]
        for row in rows:
            if isinstance(row.get("data"), str):
                row["data"] = json.loads(row["data"])
        return rows

    return read


@pytest.fixture
def sqs_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``sqs_down(True)``: every SQS SendMessage fails as if the endpoint were unreachable."""
    from botocore.client import BaseClient
    from botocore.exceptions import EndpointConnectionError

    original = BaseClient._make_api_call
    state = {"down": False}

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if state["down"] and operation_name == "SendMessage":
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)

    def set_down(down: bool) -> None:
        state["down"] = down

    return set_down
