"""The built package (``python -m infra.build``), tested as it ships: the template and the zip.

One build per session into a temporary directory. The key test imports every handler named in the
template from the unzipped deployment package in a fresh ``python -I -S`` process (no site-packages,
no project tree), as the Lambda runtime would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from infra.build import BuildError, BuildResult, build, rewrite_zip, user_pool_placeholder

ROOT = Path(__file__).resolve().parents[2]
TAG = sys.implementation.cache_tag  # cpython-311

HANDLERS = {  # the six Lambdas of infra/template.py (api, four workers, the outbox relay): where their code lives
    "APIHandler": "app.app",
    "CheckInsurance": "functions.insurance.handler.check_insurance",
    "DispatchReminders": "functions.reminders.handler.dispatch_reminders",
    "HandleInboundSms": "functions.inbound.handler.handle_inbound_sms",
    "EscalateCrisis": "functions.crisis.handler.escalate_crisis",
    "RelayOutbox": "functions.intake.handler.relay_outbox",
}
SQS_CONSUMERS = {
    "CheckInsurance": "InsuranceChecksQueue",
    "HandleInboundSms": "InboundSmsQueue",
    "EscalateCrisis": "CrisisEventsQueue",
}


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="session")
def template(package: BuildResult) -> dict[str, Any]:
    return json.loads(package.template.read_text())


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def names(package: BuildResult) -> list[str]:
    with zipfile.ZipFile(package.zip_path) as zf:
        return zf.namelist()


@pytest.fixture(scope="session")
def unzipped(package: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(package.zip_path) as zf:
        zf.extractall(dest)
    return dest


def of_type(resources: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in resources.items() if v.get("Type") == rtype}


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- template
def test_template_is_a_sam_template_for_cloudformation(template: dict[str, Any]) -> None:
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_the_six_functions_run_their_handlers_from_the_zip_beside_the_template(
    resources: dict[str, Any], package: BuildResult
) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    assert {name: props["Handler"] for name, props in functions.items()} == HANDLERS
    for props in functions.values():
        assert props["CodeUri"] == "./deployment.zip"
        assert props["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert (package.template.parent / "deployment.zip") == package.zip_path


def test_queue_consumers_report_partial_batch_failures(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    for name, queue in SQS_CONSUMERS.items():
        sqs = [e["Properties"] for e in functions[name].get("Events", {}).values() if e["Type"] == "SQS"]
        assert len(sqs) == 1, name
        assert sqs[0]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert sqs[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    others = set(functions) - set(SQS_CONSUMERS)
    assert not [n for n in others for e in functions[n].get("Events", {}).values() if e["Type"] == "SQS"]


def test_the_outbox_relay_reads_the_intakes_stream_with_retries_and_an_alarmed_failure_queue(
    resources: dict[str, Any],
) -> None:
    table = resources["IntakesTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    [mapping] = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["FunctionName"] == {"Ref": "RelayOutbox"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["IntakesTable", "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 1 <= mapping["MaximumRetryAttempts"] <= 10
    [pattern] = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern["dynamodb"]["NewImage"]["kind"] == {"S": ["outbox", "intake"]}  # intakes carry events
    failure_queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert resources[failure_queue]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    assert any(a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [failure_queue, "QueueName"]} for a in alarms)
    assert any(a["MetricName"] == "IteratorAge" and a["Dimensions"][0]["Value"] == {"Ref": "RelayOutbox"}
               for a in alarms)


def test_reminders_are_dispatched_every_five_minutes(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    schedules = {
        name: [e["Properties"] for e in props.get("Events", {}).values() if e["Type"] == "Schedule"]
        for name, props in functions.items()
    }
    assert [s["Schedule"] for s in schedules["DispatchReminders"]] == ["rate(5 minutes)"]
    for rules in schedules.values():
        for rule in rules:
            assert rule.get("Enabled", True) is True
            assert rule["Schedule"].startswith(("rate(", "cron("))


def test_every_queue_has_an_alarmed_encrypted_dead_letter_queue(resources: dict[str, Any]) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    dlqs = {k for k, props in queues.items() if "RedrivePolicy" not in props}
    main = set(queues) - dlqs
    assert main >= set(SQS_CONSUMERS.values())
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    alarmed = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms if a.get("Namespace") == "AWS/SQS"}
    for name in main:
        redrive = queues[name]["RedrivePolicy"]
        dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in dlqs and dlq != name
        assert 1 <= redrive["maxReceiveCount"] <= 10
        assert dlq in alarmed, f"{dlq} has no alarm"
    for name, props in queues.items():
        assert props.get("KmsMasterKeyId") == {"Ref": "DataKey"}, name


def test_every_alarm_has_its_runbook_section(resources: dict[str, Any]) -> None:
    """The alarm an on-call engineer is paged with is a heading of docs/runbook.md (a function's
    errors and throttles share one section each)."""
    import re

    headings = set(re.findall(r"^## (virtual-iop-<stage>-\S+)", (ROOT / "docs" / "runbook.md").read_text(), re.M))
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        name = alarm["AlarmName"]["Fn::Sub"].replace("${Stage}", "<stage>")
        name = re.sub(r"^virtual-iop-<stage>-[a-z_-]+-(errors|throttles)$", r"virtual-iop-<stage>-<function>-\1", name)
        assert name in headings, f"{name}: no section in docs/runbook.md"


def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    queues = of_type(resources, "AWS::SQS::Queue")
    for name, queue in SQS_CONSUMERS.items():
        assert queues[queue]["VisibilityTimeout"] >= 6 * functions[name]["Timeout"], queue


def test_tables_have_point_in_time_recovery_and_a_customer_managed_key(resources: dict[str, Any]) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert len(tables) >= 5
    for name, props in tables.items():
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        sse = props["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS" and sse["KMSMasterKeyId"], name


def test_the_api_stage_throttles_every_route_and_logs_no_bodies(template: dict[str, Any]) -> None:
    """A flood gets 429 from API Gateway before it reaches a Lambda or a table; execution logging
    with data tracing (request bodies: PHI) stays off; the limits are stage parameters."""
    api = template["Resources"]["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [{
        "ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True, "DataTraceEnabled": False,
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }]
    parameters = template["Parameters"]
    assert parameters["ApiThrottleRateLimit"]["Default"] == 50
    assert parameters["ApiThrottleBurstLimit"]["Default"] == 100


def test_api_gateways_own_errors_carry_cors_and_the_apis_error_shape(resources: dict[str, Any]) -> None:
    """The authorizer's 401, throttling's 429 and a timeout's 504 come from API Gateway, not our
    code: without CORS the website and the staff page would see a network error, not the status
    (the staff page would not ask an expired sign-in to sign in again; the form would not say
    "wait a minute")."""
    from functions.core.http import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, SECURITY_HEADERS

    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert "/intake" in body["paths"], "the merge replaced chalice's API body"
    responses = body["x-amazon-apigateway-gateway-responses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = {k.removeprefix("gatewayresponse.header."): v
                   for k, v in responses[kind]["responseParameters"].items()}
        assert headers["Access-Control-Allow-Origin"] == {"Fn::Sub": ["'${Origin}'", {
            "Origin": {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "AllowedOrigins"}]}]}}]}, kind
        assert headers["Access-Control-Allow-Headers"] == f"'{CORS_ALLOW_HEADERS}'", kind
        assert headers["Access-Control-Allow-Methods"] == f"'{CORS_ALLOW_METHODS}'", kind
        assert headers["Cache-Control"] == f"'{SECURITY_HEADERS['Cache-Control']}'", kind
        template = responses[kind]["responseTemplates"]["application/json"]
        rendered = json.loads(template.replace("$context.error.messageString", '"Unauthorized"'))
        assert rendered == {"errors": [{"field": "", "message": "Unauthorized"}]}, kind


def test_staff_routes_use_the_stacks_user_pool_not_the_placeholder(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    placeholder = user_pool_placeholder()
    assert placeholder not in json.dumps(template)
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    authorizers = [
        d["x-amazon-apigateway-authorizer"]
        for d in body.get("securityDefinitions", {}).values()
        if d.get("x-amazon-apigateway-authtype") == "cognito_user_pools"
    ]
    assert authorizers, "no Cognito authorizer on the API"
    for authorizer in authorizers:
        assert authorizer["providerARNs"] == [{"Fn::GetAtt": ["StaffUserPool", "Arn"]}]
    assert resources["StaffUserPool"]["Type"] == "AWS::Cognito::UserPool"


# --------------------------------------------------------------------------- zip
def test_zip_holds_the_app_and_every_workflow_module(names: list[str]) -> None:
    present = set(names)
    tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").rglob("*.py") if "__pycache__" not in p.parts}
    assert "app.py" in present
    assert tree, "no functions/ sources in the checkout"
    assert tree <= present, f"missing from the zip: {sorted(tree - present)[:5]}"


def test_zip_holds_no_project_code_but_the_app_and_functions(names: list[str]) -> None:
    """The operator commands (iop/), the local stack (local/), tests/ and infra/ stay behind: the
    functions never import them (tests/unit/test_layers.py), so shipping them would only add code."""
    modules = {n for n in names if n.endswith(".py")}
    project = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"vendor"}
    ours = {PurePosixPath(n).parts[0] for n in modules} & project
    assert ours == {"app.py", "functions"}
    assert not [n for n in modules if PurePosixPath(n).parts[0] in {"iop", "local", "tests", "infra"}]
    for handler in HANDLERS.values():
        module = handler.rpartition(".")[0]
        assert f"{module.replace('.', '/')}.py" in modules, handler


def test_the_build_refuses_a_package_that_holds_code_that_stays_behind(tmp_path: Path) -> None:
    for stray in ("local/clock.py", "iop/cli.py", "tests/factories.py", "infra/build.py"):
        package = tmp_path / "chalice.zip"
        with zipfile.ZipFile(package, "w") as zf:
            zf.writestr("app.py", "app = None\n")
            zf.writestr(stray, "x = 1\n")
        with pytest.raises(BuildError, match=stray):
            rewrite_zip(package, tmp_path / "deployment.zip")


def test_every_module_ships_precompiled_unchecked_bytecode(names: list[str], package: BuildResult) -> None:
    present = set(names)
    ours = [n for n in names if n.endswith(".py") and (n == "app.py" or n.startswith("functions/"))]
    for name in ours:
        path = PurePosixPath(name)
        assert str(path.parent / "__pycache__" / f"{path.stem}.{TAG}.pyc").removeprefix("./") in present, name
    with zipfile.ZipFile(package.zip_path) as zf:
        for name in ("app.py", "functions/core/settings.py"):
            source = zf.read(name)
            pyc = zf.read(
                f"__pycache__/app.{TAG}.pyc" if name == "app.py" else f"functions/core/__pycache__/settings.{TAG}.pyc"
            )
            assert pyc[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, source never checked
            assert pyc[8:16] == importlib.util.source_hash(source)
    pycs = [n for n in names if n.endswith(".pyc")]
    assert all(f".{TAG}.pyc" in n and "/__pycache__/" in f"/{n}" for n in pycs)
    assert package.compiled == len(pycs) and package.files == len(names)


def test_zip_entries_are_sorted_world_readable_and_undated(package: BuildResult) -> None:
    with zipfile.ZipFile(package.zip_path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert all((i.external_attr >> 16) & 0o444 == 0o444 for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_rebuilding_the_zip_gives_the_same_bytes(package: BuildResult, tmp_path: Path) -> None:
    # Deterministic: the build drops every .pyc, recompiles and rewrites; from its own output it must
    # reproduce that output byte for byte (a full second build would race with edits to the tree).
    again = tmp_path / "deployment.zip"
    assert rewrite_zip(package.zip_path, again) == (package.files, package.compiled)
    assert again.read_bytes() == package.zip_path.read_bytes()


# --------------------------------------------------------------------------- imports, as Lambda does
IMPORT_SCRIPT = r"""
import importlib, json, sys
task, handlers = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, task)
result = {}
for logical, handler in handlers.items():
    module_name, _, attr = handler.rpartition(".")
    module = importlib.import_module(module_name)
    result[logical] = {"callable": callable(getattr(module, attr)), "file": module.__file__}
