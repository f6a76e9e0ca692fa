"""The merge template for ``chalice package``: every AWS resource besides the functions and API.

One Python description writes two files that are committed and checked in sync by the tests:
``infra/merge-template.json`` (merged by ``chalice package --merge-template``) and the
least-privilege IAM policy files under ``.chalice/`` that ``.chalice/config.json`` names.
The local stack provisions moto from ``infra/merge-template.json`` too (``local/provision.py``),
so local and AWS cannot drift.

    python -m infra.template          # rewrite both
    python -m infra.template --check  # exit 1 if either is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "merge-template.json"
APP = "virtual-iop"


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def arn(name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, "Arn"]}


# --------------------------------------------------------------------------- tables
TABLES: dict[str, dict[str, Any]] = {
    # logical id: (setting env var, short name, GSIs, ttl attribute)
    # The stream feeds relay_outbox (the transactional outbox's relay); NEW_IMAGE: inserts carry the event.
    # review / open: the staff work queue's sparse indexes (functions/staffq/sources.py)
    "IntakesTable": {"env": "IOP_INTAKES_TABLE", "name": "intakes", "gsis": [("outbox", "outbox_shard", "outbox_at"),
                                                                             ("review", "review_shard", "review_at")],
                     "ttl": "expires_at", "stream": "NEW_IMAGE"},
    "CrisisTable": {"env": "IOP_CRISIS_TABLE", "name": "crisis", "gsis": [("due", "due_shard", "due_at"),
                                                                          ("open", "open_shard", "open_at")],
                    "ttl": "expires_at"},
    "RemindersTable": {"env": "IOP_REMINDERS_TABLE", "name": "reminders", "gsis": [],
                       "ttl": "expires_at"},
    "ContactsTable": {"env": "IOP_CONTACTS_TABLE", "name": "contacts", "gsis": [], "ttl": "expires_at"},
    "EligibilityTable": {"env": "IOP_ELIGIBILITY_TABLE", "name": "eligibility", "gsis": [], "ttl": None},
    # The PHI access audit: append-only (PutItem + Query only, below), no TTL, PITR, retained.
    "AuditTable": {"env": "IOP_AUDIT_TABLE", "name": "audit", "gsis": [], "ttl": None},
}

# --------------------------------------------------------------------------- queues
# consumer function logical id and its timeout (seconds): visibility timeout is 6x that.
QUEUES: dict[str, dict[str, Any]] = {
    "InsuranceChecksQueue": {"env": "IOP_INSURANCE_QUEUE_URL", "name": "insurance-checks",
                             "consumer": "CheckInsurance", "timeout": 60, "batch": 5},
    "CrisisEventsQueue": {"env": "IOP_CRISIS_QUEUE_URL", "name": "crisis-events",
                          "consumer": "EscalateCrisis", "timeout": 30, "batch": 10},
    "InboundSmsQueue": {"env": "IOP_INBOUND_SMS_QUEUE_URL", "name": "inbound-sms",
                        "consumer": "HandleInboundSms", "timeout": 30, "batch": 10},
}
MAX_RECEIVE_COUNT = 5
RELAY_FAILURE_QUEUE_NAME = "outbox-relay-failures"

# --------------------------------------------------------------------------- functions
# Chalice function name -> logical id, policy file, schedule, what it may touch.
RW = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
      "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"]
RO = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
AUDIT_APPEND = ["dynamodb:PutItem", "dynamodb:Query"]  # the audit table: write once, read; never update/delete
OUTBOX_RELAY = [*RO, "dynamodb:DeleteItem"]  # read + delete relayed outbox events
# relay_outbox: is this event still pending (consistent BatchGetItem), delete it once relayed.
STREAM_RELAY = ["dynamodb:BatchGetItem", "dynamodb:DeleteItem"]
# What Lambda's event source mapping reads the stream with (under the function's role).
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
# relay_outbox's stream mapping: retries, then bisects, then hands the batch to this queue.
RELAY_FAILURE_QUEUE = "RelayOutboxFailureQueue"
RELAY_MAX_RETRIES = 5
RELAY_MAX_RECORD_AGE_SECONDS = 3600  # the sweep has delivered long before: stop retrying after an hour
CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
FUNCTIONS: dict[str, dict[str, Any]] = {
    "api_handler": {
        "logical": "APIHandler", "policy": "policy-api-handler.json",
        "tables": {"IntakesTable": RW, "CrisisTable": RW, "RemindersTable": RW,
                   # EligibilityTable DeleteItem: POST /staff/queue/{item_id}/done clears an insurance entry
                   "EligibilityTable": [*RO, "dynamodb:DeleteItem"], "ContactsTable": RO, "AuditTable": AUDIT_APPEND},
        "send": ["InsuranceChecksQueue", "CrisisEventsQueue"], "consume": None,
        "sms": False, "email": True, "secrets": ["SigningSecret"], "schedules": [],
    },
    "check_insurance": {
        "logical": "CheckInsurance", "policy": "policy-check-insurance.json",
        "tables": {"EligibilityTable": RW, "IntakesTable": RO},
        "send": ["InsuranceChecksQueue"], "consume": "InsuranceChecksQueue",
        "sms": False, "email": True, "secrets": ["SigningSecret", "EligibilityApiSecret"],
        # Daily; the handler acts only on the 1st of the month (monthly re-check of active coverage).
        "schedules": [("EligibilityRecheckSchedule", "rate(1 day)")],
    },
    "dispatch_reminders": {
        "logical": "DispatchReminders", "policy": "policy-dispatch-reminders.json",
        "tables": {"RemindersTable": RW, "ContactsTable": RO, "IntakesTable": RO},
        "send": [], "consume": None, "sms": True, "email": True, "secrets": ["SigningSecret"],
        "schedules": [("DispatchSchedule", "rate(5 minutes)")],
    },
    "handle_inbound_sms": {
        "logical": "HandleInboundSms", "policy": "policy-handle-inbound-sms.json",
        "tables": {"ContactsTable": RW, "RemindersTable": RW, "CrisisTable": RW, "IntakesTable": RO},
        "send": ["CrisisEventsQueue"], "consume": "InboundSmsQueue", "sms": True, "email": False,
        "secrets": ["SigningSecret"], "schedules": [],
    },
    "escalate_crisis": {
        "logical": "EscalateCrisis", "policy": "policy-escalate-crisis.json",
        # IntakesTable: the outbox sweep (Query on the outbox index, DeleteItem once relayed).
        "tables": {"CrisisTable": RW, "IntakesTable": OUTBOX_RELAY, "ContactsTable": RO},
        "send": ["CrisisEventsQueue", "InsuranceChecksQueue"], "consume": "CrisisEventsQueue", "sms": True,
        "email": True,
        "secrets": ["SigningSecret"],
        # The safety net for escalation timers: a sweep over the crisis table's due index.
        "schedules": [("EscalationSweepSchedule", "rate(1 minute)")],
    },
    "relay_outbox": {
        "logical": "RelayOutbox", "policy": "policy-relay-outbox.json",
        "tables": {"IntakesTable": STREAM_RELAY}, "stream": "IntakesTable",
        # the two queues outbox events name, and the mapping's on-failure destination
        "send": ["InsuranceChecksQueue", "CrisisEventsQueue", RELAY_FAILURE_QUEUE], "consume": None,
        "sms": False, "email": True, "secrets": [], "schedules": [],
    },
}

ELIGIBILITY_API_FAILURE = "EligibilityApiFailure"  # functions/insurance/payer.py emits it
CRISIS_ALARMS = {
    "CrisisUnacknowledged": "A crisis case is still unacknowledged after the last escalation round",
    "CrisisNoResponder": "A crisis case had no reachable on-call responder",
    "CrisisTierUnreachable": "No channel reached any member of an on-call tier",
    # functions/core/outbox.py STUCK_METRIC, counted by the 1-minute sweep
    "OutboxEventStuck": "An outbox event (page, insurance check, staff email, patient profile) "
                        "is unsent 15 minutes after it was written",
}

STAFF_GROUPS = {  # Cognito group -> (precedence, what it may open): functions/core/roles.py
    "admin": (1, "Everything, plus the PHI access audit"),
    "clinician": (2, "Intakes, crisis cases, check-ins, assessments, attendance, FHIR export"),
    "intake": (3, "Intakes, coverage and eligibility re-checks, the work queue"),
}
STAFF_PAGE = "staff.html"  # web/staff.html: the page staff emails link to (functions/core/links.py)
# Cognito's hosted sign-in domain prefix: unique per region, so the account id is in it
STAFF_SIGN_IN_DOMAIN = f"{APP}-${{Stage}}-${{AWS::AccountId}}"

PARAMETERS: dict[str, dict[str, Any]] = {
    "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z][a-z0-9-]{0,15}$"},
    "ClinicName": {"Type": "String", "Default": "Harbor Clinic"},
    "ClinicPhone": {"Type": "String", "Default": "+15555550100"},
    "SenderEmail": {"Type": "String", "Default": "no-reply@clinic.example"},
    "SenderDomain": {"Type": "String", "Default": "clinic.example"},
    "IntakeStaffEmail": {"Type": "String", "Default": "intake@clinic.example"},
    # the clinicians told of check-in and repeat-screening alerts (a patient getting worse)
    "CareTeamEmail": {"Type": "String", "Default": "care-team@clinic.example"},
    "OpsEmail": {"Type": "String", "Default": "ops@clinic.example"},
    "AllowedOrigins": {"Type": "String", "Default": "https://www.clinic.example"},
    "PublicBaseUrl": {"Type": "String", "Default": "https://www.clinic.example"},
    "SmsOriginationNumber": {"Type": "String", "Default": ""},
    "LogRetentionDays": {"Type": "Number", "Default": 365,
                         "AllowedValues": [30, 60, 90, 180, 365, 400, 545, 731, 1827, 2192, 2557]},
    # API Gateway stage throttling (every route): a clinic's form traffic is a few requests a minute;
    # a flood is refused with 429 at the edge before it reaches a Lambda or the tables.
    "ApiThrottleRateLimit": {"Type": "Number", "Default": 50, "MinValue": 1,
                             "Description": "steady requests per second across the API"},
    "ApiThrottleBurstLimit": {"Type": "Number", "Default": 100, "MinValue": 1,
                              "Description": "burst of concurrent requests across the API"},
}


def function_env() -> dict[str, Any]:
    env: dict[str, Any] = {
        "IOP_STAGE": ref("Stage"),
        "IOP_CLINIC_NAME": ref("ClinicName"),
        "IOP_CLINIC_PHONE": ref("ClinicPhone"),
        "IOP_SENDER_EMAIL": ref("SenderEmail"),
        "IOP_INTAKE_STAFF_EMAIL": ref("IntakeStaffEmail"),
        "IOP_CARE_TEAM_EMAIL": ref("CareTeamEmail"),
        "IOP_ALLOWED_ORIGINS": ref("AllowedOrigins"),
        "IOP_PUBLIC_BASE_URL": ref("PublicBaseUrl"),
        "IOP_SMS_ORIGINATION_NUMBER": ref("SmsOriginationNumber"),
        "IOP_SIGNING_SECRET_ID": ref("SigningSecret"),
        "IOP_ELIGIBILITY_SECRET_ID": ref("EligibilityApiSecret"),
        "IOP_STAFF_AUTH": "cognito",
        "POWERTOOLS_SERVICE_NAME": APP,
        "POWERTOOLS_METRICS_NAMESPACE": "VirtualIOP",
    }
    for logical, spec in TABLES.items():
        env[spec["env"]] = ref(logical)
    for logical, spec in QUEUES.items():
        env[spec["env"]] = ref(logical)
    return env


# Signed links in crisis alerts point at the API. Not given to the API function itself: its URL
# depends on the RestAPI, which depends on the API function (a cycle), and it sends no alerts.
API_BASE_URL = sub("https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api")


def table_resource(logical: str, spec: dict[str, Any]) -> dict[str, Any]:
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    gsis = []
    for index, shard, at in spec["gsis"]:
        attrs += [{"AttributeName": shard, "AttributeType": "S"}, {"AttributeName": at, "AttributeType": "S"}]
        gsis.append({"IndexName": index, "Projection": {"ProjectionType": "ALL"},
                     "KeySchema": [{"AttributeName": shard, "KeyType": "HASH"},
                                   {"AttributeName": at, "KeyType": "RANGE"}]})
    props: dict[str, Any] = {
        "TableName": sub(f"{APP}-${{Stage}}-{spec['name']}"),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attrs,
        "KeySchema": keys,
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": ref("DataKey")},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    if gsis:
        props["GlobalSecondaryIndexes"] = gsis
    if spec["ttl"]:
        props["TimeToLiveSpecification"] = {"AttributeName": spec["ttl"], "Enabled": True}
    if spec.get("stream"):
        props["StreamSpecification"] = {"StreamViewType": spec["stream"]}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def key_policy() -> dict[str, Any]:
    services = ["sns.amazonaws.com", "sqs.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdmin", "Effect": "Allow",
             "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "AwsServicesForThisAccount", "Effect": "Allow", "Principal": {"Service": services},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}},
            {"Sid": "CloudWatchLogs", "Effect": "Allow",
             "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                       sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*")}}},
        ],
    }


def function_name(spec: dict[str, Any]) -> str:
    """The deployed function's name (a Fn::Sub string): fixed, so its role can name its log group."""
    return f"{APP}-${{Stage}}-{spec['policy'].removeprefix('policy-').removesuffix('.json')}"


