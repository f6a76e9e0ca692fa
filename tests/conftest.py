"""Shared fixtures: a clean AWS environment, moto provisioned from the merge template, sample events.

- ``aws_env``: environment variables for stage ``test`` (no AWS needed; unit tests that read settings).
- ``aws``: ``aws_env`` plus moto (``mock_aws``) provisioned from ``infra/merge-template.json``: the
  tables with their keys, GSIs and TTL exactly as declared, the queues with their dead-letter
  queues and redrive policies, the SNS topics and subscriptions, the secrets (the signing secret
  gets a random value), a verified SES sender; the functions' environment is the one the template
  gives them (``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` resolved), with ``IOP_STAFF_AUTH=local``.
  Resource types the data plane does not need (IAM, logs, alarms, Cognito, API Gateway, KMS) are
  skipped, so additions to the template never break the tests.
- ``lambda_context``: what Lambda passes as ``context``.
- ``load_event``: ``load_event("sqs_insurance_check")`` reads ``events/sqs_insurance_check.json``.
- ``api_calls``: every AWS operation made during the test, as ``(service, operation)``.
- ``fixed_clock``: every function reads this clock; restored to the system clock afterwards.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
if str(ROOT) not in sys.path:  # app.py lives at the repository root
    sys.path.insert(0, str(ROOT))
from local import emulator  # noqa: E402 - after sys.path: moto's DynamoDB with DynamoDB's costs

emulator.install()  # the local stack runs the same mends (local/emulator.py, tests/integration/test_emulator.py)
pytest_plugins = ["tests.phi_guard"]  # fails a test whose code emits synthetic PHI (tests/phi_guard.py)

STAGE = "test"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
SENDER_EMAIL = "no-reply@clinic.example"

TABLE_VARS = {
    "IOP_INTAKES_TABLE": "intakes",
    "IOP_CRISIS_TABLE": "crisis",
    "IOP_REMINDERS_TABLE": "reminders",
    "IOP_CONTACTS_TABLE": "contacts",
    "IOP_ELIGIBILITY_TABLE": "eligibility",
    "IOP_AUDIT_TABLE": "audit",
}
QUEUE_VARS = {
    "IOP_INSURANCE_QUEUE_URL": "insurance-checks",
    "IOP_CRISIS_QUEUE_URL": "crisis-events",
    "IOP_INBOUND_SMS_QUEUE_URL": "inbound-sms",
}
# Variables that could point a test at a real account or endpoint: removed for every test.
_UNSAFE_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def queue_url(short_name: str, stage: str = STAGE) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/virtual-iop-{stage}-{short_name}"


def base_env(stage: str = STAGE) -> dict[str, str]:
    """Every variable ``functions.core.settings`` requires, for ``stage``, plus fake credentials."""
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(ROOT / ".no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(ROOT / ".no-aws-credentials"),
        "IOP_STAGE": stage,
        "IOP_SIGNING_SECRET_ID": f"virtual-iop/{stage}/signing",
        "IOP_SENDER_EMAIL": SENDER_EMAIL,
        "IOP_INTAKE_STAFF_EMAIL": "intake@clinic.example",
        "IOP_CARE_TEAM_EMAIL": "care-team@clinic.example",
        "IOP_CLINIC_NAME": "Harbor Clinic",
        "IOP_CLINIC_PHONE": "+12025550100",
        "IOP_PUBLIC_BASE_URL": "https://www.clinic.example",
        "IOP_ALLOWED_ORIGINS": "https://www.clinic.example",
        "IOP_STAFF_AUTH": "local",
    }
    env.update({var: f"virtual-iop-{stage}-{name}" for var, name in TABLE_VARS.items()})
    env.update({var: queue_url(name, stage) for var, name in QUEUE_VARS.items()})
    return env


def reset_caches() -> None:
    """Forget every per-container cache of the shared kernel (settings, clients, models, secrets)."""
    from functions.core import aws, models, secrets, settings

    settings.reset_settings()
    aws.reset_clients()
    models.unbind_models()
    secrets.forget_secrets()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A complete, offline environment for stage ``test``; returns the variables it set."""
    for var in list(os.environ):
        if var.startswith("IOP_") or var in _UNSAFE_VARS:
            monkeypatch.delenv(var, raising=False)
    env = base_env()
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    reset_caches()
    yield env
    reset_caches()


# --------------------------------------------------------------------------- the template reader
MERGE_TEMPLATE = ROOT / "infra" / "merge-template.json"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "virtual-iop-test",
    "AWS::URLSuffix": "amazonaws.com",
}


