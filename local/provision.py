"""Provision the AWS emulator from the same merge template that deploys to AWS.

A small CloudFormation interpreter: it resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` for the
resource types the template uses and creates them through the ordinary AWS APIs at
``endpoint_url``. Resources the emulator cannot or need not hold (IAM, log groups, the Cognito
pool: the local stack authenticates staff with signed bearer tokens) are skipped, by name, below.
Re-running it is safe: what exists is left alone.

It also answers, for the local stack and for ``iop`` commands, what the packaged template wires:
the functions' environment, which queue feeds which function, which DynamoDB stream feeds which
function (``AWS::Lambda::EventSourceMapping``: read, not created), which schedules run which
function.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "merge-template.json"
ACCOUNT_ID = "123456789012"
LOCAL_PARAMETERS = {
    "ClinicName": "Harbor Clinic",
    "ClinicPhone": "+15555550100",
    "SenderEmail": "no-reply@clinic.example",
    "IntakeStaffEmail": "intake@clinic.example",
    "CareTeamEmail": "care-team@clinic.example",
    "OpsEmail": "ops@clinic.example",
}
# Function logical id (template) -> Chalice name.
FUNCTION_NAMES = {
    "APIHandler": "api_handler",
    "CheckInsurance": "check_insurance",
    "DispatchReminders": "dispatch_reminders",
    "HandleInboundSms": "handle_inbound_sms",
    "EscalateCrisis": "escalate_crisis",
    "RelayOutbox": "relay_outbox",
}
# Types read for the wiring (which stream feeds which function), not created in the emulator.
WIRED_TYPES = {"AWS::Lambda::EventSourceMapping"}
SKIPPED_TYPES = {
    "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain", "AWS::Cognito::UserPoolGroup",  # groups: local tokens carry the role
    "AWS::SQS::QueuePolicy", "AWS::CloudWatch::Alarm", "AWS::KMS::Alias", "AWS::ApiGateway::Account",
}


class ProvisionError(RuntimeError):
    pass


@dataclass
class Wiring:
    """What the template wires, resolved against the emulator."""

    env: dict[str, str]
    queue_consumers: dict[str, tuple[str, int]] = field(default_factory=dict)  # queue url -> (function, batch)
    dead_letter_queues: dict[str, str] = field(default_factory=dict)  # queue url -> dlq url
    schedules: list[tuple[str, str, int]] = field(default_factory=list)  # (rule, function, period seconds)
    # DynamoDB stream ARN -> (function, batch size, filter patterns): the template's event source mappings
    stream_consumers: dict[str, tuple[str, int, list[dict[str, Any]]]] = field(default_factory=dict)
    inbound_sms_topic_arn: str = ""


def load_template(path: Path = MERGE_TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


def rate_seconds(expression: str, rule: str = "") -> int:
    """The period of a ``rate()`` expression; anything else is refused, saying why.

    The local stack runs ``rate()`` rules on their slot grid (local/pump.py); it has no ``cron()``
    calendar, so a template with one is refused rather than run on the wrong instants.
    """
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match or int(match.group(1)) < 1:
        what = f"schedule {rule} " if rule else "schedule "
        why = ("the local stack runs rate() schedules only, not cron()" if expression.strip().startswith("cron(")
               else "not a rate(N minute[s]|hour[s]|day[s]) expression")
        raise ProvisionError(f"unsupported {what}expression {expression!r}: {why}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


class _Resolver:
    def __init__(self, template: dict[str, Any], params: dict[str, str], region: str) -> None:
        self.template = template
        self.params = params
        self.region = region
        self.refs: dict[str, str] = {}
        self.attrs: dict[tuple[str, str], str] = {}

    def pseudo(self, name: str) -> str | None:
        return {"AWS::AccountId": ACCOUNT_ID, "AWS::Region": self.region, "AWS::Partition": "aws",
                "AWS::StackName": "virtual-iop-local", "AWS::URLSuffix": "amazonaws.com"}.get(name)

    def ref(self, name: str) -> str:
        if name in self.params:
            return self.params[name]
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.refs:
            return self.refs[name]
        raise KeyError(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref":
                    return self.ref(arg)
                if key == "Fn::GetAtt":
                    return self.attrs[(arg[0], arg[1])]
                if key == "Fn::Sub":
                    text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                    values = {k: self.resolve(v) for k, v in extra.items()}

                    def repl(m: re.Match[str]) -> str:
                        name = m.group(1)
                        if name in values:
                            return str(values[name])
                        if "." in name:
                            res, att = name.split(".", 1)
                            return self.attrs[(res, att)]
                        return self.ref(name)

                    return re.sub(r"\$\{([^}!]+)\}", repl, text)
                if key == "Fn::Join":
                    return arg[0].join(str(self.resolve(v)) for v in arg[1])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def _params(template: dict[str, Any], stage: str, overrides: dict[str, str] | None) -> dict[str, str]:
    params = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    params.update(LOCAL_PARAMETERS)
    params["Stage"] = stage
    params.update(overrides or {})
    return params


def provision(endpoint_url: str | None, stage: str = "local", region: str = "us-east-1",
              parameters: dict[str, str] | None = None, create: bool = True,
              template: dict[str, Any] | None = None) -> Wiring:
    """Create (``create=True``) or only look up every resource of the template; return the wiring."""
    template = template or load_template()
    for rule, expression in _schedule_expressions(template):
        rate_seconds(expression, rule)  # refused before anything is created
    resolver = _Resolver(template, _params(template, stage, parameters), region)
    session = boto3.session.Session(region_name=region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    resources: dict[str, Any] = template["Resources"]
    order = ["AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic",
             "AWS::SNS::Subscription", "AWS::SecretsManager::Secret"]
    for rtype in order:
        # dead-letter queues before the queues that redrive into them
        items = sorted((k for k, v in resources.items() if v.get("Type") == rtype),
                       key=lambda k: (0 if "DeadLetter" in k else 1, k))
        for logical in items:
            props = resources[logical].get("Properties", {})
            _create(rtype, logical, props, resolver, client, create)
    unknown = {v.get("Type") for v in resources.values() if v.get("Type")} - set(order) - SKIPPED_TYPES - WIRED_TYPES
    if unknown:
        raise ProvisionError("the local stack cannot provision: " + ", ".join(sorted(unknown)))
    return _wiring(template, resolver, endpoint_url, region)


def _create(rtype: str, logical: str, props: dict[str, Any], r: _Resolver, client: Any, create: bool) -> None:
    if rtype == "AWS::KMS::Key":
        kms = client("kms")
        alias = f"alias/virtual-iop-{r.params['Stage']}"
        found = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == alias]
        if found:
            key_id = found[0]["TargetKeyId"]
        elif create:
            key_id = kms.create_key(Description=str(r.resolve(props.get("Description", ""))))["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        else:
            raise ProvisionError(f"{logical} is not provisioned at the endpoint")
        r.refs[logical] = key_id
        r.attrs[(logical, "Arn")] = f"arn:aws:kms:{r.region}:{ACCOUNT_ID}:key/{key_id}"
    elif rtype == "AWS::DynamoDB::Table":
        ddb = client("dynamodb")
        p = r.resolve(props)
        name = p["TableName"]
        try:
            desc = ddb.describe_table(TableName=name)["Table"]
        except ddb.exceptions.ResourceNotFoundException:
            if not create:
                raise ProvisionError(f"table {name} is not provisioned at the endpoint") from None
            kwargs = {k: p[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode",
                                         "GlobalSecondaryIndexes") if k in p}
            if "StreamSpecification" in p:
                kwargs["StreamSpecification"] = {"StreamEnabled": True,
                                                 "StreamViewType": p["StreamSpecification"]["StreamViewType"]}
            if "SSESpecification" in p:
                sse = p["SSESpecification"]
                kwargs["SSESpecification"] = {"Enabled": sse["SSEEnabled"], "SSEType": sse["SSEType"],
                                              "KMSMasterKeyId": sse["KMSMasterKeyId"]}
            desc = ddb.create_table(**kwargs)["TableDescription"]
            if "TimeToLiveSpecification" in p:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=p["TimeToLiveSpecification"])
            if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
                ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": True})
        r.refs[logical] = name
        r.attrs[(logical, "Arn")] = desc["TableArn"]
        if desc.get("LatestStreamArn"):
            r.attrs[(logical, "StreamArn")] = desc["LatestStreamArn"]
    elif rtype == "AWS::SQS::Queue":
        sqs = client("sqs")
        p = r.resolve(props)
        name = p["QueueName"]
        attributes = {"VisibilityTimeout": str(p.get("VisibilityTimeout", 30)),
                      "MessageRetentionPeriod": str(p.get("MessageRetentionPeriod", 345600))}
        if "KmsMasterKeyId" in p:
            attributes["KmsMasterKeyId"] = str(p["KmsMasterKeyId"])
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            if not create:
                raise ProvisionError(f"queue {name} is not provisioned at the endpoint") from None
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        r.refs[logical] = url
        r.attrs[(logical, "Arn")] = f"arn:aws:sqs:{r.region}:{ACCOUNT_ID}:{name}"
        r.attrs[(logical, "QueueName")] = name
        r.attrs[(logical, "QueueUrl")] = url
    elif rtype == "AWS::SNS::Topic":
        sns = client("sns")
        p = r.resolve(props)
        name = p["TopicName"]
        topic_arn = f"arn:aws:sns:{r.region}:{ACCOUNT_ID}:{name}"
        if create:
            attributes = {"KmsMasterKeyId": str(p["KmsMasterKeyId"])} if "KmsMasterKeyId" in p else {}
            topic_arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]  # idempotent
        r.refs[logical] = topic_arn
        r.attrs[(logical, "TopicName")] = name
    elif rtype == "AWS::SNS::Subscription":
        p = r.resolve(props)
        if create:
            sns = client("sns")
            existing = sns.list_subscriptions_by_topic(TopicArn=p["TopicArn"])["Subscriptions"]
            if not any(s["Endpoint"] == p["Endpoint"] for s in existing):
                sns.subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"],
                              Attributes={"RawMessageDelivery": str(p.get("RawMessageDelivery", False)).lower()})
    elif rtype == "AWS::SecretsManager::Secret":
        sm = client("secretsmanager")
        p = r.resolve(props)
        name = p["Name"]
        try:
            secret_arn = sm.describe_secret(SecretId=name)["ARN"]
        except sm.exceptions.ResourceNotFoundException:
            if not create:
                raise ProvisionError(f"secret {name} is not provisioned at the endpoint") from None
            if "GenerateSecretString" in p:
                value = secrets.token_urlsafe(int(p["GenerateSecretString"].get("PasswordLength", 32)))
            else:
                value = str(p.get("SecretString", ""))
            secret_arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
        r.refs[logical] = secret_arn


def _schedule_expressions(template: dict[str, Any]) -> list[tuple[str, str]]:
    """``(rule, expression)`` of every schedule event of the template's functions."""
    return [(rule, str(event["Properties"]["Schedule"]))
            for logical in FUNCTION_NAMES
            for rule, event in template["Resources"].get(logical, {}).get("Properties", {}).get("Events", {}).items()
            if event.get("Type") == "Schedule"]


