"""Least privilege, proven on the packaged template (``build/template.json`` as ``make deploy`` ships it).

Each function's role is read back from the template and reduced to (action, resource) pairs, then
compared with the table below, written by hand from docs/security.md: a template change that widens
what a function may touch fails here until the table (and the review behind it) changes too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.build import build

RW = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "ConditionCheckItem", "BatchGetItem"}
RO = {"GetItem", "Query", "BatchGetItem"}
SEND = "sqs:SendMessage"
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
SMS = ("sns:Publish", "NotResource arn:aws:sns:*:*:*")  # phone numbers only, never a topic
EMAIL = {("ses:SendEmail", "ses identity/*"), ("ses:SendRawEmail", "ses identity/*")}

# function -> tables (actions on the table and its indexes), queues it sends to, queue it consumes,
# secrets it reads, SMS, email, stream it reads.
EXPECTED: dict[str, dict[str, Any]] = {
    "APIHandler": {"name": "api-handler",
                   "tables": {"IntakesTable": RW, "CrisisTable": RW, "RemindersTable": RW,
                              "EligibilityTable": RO | {"DeleteItem"}, "ContactsTable": RO,
                              "AuditTable": {"PutItem", "Query"}},
                   "send": {"InsuranceChecksQueue", "CrisisEventsQueue"}, "consume": None,
                   "secrets": {"SigningSecret"}, "sms": False, "email": True},
    "CheckInsurance": {"name": "check-insurance",
                       "tables": {"EligibilityTable": RW, "IntakesTable": RO},
                       "send": {"InsuranceChecksQueue"}, "consume": "InsuranceChecksQueue",
                       "secrets": {"SigningSecret", "EligibilityApiSecret"}, "sms": False, "email": True},
    "DispatchReminders": {"name": "dispatch-reminders",
                          "tables": {"RemindersTable": RW, "ContactsTable": RO, "IntakesTable": RO},
                          "send": set(), "consume": None, "secrets": {"SigningSecret"}, "sms": True, "email": True},
    "HandleInboundSms": {"name": "handle-inbound-sms",
                         "tables": {"ContactsTable": RW, "RemindersTable": RW, "CrisisTable": RW, "IntakesTable": RO},
                         "send": {"CrisisEventsQueue"}, "consume": "InboundSmsQueue",
                         "secrets": {"SigningSecret"}, "sms": True, "email": False},
    "EscalateCrisis": {"name": "escalate-crisis",
                       "tables": {"CrisisTable": RW, "IntakesTable": RO | {"DeleteItem"}, "ContactsTable": RO},
                       "send": {"CrisisEventsQueue", "InsuranceChecksQueue"}, "consume": "CrisisEventsQueue",
                       "secrets": {"SigningSecret"}, "sms": True, "email": True},
    "RelayOutbox": {"name": "relay-outbox",
                    "tables": {"IntakesTable": {"BatchGetItem", "DeleteItem"}},
                    "send": {"InsuranceChecksQueue", "CrisisEventsQueue", "RelayOutboxFailureQueue"},
                    "consume": None, "secrets": set(), "sms": False, "email": True, "stream": "IntakesTable"},
}


def expected_pairs(spec: dict[str, Any]) -> set[tuple[str, str]]:
    log_group = f"logs /aws/lambda/virtual-iop-${{Stage}}-{spec['name']}:*"
    pairs = {("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group),
             ("kms:Decrypt", "DataKey"), ("kms:GenerateDataKey", "DataKey")}
    for table, actions in spec["tables"].items():
        pairs |= {(f"dynamodb:{a}", where) for a in actions for where in (table, f"{table}/index/*")}
    pairs |= {(SEND, queue) for queue in spec["send"]}
    if spec["consume"]:
        pairs |= {(action, spec["consume"]) for action in CONSUME}
    pairs |= {("secretsmanager:GetSecretValue", secret) for secret in spec["secrets"]}
    if spec["sms"]:
        pairs.add(SMS)
    if spec["email"]:
        pairs |= EMAIL
    if spec.get("stream"):
        pairs |= {(f"dynamodb:{a}", f"{spec['stream']}/stream")
                  for a in ("DescribeStream", "GetRecords", "GetShardIterator")}
        pairs.add(("dynamodb:ListStreams", "*"))
    return pairs


def label(resource: Any) -> str:
    """A template resource expression as a short, comparable label."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical, attribute = resource["Fn::GetAtt"]
        return logical if attribute == "Arn" else f"{logical}/stream" if attribute == "StreamArn" else str(resource)
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), list):
        text, names = resource["Fn::Sub"]
        if text == "${T}/index/*":
            return label(names["T"]) + "/index/*"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        text = resource["Fn::Sub"]
        prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        if text.startswith(prefix):
            return "logs " + text.removeprefix(prefix)
        if text == "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*":
            return "ses identity/*"
    return json.dumps(resource, sort_keys=True)