class _Template:
    """Just enough CloudFormation to stand the data plane of the merge template up in moto."""

    def __init__(self, template: dict[str, Any], stage: str, clients: dict[str, Any]) -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
        self.params["Stage"] = stage
        self.clients = clients
        self.refs: dict[str, str] = {}
        self.attrs: dict[tuple[str, str], str] = {}
        self.dead_letter_queues: dict[str, str] = {}

    def of_type(self, rtype: str) -> list[tuple[str, dict[str, Any]]]:
        return [(k, v.get("Properties", {})) for k, v in self.resources.items() if v.get("Type") == rtype]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self.params.get(arg) if arg in self.params else _PSEUDO.get(arg) or self.refs[arg]
            if fn == "Fn::GetAtt":
                return self.attrs[(arg[0], arg[1])]
            if fn == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if fn == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in local:
                        return str(local[name])
                    if "." in name:
                        resource, attribute = name.split(".", 1)
                        return self.attrs[(resource, attribute)]
                    return str(self.resolve({"Ref": name}))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
        return {k: self.resolve(v) for k, v in value.items()}

    def tables(self) -> None:
        ddb = self.clients["dynamodb"]
        for logical, props in self.of_type("AWS::DynamoDB::Table"):
            p = self.resolve({k: v for k, v in props.items() if k != "SSESpecification"})
            kwargs = {
                k: p[k]
                for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
                if k in p
            }
            desc = ddb.create_table(**kwargs)["TableDescription"]
            if "TimeToLiveSpecification" in p:
                ddb.update_time_to_live(TableName=p["TableName"], TimeToLiveSpecification=p["TimeToLiveSpecification"])
            self.refs[logical] = p["TableName"]
            self.attrs[(logical, "Arn")] = desc["TableArn"]

    def queues(self) -> None:
        sqs = self.clients["sqs"]
        queues = self.of_type("AWS::SQS::Queue")
        # dead-letter queues (no redrive of their own) before the queues that redrive into them
        for logical, props in sorted(queues, key=lambda q: "RedrivePolicy" in q[1]):
            name = self.resolve(props["QueueName"])
            attributes: dict[str, str] = {
                k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds") if k in props
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.refs[logical] = url
            self.attrs[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
            self.attrs[(logical, "QueueName")] = name
            self.attrs[(logical, "QueueUrl")] = url
        by_arn = {arn: self.refs[logical] for (logical, att), arn in self.attrs.items() if att == "Arn"}
        for logical, props in queues:
            if "RedrivePolicy" in props:
                dlq_arn = self.resolve(props["RedrivePolicy"])["deadLetterTargetArn"]
                self.dead_letter_queues[self.refs[logical]] = by_arn[dlq_arn]

    def topics(self) -> None:
        sns = self.clients["sns"]
        for logical, props in self.of_type("AWS::SNS::Topic"):
            topic_arn = sns.create_topic(Name=self.resolve(props["TopicName"]))["TopicArn"]
            self.refs[logical] = topic_arn
            self.attrs[(logical, "TopicName")] = self.resolve(props["TopicName"])
        for _, props in self.of_type("AWS::SNS::Subscription"):
            p = self.resolve(props)
            sns.subscribe(
                TopicArn=p["TopicArn"],
                Protocol=p["Protocol"],
                Endpoint=p["Endpoint"],
                Attributes={"RawMessageDelivery": str(p.get("RawMessageDelivery", False)).lower()},
            )

    def secrets(self) -> None:
        sm = self.clients["secretsmanager"]
        for logical, props in self.of_type("AWS::SecretsManager::Secret"):
            if "GenerateSecretString" in props:
                value = token_urlsafe(int(props["GenerateSecretString"].get("PasswordLength", 32)))
            else:
                value = str(props.get("SecretString", ""))
            self.refs[logical] = sm.create_secret(Name=self.resolve(props["Name"]), SecretString=value)["ARN"]

    def function_env(self) -> dict[str, str]:
        """The environment the template gives the functions (every function's, merged)."""
        env: dict[str, str] = {}
        for resource in self.resources.values():
            variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            for var, value in variables.items():
                try:
                    env[var] = str(self.resolve(value))
                except KeyError:  # a resource the tests do not provision: leave the variable out
                    continue
        return env


def provision_template(stage: str, clients: dict[str, Any]) -> _Template:
    """Create the template's tables, queues, topics and secrets through ``clients`` (inside moto)."""
    template = _Template(json.loads(MERGE_TEMPLATE.read_text()), stage, clients)
    template.tables()
    template.queues()
    template.topics()
    template.secrets()
    return template


class _SearchPaths(list[str]):
    """boto3 appends its data path to the loader of every new session: keep one copy of each."""

    def append(self, item: str) -> None:
        if item not in self:
            super().append(item)


@pytest.fixture(scope="session")
def shared_botocore_loader() -> Iterator[None]:
    """One botocore data loader for every session in the run (speed only).

    Each boto3/PynamoDB session otherwise re-reads and re-parses the service models from disk
    (about 15 ms per client); the functions reset their clients for every test, and
    ``local.provision`` makes a client per resource. Models are read-only data, so sharing the
    loader changes nothing but the time.
    """
    import botocore.loaders
    import botocore.session

    original = botocore.session.create_loader
    loaders: dict[str | None, Any] = {}

    def create_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loader = original(search_path_string)
            loader._search_paths = _SearchPaths(loader._search_paths)
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    yield
    botocore.session.create_loader = original


@dataclass
class AwsStack:
    """moto, provisioned from the merge template; boto3 clients and what the template named."""

    env: dict[str, str]
    queues: dict[str, str]  # short name ("insurance-checks") -> queue URL
    dead_letter_queues: dict[str, str]  # queue URL -> its DLQ URL
    tables: dict[str, str]  # short name ("crisis") -> table name
    inbound_sms_topic_arn: str
    dynamodb: Any
    sqs: Any
    sns: Any
    ses: Any
    secretsmanager: Any
    clients: dict[str, Any] = field(default_factory=dict)

    def receive_all(self, short_name: str, max_batches: int = 10) -> list[dict[str, Any]]:
        """Every visible message of a queue, with all attributes (received, so hidden for 5 minutes)."""
        messages: list[dict[str, Any]] = []
        for _ in range(max_batches):
            batch = self.sqs.receive_message(
                QueueUrl=self.queues[short_name],
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=300,
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        return messages

    def as_sqs_event(self, short_name: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Lambda event SQS would deliver for ``messages`` (from :meth:`receive_all`)."""
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.queues[short_name].rsplit('/', 1)[1]}"
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {
                        k: {
                            "stringValue": v.get("StringValue"),
                            "binaryValue": v.get("BinaryValue"),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": v["DataType"],
                        }
                        for k, v in m.get("MessageAttributes", {}).items()
                    },
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def sent_sms(self) -> list[tuple[str, str]]:
        """(phone, text) of every SMS published to a phone number through SNS, oldest first."""
        from moto.sns.models import sns_backends

        return list(sns_backends[ACCOUNT_ID][REGION].sms_messages.values())

    def sent_email(self) -> list[Any]:
        """moto's record of every email SES accepted (``.destinations``, ``.subject``, ``.body``)."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture
def aws(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, shared_botocore_loader: None) -> Iterator[AwsStack]:
    """moto with every table, queue (and DLQ), topic and secret of ``infra/merge-template.json``."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        clients = {name: session.client(name) for name in ("dynamodb", "sqs", "sns", "ses", "secretsmanager")}
        template = provision_template(STAGE, clients)
        env = {**aws_env, **template.function_env(), "IOP_STAFF_AUTH": "local"}
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        clients["ses"].verify_email_identity(EmailAddress=env["IOP_SENDER_EMAIL"])
        reset_caches()
        topic = next((arn for logical, arn in template.refs.items() if logical == "InboundSmsTopic"), "")
        yield AwsStack(
            env=env,
            queues={name: env[var] for var, name in QUEUE_VARS.items()},
            dead_letter_queues=template.dead_letter_queues,
            tables={name: env[var] for var, name in TABLE_VARS.items()},
            inbound_sms_topic_arn=topic,
            dynamodb=clients["dynamodb"],
            sqs=clients["sqs"],
            sns=clients["sns"],
            ses=clients["ses"],
            secretsmanager=clients["secretsmanager"],
            clients=clients,
        )
        reset_caches()


@dataclass
class FakeLambdaContext:
    function_name: str = "virtual-iop-test-function"
    memory_limit_in_mb: int = 512
    timeout_ms: int = 30_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/virtual-iop-test-function"
    log_stream_name: str = "2026/03/02/[$LATEST]0123456789abcdef0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def read_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json`` (mutate it freely)."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    return read_event


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records ``(service, operation)`` of every AWS call (boto3 and PynamoDB alike) in the test."""
    from botocore.client import BaseClient

    calls: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


T0 = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


@pytest.fixture
def fixed_clock() -> Iterator[Any]:
    """Installs a :class:`FixedClock` at 2026-03-02 14:05 UTC for every function; restores after."""
    from functions.core import clock
    from tests.fakes import FixedClock

    previous = clock.get_clock()
    fixed = FixedClock(T0)
    clock.set_clock(fixed)
    yield fixed
    clock.set_clock(previous)