result["_modules"] = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
result["_path"] = sys.path
print(json.dumps(result))
"""


@pytest.fixture(scope="session")
def imported(unzipped: Path, resources: dict[str, Any]) -> Iterator[dict[str, Any]]:
    handlers = {k: p["Handler"] for k, p in of_type(resources, "AWS::Serverless::Function").items()}
    before = files_under(unzipped)
    env = {"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_SCRIPT, str(unzipped), json.dumps(handlers)],
        cwd=unzipped,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    result["_written"] = sorted(files_under(unzipped) - before)
    yield result


def test_every_handler_imports_from_the_zip_alone(imported: dict[str, Any], unzipped: Path) -> None:
    for logical in HANDLERS:
        assert imported[logical]["callable"] is True, logical
        assert imported[logical]["file"].startswith(str(unzipped)), logical
    assert not any("site-packages" in p for p in imported["_path"])


def test_nothing_is_imported_from_outside_the_zip_and_the_standard_library(
    imported: dict[str, Any], unzipped: Path
) -> None:
    stdlib = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}
    outside = [
        f for f in imported["_modules"] if not f.startswith(str(unzipped)) and not any(f.startswith(s) for s in stdlib)
    ]
    assert outside == []


def test_importing_compiles_nothing_because_every_module_came_precompiled(imported: dict[str, Any]) -> None:
    # Lambda's /var/task is read-only: a module without a valid .pyc is recompiled at every cold start.
    assert imported["_written"] == []
