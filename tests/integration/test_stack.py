"""The ``aws`` fixture provisions moto exactly as ``infra/merge-template.json`` declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from functions.core.secrets import get_secret
from functions.core.settings import get_settings

TEMPLATE = json.loads((Path(__file__).resolve().parents[2] / "infra" / "merge-template.json").read_text())
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def _of_type(rtype: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in RESOURCES.items() if v.get("Type") == rtype}


def _table_name(props: dict[str, Any]) -> str:
    return str(props["TableName"]["Fn::Sub"]).replace("${Stage}", "test")


def test_every_table_exists_with_the_template_keys_and_indexes(aws: Any) -> None:
    tables = _of_type("AWS::DynamoDB::Table")
    assert len(tables) == 6  # the five workflow tables and the audit table
    for props in tables.values():
        desc = aws.dynamodb.describe_table(TableName=_table_name(props))["Table"]
        assert desc["KeySchema"] == props["KeySchema"]
        declared_attrs = {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]}
        assert {(a["AttributeName"], a["AttributeType"]) for a in desc["AttributeDefinitions"]} == declared_attrs
        declared = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
        actual = {g["IndexName"]: g for g in desc.get("GlobalSecondaryIndexes", [])}
        assert set(actual) == set(declared)
        for name, gsi in declared.items():
            assert actual[name]["KeySchema"] == gsi["KeySchema"]
            assert actual[name]["Projection"]["ProjectionType"] == gsi["Projection"]["ProjectionType"]
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_settings_name_the_provisioned_tables(aws: Any) -> None:
    s = get_settings()
    names = set(aws.dynamodb.list_tables()["TableNames"])
    for table in (
        s.intakes_table,
        s.crisis_table,
        s.reminders_table,
        s.contacts_table,
        s.eligibility_table,
        s.audit_table,
    ):
        assert table in names
        assert table.startswith("virtual-iop-test-")


def test_every_queue_redrives_to_its_dead_letter_queue_after_five_receives(aws: Any) -> None:
    s = get_settings()
    for url in (s.insurance_queue_url, s.crisis_queue_url, s.inbound_sms_queue_url):
        attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == 5
        dlq_name = redrive["deadLetterTargetArn"].rsplit(":", 1)[1]
        assert dlq_name == url.rsplit("/", 1)[1] + "-dlq"
        assert aws.dead_letter_queues[url].endswith("/" + dlq_name)
    declared = {p["QueueName"]["Fn::Sub"].replace("${Stage}", "test"): p for p in _of_type("AWS::SQS::Queue").values()}
    for name, props in declared.items():
        url = aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if "VisibilityTimeout" in props:
            assert int(attributes["VisibilityTimeout"]) == props["VisibilityTimeout"]


def test_the_signing_secret_is_random_and_readable_through_settings(aws: Any) -> None:
    value = get_secret(get_settings().signing_secret_id)
    assert len(value) >= 32
    described = aws.secretsmanager.describe_secret(SecretId=get_settings().signing_secret_id)
    assert described["Name"] == "virtual-iop/test/signing"


def test_the_sender_identity_is_verified(aws: Any) -> None:
    verified = aws.ses.list_verified_email_addresses()["VerifiedEmailAddresses"]
    assert get_settings().sender_email in verified


def test_inbound_sms_topic_feeds_the_inbound_queue(aws: Any) -> None:
    subscriptions = aws.sns.list_subscriptions_by_topic(TopicArn=aws.inbound_sms_topic_arn)["Subscriptions"]
    assert [s["Protocol"] for s in subscriptions] == ["sqs"]
    assert subscriptions[0]["Endpoint"].endswith(":virtual-iop-test-inbound-sms")


def test_staff_auth_is_local_and_no_endpoint_is_configured(aws: Any) -> None:
    s = get_settings()
    assert s.staff_auth == "local"
    assert s.endpoint_url is None
    assert s.stage == "test"


def test_a_saved_local_state_restores_its_tables_and_skips_one_no_longer_provisioned(aws: Any) -> None:
    """An older ``.local/state.json`` may name a table the template dropped (the idempotency table)."""
    from local import state

    intakes = aws.tables["intakes"]
    item = {"pk": {"S": "INTAKE#itk_x"}, "sk": {"S": "INTAKE"}, "kind": {"S": "intake"}}
    state.restore({"tables": {intakes: [item], "virtual-iop-test-idempotency": [{"id": {"S": "old"}}]}}, aws.clients)
    assert aws.dynamodb.get_item(TableName=intakes, Key={"pk": item["pk"], "sk": item["sk"]})["Item"] == item