def _wiring(template: dict[str, Any], r: _Resolver, endpoint_url: str | None, region: str) -> Wiring:
    resources = template["Resources"]
    env: dict[str, str] = {}
    wiring = Wiring(env=env)
    for logical, chalice_name in FUNCTION_NAMES.items():
        props = resources.get(logical, {}).get("Properties", {})
        if not env:
            for key, value in props.get("Environment", {}).get("Variables", {}).items():
                env[key] = str(r.resolve(value))
        for event in props.get("Events", {}).values():
            ep = event.get("Properties", {})
            if event["Type"] == "SQS":
                queue_arn = r.resolve(ep["Queue"])
                name = queue_arn.rsplit(":", 1)[1]
                url = next(u for (res, att), u in r.attrs.items() if att == "QueueUrl" and u.endswith("/" + name))
                wiring.queue_consumers[url] = (chalice_name, int(ep.get("BatchSize", 10)))
            elif event["Type"] == "Schedule":
                rule = next(k for k, v in props["Events"].items() if v is event)
                wiring.schedules.append((rule, chalice_name, rate_seconds(ep["Schedule"], rule)))
    for logical, res in resources.items():
        if res.get("Type") == "AWS::Lambda::EventSourceMapping":
            mp = res.get("Properties", {})
            function_ref = mp.get("FunctionName", {}).get("Ref")
            source = r.resolve(mp["EventSourceArn"])
            if function_ref in FUNCTION_NAMES and ":dynamodb:" in source:
                patterns = [json.loads(f["Pattern"]) for f in mp.get("FilterCriteria", {}).get("Filters", [])]
                wiring.stream_consumers[source] = (FUNCTION_NAMES[function_ref], int(mp.get("BatchSize", 100)),
                                                   patterns)
        if res.get("Type") == "AWS::SQS::Queue" and "RedrivePolicy" in res.get("Properties", {}):
            dlq_arn = r.resolve(res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            dlq_name = dlq_arn.rsplit(":", 1)[1]
            dlq_url = next(u for (x, att), u in r.attrs.items() if att == "QueueUrl" and u.endswith("/" + dlq_name))
            wiring.dead_letter_queues[r.refs[logical]] = dlq_url
        if res.get("Type") == "AWS::SNS::Subscription":
            wiring.inbound_sms_topic_arn = r.resolve(res["Properties"]["TopicArn"])
    env["AWS_DEFAULT_REGION"] = region
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return wiring