def pairs_of(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "NotResource" in statement:
            pairs |= {(a, f"NotResource {statement['NotResource']}") for a in actions}
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        pairs |= {(a, label(r)) for a in actions for r in resources}
    return pairs


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = build(tmp_path_factory.mktemp("least-privilege"))
    template: dict[str, Any] = json.loads(Path(result.template).read_text())
    return dict(template["Resources"])


def role_of(resources: dict[str, Any], function: str) -> dict[str, Any]:
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"]
    assert role[1] == "Arn"
    props: dict[str, Any] = resources[role[0]]["Properties"]
    return props


def test_every_function_is_in_the_table(resources: dict[str, Any]) -> None:
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(EXPECTED)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_each_function_may_touch_exactly_what_its_workflow_needs(resources: dict[str, Any], function: str) -> None:
    role = role_of(resources, function)
    assert not role.get("ManagedPolicyArns"), "no managed policies: they grant more than the function uses"
    assert len(role["Policies"]) == 1
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert {s["Effect"] for s in statements} == {"Allow"}
    actual = pairs_of(statements)
    expected = expected_pairs(EXPECTED[function])
    assert actual - expected == set(), "granted beyond the table"
    assert expected - actual == set(), "the table expects access the role lacks (the function would fail)"


def test_each_function_has_a_role_of_its_own(resources: dict[str, Any]) -> None:
    roles = [resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in EXPECTED]
    assert len(set(roles)) == len(roles)


def test_no_role_in_the_stack_may_scan_or_use_wildcard_actions(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "dynamodb:Scan" not in actions, name
                assert not any(a.endswith("*") for a in actions), (name, actions)


def test_data_actions_never_name_every_resource(resources: dict[str, Any]) -> None:
    for function in EXPECTED:
        for action, where in pairs_of(role_of(resources, function)["Policies"][0]["PolicyDocument"]["Statement"]):
            if where == "*":
                # ListStreams accepts no resource; it returns stream ARNs, no data.
                assert action == "dynamodb:ListStreams", (function, action)


def test_each_function_writes_only_its_own_encrypted_log_group(resources: dict[str, Any]) -> None:
    for function, spec in EXPECTED.items():
        name = f"virtual-iop-${{Stage}}-{spec['name']}"
        assert resources[function]["Properties"]["FunctionName"] == {"Fn::Sub": name}
        group = resources[function + "LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_function_pages_ops_on_errors_and_throttles(resources: dict[str, Any]) -> None:
    for function, spec in EXPECTED.items():
        for metric in ("Errors", "Throttles"):
            alarm = resources[f"{function}{metric}Alarm"]["Properties"]
            assert alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName",
                                            "Value": {"Fn::Sub": f"virtual-iop-${{Stage}}-{spec['name']}"}}]
            assert alarm["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}]


def test_eligibility_api_failures_page_ops_on_the_metric_the_workflow_emits(resources: dict[str, Any]) -> None:
    from functions.insurance.service import ELIGIBILITY_API_FAILURE

    alarm = resources["EligibilityApiFailingAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("VirtualIOP", ELIGIBILITY_API_FAILURE)
    assert alarm["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}]


# --------------------------------------------------------------------------- the PHI access audit
AUDIT_CHANGES = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                 "dynamodb:TransactWriteItems", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
                 "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
                 "dynamodb:RestoreTableToPointInTime", "dynamodb:UpdateContinuousBackups"}


def test_no_role_in_the_stack_may_change_or_delete_an_audit_record(resources: dict[str, Any]) -> None:
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for action, where in pairs_of(policy["PolicyDocument"]["Statement"]):
                if where.startswith("AuditTable"):  # append and read, nothing else
                    assert action in {"dynamodb:PutItem", "dynamodb:Query"}, f"{logical} may {action} {where}"
                if where == "*":
                    assert action not in AUDIT_CHANGES, f"{logical} may {action} every table"


def test_the_audit_table_is_encrypted_kept_and_never_expires(resources: dict[str, Any]) -> None:
    table = resources["AuditTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "DataKey"}
    assert "TimeToLiveSpecification" not in props  # kept at least 6 years: nothing expires it


def test_staff_roles_are_the_user_pools_groups(resources: dict[str, Any]) -> None:
    groups = {r["Properties"]["GroupName"]: r["Properties"] for r in resources.values()
              if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert set(groups) == {"admin", "clinician", "intake"}
    assert all(g["UserPoolId"] == {"Ref": "StaffUserPool"} for g in groups.values())
    assert groups["admin"]["Precedence"] < groups["clinician"]["Precedence"] < groups["intake"]["Precedence"]
