"""local/emulator.py answers exactly as moto does: the mends change what moto costs, not what it says.

Each case runs the same calls twice on fresh moto, once with moto as shipped and once mended, and
compares every answer and the tables (and stream records) left behind.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import emulator

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


@pytest.fixture
def shipped() -> Iterator[None]:
    """moto as shipped for the test (the suite installs the mends: tests/conftest.py)."""
    was = emulator.installed()
    emulator.uninstall()
    yield
    if was:
        emulator.install()


def _tables(ddb: Any) -> None:
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.create_table(TableName="h", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])


def _state(ddb: Any) -> dict[str, Any]:
    """Every item of both tables and every stream record, as the API shows them."""
    out: dict[str, Any] = {}
    for name in ("t", "h"):
        items = ddb.scan(TableName=name)["Items"]
        out[name] = sorted(items, key=lambda i: (i["pk"]["S"], i.get("sk", {}).get("S", "")))
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[ACCOUNT_ID][REGION].tables["t"].stream_shard
    records = [r.to_json() for r in shard.items]
    out["stream"] = [(r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"),
                      r["dynamodb"].get("OldImage")) for r in records]
    return out


def _answer(call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        response = call(**kwargs)
    except ClientError as error:
        return ("error", error.response["Error"]["Code"],
                [r.get("Code") for r in error.response.get("CancellationReasons", [])])
    response.pop("ResponseMetadata", None)
    return response


def _script(seed: int) -> Callable[[Any], list[Any]]:
    """A seeded mix of puts, deletes, transactions (some cancelled) and queries; returns every answer."""

    def run(ddb: Any) -> list[Any]:
        rng = random.Random(seed)
        answers: list[Any] = []
        pks = [f"P#{n}" for n in range(6)]
        for step in range(120):
            pk, sk = rng.choice(pks), f"S#{rng.randrange(8):02d}"
            kind = rng.random()
            if kind < 0.35:
                answers.append(_answer(ddb.put_item,
                    TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}, "g": {"S": rng.choice("ab")},
                                         "n": {"N": str(step)}}))
            elif kind < 0.45:
                answers.append(_answer(ddb.delete_item,
                    TableName="t", Key={"pk": {"S": pk}, "sk": {"S": sk}}))
            elif kind < 0.75:
                other = f"S#{rng.randrange(8):02d}"
                items: list[dict[str, Any]] = [
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(step)}}}},
                    {"Put": {"TableName": "h", "Item": {"pk": {"S": f"H#{step % 5}"}, "n": {"N": str(step)}},
                             "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Update": {"TableName": "t", "Key": {"pk": {"S": "P#0"}, "sk": {"S": other}},
                                "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                ]
                if rng.random() < 0.3:
                    items.append({"Delete": {"TableName": "h", "Key": {"pk": {"S": f"H#{rng.randrange(5)}"}}}})
                if rng.random() < 0.1:  # the same item twice: refused as a whole
                    items.append({"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                                                     "ConditionExpression": "attribute_exists(pk)"}})
                answers.append(_answer(ddb.transact_write_items, TransactItems=items))
            else:
                forward = rng.random() < 0.5
                answers.append(_answer(ddb.query,
                    TableName="t", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                    ExpressionAttributeValues={":p": {"S": pk}, ":a": {"S": "S#02"}, ":b": {"S": "S#06"}},
                    ScanIndexForward=forward, Limit=rng.choice([1, 2, 100])))
                answers.append(_answer(ddb.query,
                    TableName="h", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": f"H#{rng.randrange(5)}"}}))
                answers.append(_answer(ddb.query,
                    TableName="t", IndexName="by-g", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "a"}}))
        pages = ddb.get_paginator("query").paginate(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#0"}},
            PaginationConfig={"PageSize": 2})
        answers.append([page["Items"] for page in pages])
        answers.append(_answer(ddb.query,
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#none"}}))
        return answers

    return run


def _run(script: Callable[[Any], list[Any]], mended: bool) -> tuple[list[Any], dict[str, Any]]:
    if mended:
        emulator.install()
    else:
        emulator.uninstall()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        _tables(ddb)
        answers = script(ddb)
        return answers, _state(ddb)


@pytest.mark.parametrize("seed", range(6))
def test_mended_emulator_answers_as_moto_does(shipped: None, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    as_shipped = _run(_script(seed), mended=False)
    mended = _run(_script(seed), mended=True)
    cancelled = [a for a in as_shipped[0] if isinstance(a, tuple) and a[1] == "TransactionCanceledException"]
    assert cancelled, "the script must cancel some transactions, or the rollback is not compared"
    assert mended[0] == as_shipped[0]
    assert mended[1] == as_shipped[1]


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(shipped: None,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    emulator.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        _tables(ddb)
        ddb.put_item(TableName="t", Item={"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"S": "before"}})
        ddb.put_item(TableName="h", Item={"pk": {"S": "taken"}})
        before = _state(ddb)
        with pytest.raises(ClientError) as raised:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"S": "after"}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "A"}, "sk": {"S": "0"}}}},
                {"Put": {"TableName": "h", "Item": {"pk": {"S": "taken"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert _state(ddb) == before