def log_group_name(spec: dict[str, Any]) -> str:
    return f"/aws/lambda/{function_name(spec)}"


def policy_statements(spec: dict[str, Any], *, for_file: bool) -> list[dict[str, Any]]:
    """IAM statements for one function. ``for_file``: name-pattern ARNs for .chalice/ policy files."""

    def table_arns(logical: str) -> list[Any]:
        name = TABLES[logical]["name"]
        if for_file:
            base = f"arn:aws:dynamodb:*:*:table/{APP}-*-{name}"
            return [base, base + "/index/*"]
        return [arn(logical), {"Fn::Sub": ["${T}/index/*", {"T": arn(logical)}]}]

    def queue_arn(logical: str) -> Any:
        name = RELAY_FAILURE_QUEUE_NAME if logical == RELAY_FAILURE_QUEUE else QUEUES[logical]["name"]
        return f"arn:aws:sqs:*:*:{APP}-*-{name}" if for_file else arn(logical)

    def stream_arn(logical: str) -> Any:
        if for_file:
            return f"arn:aws:dynamodb:*:*:table/{APP}-*-{TABLES[logical]['name']}/stream/*"
        return {"Fn::GetAtt": [logical, "StreamArn"]}

    def secret_arn(logical: str) -> Any:
        suffix = "signing" if logical == "SigningSecret" else "eligibility-api"
        return f"arn:aws:secretsmanager:*:*:secret:{APP}/*/{suffix}-*" if for_file else ref(logical)

    statements: list[dict[str, Any]] = [
        # Its own log group only (the function's name is fixed, so its log group is known up front).
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": (f"arn:aws:logs:*:*:log-group:/aws/lambda/{APP}-*" if for_file
                      else sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                               + log_group_name(spec) + ":*"))},
        {"Sid": "DataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "arn:aws:kms:*:*:key/*" if for_file else arn("DataKey")},
    ]
    by_actions: dict[tuple[str, ...], list[Any]] = {}
    for logical, actions in spec["tables"].items():
        by_actions.setdefault(tuple(actions), []).extend(table_arns(logical))
    for i, (actions, resources) in enumerate(sorted(by_actions.items())):
        statements.append({"Sid": f"Tables{i}", "Effect": "Allow", "Action": list(actions), "Resource": resources})
    if spec.get("stream"):
        statements.append({"Sid": "ReadStream", "Effect": "Allow", "Action": STREAM_READ,
                           "Resource": [stream_arn(spec["stream"])]})
        # ListStreams takes no resource: "*" is the only one IAM accepts (it lists stream ARNs only).
        statements.append({"Sid": "ListStreams", "Effect": "Allow", "Action": ["dynamodb:ListStreams"],
                           "Resource": "*"})
    if spec["send"]:
        statements.append({"Sid": "SendQueues", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                           "Resource": [queue_arn(q) for q in spec["send"]]})
    if spec["consume"]:
        statements.append({"Sid": "ConsumeQueue", "Effect": "Allow", "Action": CONSUME,
                           "Resource": [queue_arn(spec["consume"])]})
    if spec["secrets"]:
        statements.append({"Sid": "Secrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": [secret_arn(s) for s in spec["secrets"]]})
    if spec["sms"]:
        # SNS SMS to a phone number has no resource ARN: "*" is the only resource AWS accepts.
        # The condition keeps it from publishing to any topic.
        statements.append({"Sid": "SmsToPhoneNumbers", "Effect": "Allow", "Action": ["sns:Publish"],
                           "NotResource": "arn:aws:sns:*:*:*"})
    if spec["email"]:
        statements.append({"Sid": "Email", "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                           "Resource": ("arn:aws:ses:*:*:identity/*" if for_file else
                                        sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"))})
    return statements


# API Gateway access log: one JSON line per request, joined to the function's logs by requestId.
# No client IP, user agent, path parameters or query strings: patients' IP addresses are HIPAA
# identifiers and acknowledgement links carry signed tokens; the route template is enough.
API_ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTimeEpoch", "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath", "status": "$context.status", "protocol": "$context.protocol",
    "responseLength": "$context.responseLength", "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency", "integrationStatus": "$context.integrationStatus",
    "errorType": "$context.error.responseType", "authorizerError": "$context.authorizer.error",
}, separators=(",", ":"))


# API Gateway answers some requests itself: the Cognito authorizer's 401/403, throttling's 429,
# an integration timeout's 504. Without CORS headers on those, the website and the staff page see
# a network error instead of the status (the staff page could not tell an expired sign-in from an
# outage). The values match functions/core/http.py's (tests/integration/test_package.py checks);
# the origin is the first of AllowedOrigins (a gateway response carries one static value).
GATEWAY_ERROR_HEADERS: dict[str, Any] = {
    "Access-Control-Allow-Origin": {"Fn::Sub": ["'${Origin}'", {
        "Origin": {"Fn::Select": [0, {"Fn::Split": [",", ref("AllowedOrigins")]}]}}]},
    "Vary": "'Origin'",
    "Access-Control-Allow-Headers": "'Content-Type,Idempotency-Key,Authorization'",
    "Access-Control-Allow-Methods": "'GET,POST,PUT,OPTIONS'",
    "Cache-Control": "'no-store'",
    "X-Content-Type-Options": "'nosniff'",
}
# the API's one error shape (docs/api.md): {"errors": [{"field", "message"}]}
GATEWAY_ERROR_BODY = '{"errors":[{"field":"","message":$context.error.messageString}]}'


def gateway_responses() -> dict[str, Any]:
    return {
        kind: {
            "responseParameters": {f"gatewayresponse.header.{k}": v for k, v in GATEWAY_ERROR_HEADERS.items()},
            "responseTemplates": {"application/json": GATEWAY_ERROR_BODY},
        }
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX")
    }


def api_resources() -> dict[str, Any]:
    """Access logging for chalice's RestAPI (merged into its properties) and what it needs.

    API Gateway writes access logs through a regional, account-wide CloudWatch Logs role
    (``AWS::ApiGateway::Account``); both are retained on stack deletion so other APIs in the
    account that log through the same setting keep working.
    """
    return {
        "ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": sub(f"/aws/apigateway/{APP}-${{Stage}}-access"),
            "RetentionInDays": ref("LogRetentionDays"), "KmsKeyId": arn("DataKey")}},
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}}]},
                "ManagedPolicyArns": [
                    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")]}},
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"CloudWatchRoleArn": arn("ApiGatewayCloudWatchRole")}},
        "RestAPI": {  # chalice's API: deep-merged into the resource chalice generates
            "DependsOn": ["ApiGatewayAccount"],
            "Properties": {
                "AccessLogSetting": {"DestinationArn": arn("ApiAccessLogGroup"), "Format": API_ACCESS_LOG_FORMAT},
                # deep-merged into chalice's OpenAPI body
                "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()},
                "CacheClusterEnabled": False, "TracingEnabled": False,
                # execution logging and data tracing stay off: they would write bodies (PHI) to logs
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                                    "DataTraceEnabled": False,
                                    "ThrottlingRateLimit": ref("ApiThrottleRateLimit"),
                                    "ThrottlingBurstLimit": ref("ApiThrottleBurstLimit")}]},
            "Metadata": {"checkov": {"skip": CHECKOV_API_SKIPS}}},
    }


def relay_resources() -> dict[str, Any]:
    """relay_outbox's stream mapping, its on-failure queue and alarms.

    Lambda reads the intakes table's stream, filtered to outbox inserts; a batch whose publish
    failed is retried from the failed record (``ReportBatchItemFailures``), split in halves on a
    crash, and after ``RELAY_MAX_RETRIES`` (or an hour) its description goes to the failure queue.
    Nothing is lost then either: the outbox item stays until the 1-minute sweep delivers it; the
    alarm says the relay is broken."""
    alarm = {"Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1,
             "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
             "AlarmActions": [ref("OpsAlarmTopic")], "OKActions": [ref("OpsAlarmTopic")]}
    # outbox items, and intakes (which carry their events: functions/core/outbox.py)
    only_outbox_inserts = json.dumps({"eventName": ["INSERT"],
                                      "dynamodb": {"NewImage": {"kind": {"S": ["outbox", "intake"]}}}},
                                     separators=(",", ":"))
    return {
        RELAY_FAILURE_QUEUE: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": sub(f"{APP}-${{Stage}}-{RELAY_FAILURE_QUEUE_NAME}"),
            "MessageRetentionPeriod": 1209600, "KmsMasterKeyId": ref("DataKey")}},
        RELAY_FAILURE_QUEUE + "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": sub(f"{APP}-${{Stage}}-{RELAY_FAILURE_QUEUE_NAME}-not-empty"),
            "AlarmDescription": "relay_outbox gave up on a stream batch (the sweep still delivers): "
                                "see docs/runbook.md",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [RELAY_FAILURE_QUEUE, "QueueName"]}}],
            "Threshold": 0, **alarm}},
        "RelayOutboxIteratorAgeAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": sub(f"{APP}-${{Stage}}-relay-outbox-iterator-age"),
            "AlarmDescription": "relay_outbox is more than 2 minutes behind the intakes stream: "
                                "see docs/runbook.md",
            "Namespace": "AWS/Lambda", "MetricName": "IteratorAge",
            "Dimensions": [{"Name": "FunctionName", "Value": ref("RelayOutbox")}],
            "Threshold": 120000, **alarm}},
        "RelayOutboxStreamMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": ref("RelayOutbox"),
            "EventSourceArn": {"Fn::GetAtt": ["IntakesTable", "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0,
            "FilterCriteria": {"Filters": [{"Pattern": only_outbox_inserts}]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": RELAY_MAX_RETRIES,
            "MaximumRecordAgeInSeconds": RELAY_MAX_RECORD_AGE_SECONDS,
            "DestinationConfig": {"OnFailure": {"Destination": arn(RELAY_FAILURE_QUEUE)}}}},
    }


def merge_template() -> dict[str, Any]:
    resources: dict[str, Any] = {}
    resources["DataKey"] = {
        "Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {"Description": sub(f"{APP} ${{Stage}} data key (tables, queues, topics, logs, secrets)"),
                       "EnableKeyRotation": True, "KeyPolicy": key_policy()},
    }
    resources["DataKeyAlias"] = {"Type": "AWS::KMS::Alias",
                                 "Properties": {"AliasName": sub(f"alias/{APP}-${{Stage}}"),
                                                "TargetKeyId": ref("DataKey")}}
    for logical, spec in TABLES.items():
        resources[logical] = table_resource(logical, spec)
    for logical, spec in QUEUES.items():
        dlq = logical.replace("Queue", "DeadLetterQueue")
        resources[dlq] = {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": sub(f"{APP}-${{Stage}}-{spec['name']}-dlq"),
            "MessageRetentionPeriod": 1209600, "KmsMasterKeyId": ref("DataKey")}}
        resources[logical] = {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": sub(f"{APP}-${{Stage}}-{spec['name']}"),
            "VisibilityTimeout": 6 * spec["timeout"],
            "MessageRetentionPeriod": 1209600,
            "KmsMasterKeyId": ref("DataKey"),
            "RedrivePolicy": {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": MAX_RECEIVE_COUNT}}}
        resources[dlq + "Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": sub(f"{APP}-${{Stage}}-{spec['name']}-dlq-not-empty"),
            "AlarmDescription": f"Messages in the {spec['name']} dead-letter queue: see docs/runbook.md",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("OpsAlarmTopic")], "OKActions": [ref("OpsAlarmTopic")]}}
    # Crisis alarms from the EMF metrics escalate_crisis writes (namespace VirtualIOP; Powertools adds
    # the "service" dimension). See functions/crisis/consumer.py ALARM_METRICS.
    for metric, what in CRISIS_ALARMS.items():
        resources[metric + "Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": sub(f"{APP}-${{Stage}}-{metric}"),
            "AlarmDescription": f"{what}: see docs/runbook.md",
            "Namespace": "VirtualIOP", "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": APP}],
            "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("OpsAlarmTopic")]}}
    # Eligibility API failing (unreachable, 5xx, timeouts, refused credentials): a few failures in a
    # quarter of an hour is an outage, not one patient's bad member id (those never count).
    resources["EligibilityApiFailingAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": sub(f"{APP}-${{Stage}}-EligibilityApiFailing"),
        "AlarmDescription": "The eligibility API keeps failing (unreachable, errors or refused credentials): "
                            "see docs/runbook.md",
        "Namespace": "VirtualIOP", "MetricName": ELIGIBILITY_API_FAILURE,
        "Dimensions": [{"Name": "service", "Value": APP}],
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 3,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [ref("OpsAlarmTopic")], "OKActions": [ref("OpsAlarmTopic")]}}
    # Every function: an unhandled error or a throttle in 5 minutes pages ops (a crisis event that
    # throttles waits in its queue; one that errors is retried, then dead-lettered).
    for spec in FUNCTIONS.values():
        for metric in ("Errors", "Throttles"):
            resources[spec["logical"] + metric + "Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": sub(f"{function_name(spec)}-{metric.lower()}"),
                "AlarmDescription": f"{metric} of this function in the last 5 minutes: see docs/runbook.md",
                "Namespace": "AWS/Lambda", "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": sub(function_name(spec))}],
                "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("OpsAlarmTopic")], "OKActions": [ref("OpsAlarmTopic")]}}
    resources.update(relay_resources())
    resources["InboundSmsTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": sub(f"{APP}-${{Stage}}-inbound-sms"), "KmsMasterKeyId": ref("DataKey")}}
    resources["InboundSmsSubscription"] = {"Type": "AWS::SNS::Subscription", "Properties": {
        "TopicArn": ref("InboundSmsTopic"), "Protocol": "sqs", "Endpoint": arn("InboundSmsQueue"),
        "RawMessageDelivery": False}}
    resources["InboundSmsQueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [ref("InboundSmsQueue")],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "InboundSmsTopicOnly", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn("InboundSmsQueue"),
            "Condition": {"ArnEquals": {"aws:SourceArn": ref("InboundSmsTopic")}}}]}}}
    resources["OpsAlarmTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": sub(f"{APP}-${{Stage}}-ops-alarms"), "KmsMasterKeyId": ref("DataKey"),
        "Subscription": [{"Protocol": "email", "Endpoint": ref("OpsEmail")}]}}
    resources["SigningSecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": sub(f"{APP}/${{Stage}}/signing"),
        "Description": "HMAC key for acknowledgement links and signed tokens",
        "KmsKeyId": ref("DataKey"),
        "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}}
    resources["EligibilityApiSecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": sub(f"{APP}/${{Stage}}/eligibility-api"),
        "Description": "Eligibility API base URL and key (JSON: {\"base_url\", \"api_key\"}); set before use",
        "KmsKeyId": ref("DataKey"),
        "SecretString": "{\"base_url\": \"simulator\", \"api_key\": \"\"}"}}
    resources["StaffUserPool"] = {"Type": "AWS::Cognito::UserPool", "Properties": {
        "UserPoolName": sub(f"{APP}-${{Stage}}-staff"),
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"],
        "MfaConfiguration": "ON", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
        "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
        "Policies": {"PasswordPolicy": {"MinimumLength": 14, "RequireLowercase": True, "RequireUppercase": True,
                                        "RequireNumbers": True, "RequireSymbols": True,
                                        "TemporaryPasswordValidityDays": 3}}}}
    # The website's staff page (web/staff.html) signs staff in through the pool's hosted sign-in
    # (MFA included): authorization code with PKCE, no client secret, back to that page only.
    resources["StaffUserPoolDomain"] = {"Type": "AWS::Cognito::UserPoolDomain", "Properties": {
        "UserPoolId": ref("StaffUserPool"), "Domain": sub(STAFF_SIGN_IN_DOMAIN)}}
    staff_page = sub("${PublicBaseUrl}/" + STAFF_PAGE)
    resources["StaffUserPoolClient"] = {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
        "UserPoolId": ref("StaffUserPool"), "GenerateSecret": False,
        "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email"], "SupportedIdentityProviders": ["COGNITO"],
        "CallbackURLs": [staff_page], "LogoutURLs": [staff_page],
        "PreventUserExistenceErrors": "ENABLED", "AccessTokenValidity": 60, "IdTokenValidity": 60,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes"}}}
    # Staff roles (functions/core/roles.py): Cognito puts a member's groups in the ID token the
    # staff page sends (cognito:groups), and the API reads the role from it. Precedence: admin wins.
    for group, (precedence, description) in STAFF_GROUPS.items():
        resources[f"StaffGroup{group.capitalize()}"] = {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {
            "UserPoolId": ref("StaffUserPool"), "GroupName": group, "Precedence": precedence,
            "Description": description}}
    resources.update(api_resources())

    env = function_env()
    for name, spec in FUNCTIONS.items():
        logical = spec["logical"]
        events: dict[str, Any] = {}
        if spec["consume"]:
            queue = QUEUES[spec["consume"]]
            events["Queue"] = {"Type": "SQS", "Properties": {
                "Queue": arn(spec["consume"]), "BatchSize": queue["batch"],
                "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": ["ReportBatchItemFailures"]}}
        for rule, expression in spec["schedules"]:
            events[rule] = {"Type": "Schedule", "Properties": {"Schedule": expression, "Enabled": True}}
        variables = env if logical == "APIHandler" else {**env, "IOP_API_BASE_URL": API_BASE_URL}
        props: dict[str, Any] = {"FunctionName": sub(function_name(spec)), "Environment": {"Variables": variables},
                                 "KmsKeyArn": arn("DataKey")}
        if events:
            props["Events"] = events
        resources[logical] = {"Properties": props, "Metadata": {"checkov": {"skip": CHECKOV_FUNCTION_SKIPS}}}
        role = "ApiHandlerRole" if logical == "APIHandler" else logical + "Role"  # chalice's names
        resources[role] = {"Properties": {"Policies": [{
            "PolicyName": f"{name}-least-privilege",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": policy_statements(spec, for_file=False)}}]}}
        resources[logical + "LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": sub(log_group_name(spec)),
            "RetentionInDays": ref("LogRetentionDays"), "KmsKeyId": arn("DataKey")}}
    return {
        "Parameters": PARAMETERS,
        "Resources": resources,
        "Outputs": {
            "StaffUserPoolId": {"Value": ref("StaffUserPool")},
            "StaffUserPoolClientId": {"Value": ref("StaffUserPoolClient")},
            "StaffSignInUrl": {"Value": sub(f"https://{STAFF_SIGN_IN_DOMAIN}.auth.${{AWS::Region}}.amazoncognito.com")},
            "InboundSmsTopicArn": {"Value": ref("InboundSmsTopic")},
            "OpsAlarmTopicArn": {"Value": ref("OpsAlarmTopic")},
        },
    }


CHECKOV_FUNCTION_SKIPS = [
    {"id": "CKV_AWS_117", "comment": "No VPC: the functions reach only AWS APIs (DynamoDB, SQS, SNS, SES, "
                                     "Secrets Manager) over TLS; a VPC adds NAT cost and cold-start time "
                                     "without narrowing access, which IAM already scopes per function."},
    {"id": "CKV_AWS_116", "comment": "Failures are kept by the SQS dead-letter queues of the event sources "
                                     "(redrive after 5 receives, alarmed); API and schedule invocations are "
                                     "synchronous or retried by the next run."},
]


CHECKOV_API_SKIPS = [
    {"id": "CKV_AWS_120", "comment": "Caching stays off: every response is either a write (POST /intake, "
                                     "/crisis, acknowledgements) or staff PHI behind the authorizer; an API "
                                     "cache is not keyed by the Authorization header and would serve one "
                                     "caller's PHI to another and keep it outside the tables' KMS key."},
    {"id": "CKV_AWS_73", "comment": "X-Ray stays off (chalice config xray: false): API Gateway segments record "
                                    "client IPs and full URLs (signed acknowledgement tokens) outside the "
                                    "stage's KMS-encrypted logs; latency and errors come from the access log "
                                    "(integrationLatency, status) and Lambda/API Gateway metrics."},
]


def policy_file(spec: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": policy_statements(spec, for_file=True)}


def rendered() -> dict[Path, str]:
    out = {MERGE_TEMPLATE: json.dumps(merge_template(), indent=2, sort_keys=False) + "\n"}
    for spec in FUNCTIONS.values():
        out[ROOT / ".chalice" / spec["policy"]] = json.dumps(policy_file(spec), indent=2) + "\n"
    return out


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [str(p.relative_to(ROOT)) for p, text in files.items()
                 if not p.exists() or p.read_text() != text]
        if stale:
            print("stale (run python -m infra.template): " + ", ".join(stale))
            return 1
        return 0
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
