"""``make deploy STAGE=... [DRY_RUN=1]`` (infra/deploy.py): the stage file, the dry run, the deploy.

The dry run runs as a process with no AWS credentials and an endpoint nothing listens on: any AWS
call would fail it. The deploy itself runs on moto's S3 (the uploads) with CloudFormation stubbed
(moto cannot run the SAM transform): the change set it asks for, the order of calls, the outputs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra import deploy
from infra.template import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]
STAGE = {
    "region": "us-east-2",
    "artifact_bucket": "harbor-deploy-artifacts",
    "parameters": {
        "ClinicName": "Lakeside Behavioral Health",
        "ClinicPhone": "+13035550142",
        "SenderEmail": "reminders@lakesidebh.org",
        "SenderDomain": "lakesidebh.org",
        "IntakeStaffEmail": "intake@lakesidebh.org",
        "CareTeamEmail": "care-team@lakesidebh.org",
        "OpsEmail": "ops@lakesidebh.org",
        "AllowedOrigins": "https://www.lakesidebh.org,https://lakesidebh.org",
        "PublicBaseUrl": "https://www.lakesidebh.org",
        "SmsOriginationNumber": "+13035550199",
        "LogRetentionDays": 365,
    },
    "website": {"privacyNoticeUrl": "https://www.lakesidebh.org/privacy"},
}


def write_stage(directory: Path, name: str, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def problems_of(tmp_path: Path, change: dict[str, Any], name: str = "prod") -> list[str]:
    data = copy.deepcopy(STAGE)
    for key, value in change.items():
        if key.startswith("parameters."):
            param = key.split(".", 1)[1]
            if value is None:
                data["parameters"].pop(param, None)
            else:
                data["parameters"][param] = value
        else:
            data[key] = value
    write_stage(tmp_path, name, data)
    with pytest.raises(deploy.StageError) as raised:
        deploy.load_stage(name, tmp_path)
    return raised.value.problems


def test_a_complete_stage_file_loads_with_the_stage_name_as_a_parameter(tmp_path: Path) -> None:
    write_stage(tmp_path, "prod", STAGE)
    stage = deploy.load_stage("prod", tmp_path)
    assert stage.stack_name == "virtual-iop-prod"
    assert stage.parameters["Stage"] == "prod"
    assert stage.parameters["LogRetentionDays"] == "365"
    assert set(stage.parameters) <= set(PARAMETERS)


@pytest.mark.parametrize(("change", "expected"), [
    ({"parameters.OpsEmail": None}, "parameters.OpsEmail: required"),
    ({"parameters.ClinicPhone": "303-555-0142"}, "parameters.ClinicPhone: must be an E.164 number"),
    ({"parameters.SmsOriginationNumber": "5550199"}, "parameters.SmsOriginationNumber: must be an E.164"),
    ({"parameters.AllowedOrigins": "*"}, "parameters.AllowedOrigins: '*' would let any site post intakes"),
    ({"parameters.AllowedOrigins": "http://www.lakesidebh.org"}, "must start with https://"),
    ({"parameters.AllowedOrigins": "https://www.lakesidebh.org/"}, "must be an origin only"),
    ({"parameters.SenderEmail": "reminders@gmail.com"}, "parameters.SenderEmail: must be an address of SenderDomain"),
    ({"parameters.IntakeStaffEmail": "intake@clinic.example"}, "parameters.IntakeStaffEmail: still the example"),
    ({"parameters.ClinicPhone": "+15555550100"}, "parameters.ClinicPhone: still the example value"),
    ({"parameters.Stage": "dev"}, "parameters.Stage: set by the stage file's name"),
    ({"parameters.OpsEmial": "ops@lakesidebh.org"}, "parameters.OpsEmial: not a template parameter"),
    ({"parameters.LogRetentionDays": 100}, "parameters.LogRetentionDays: one of"),
    ({"parameters.PublicBaseUrl": "http://www.lakesidebh.org"}, "parameters.PublicBaseUrl: must start with https"),
    ({"parameters.PublicBaseUrl": "https://www.lakesidebh.org/"}, "parameters.PublicBaseUrl: the site's address"),
    ({"region": "ohio"}, "region: an AWS region"),
    ({"artifact_bucket": "No_Such Bucket"}, "artifact_bucket:"),
    ({"website": {"apiBase": "http://api.lakesidebh.org"}}, "website.apiBase:"),
    ({"bucket": "x"}, "bucket: unknown key"),
])
def test_each_stage_file_problem_is_named(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    problems = problems_of(tmp_path, change)
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"parameters.OpsEmail": None, "parameters.ClinicPhone": "x", "region": "x"})
    assert len(problems) == 3


@pytest.mark.parametrize(("name", "expected"), [("local", "reserved"), ("test", "reserved"),
                                                ("Prod", "lower-case"), ("missing", "no such file"),
                                                ("aws-prod", "sign-in domain"), ("amazonia", "sign-in domain"),
                                                ("cognito", "sign-in domain")])
def test_reserved_malformed_and_missing_stages_are_refused(tmp_path: Path, name: str, expected: str) -> None:
    with pytest.raises(deploy.StageError) as raised:
        deploy.load_stage(name, tmp_path)
    assert expected in raised.value.problems[0]


def test_the_example_stage_file_is_refused_until_filled_in() -> None:
    with pytest.raises(deploy.StageError) as raised:
        deploy.load_stage("example")
    assert {p.split(":")[0] for p in raised.value.problems} >= {f"parameters.{n}" for n in deploy.REQUIRED
                                                               if n != "ClinicName"}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``python -m infra.deploy --stage prod --dry-run`` with no credentials and a dead endpoint."""
    base = tmp_path_factory.mktemp("deploy")
    stage = copy.deepcopy(STAGE)
    stage["website"]["apiBase"] = "https://api.lakesidebh.org"
    write_stage(base / "stages", "prod", stage)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_SHARED_CREDENTIALS_FILE=str(base / "none"),
               AWS_CONFIG_FILE=str(base / "none"), AWS_EC2_METADATA_DISABLED="true")
    result = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "--stage", "prod", "--dry-run",
         "--stages-dir", str(base / "stages"), "--build-dir", str(base / "build")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    return result, base / "build" / "prod"


def test_the_dry_run_builds_and_plans_without_calling_aws(
        dry_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = dry_run
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing was sent to AWS" in result.stdout
    assert "stack virtual-iop-prod in us-east-2" in result.stdout
    assert "SmsOriginationNumber=+13035550199" in result.stdout


def test_the_dry_run_packages_every_function_against_the_uploaded_zip(
        dry_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, build = dry_run
    zip_hash = hashlib.sha256((build / "deployment.zip").read_bytes()).hexdigest()
    packaged = json.loads((build / "packaged.json").read_text())
    functions = {name: r["Properties"]["CodeUri"] for name, r in packaged["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) == 6
    assert set(functions.values()) == {f"s3://harbor-deploy-artifacts/virtual-iop-prod/{zip_hash}.zip"}
    template_hash = hashlib.sha256((build / "packaged.json").read_bytes()).hexdigest()
    assert f"virtual-iop-prod/{template_hash}.json" in dry_run[0].stdout


def test_the_stage_website_points_at_the_stage_api_with_a_strict_policy(
        dry_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, build = dry_run
    web = build / "web"
    assert (web / "index.html").is_file() and (web / "app.js").is_file()
    assert not (web / "outbox.html").exists() and not (web / "outbox.js").exists()
    config = (web / "config.js").read_text()
    payload = json.loads(config.split("window.IOP_CONFIG = ", 1)[1].rstrip().rstrip(";"))
    assert payload == {"apiBase": "https://api.lakesidebh.org", "clinicName": "Lakeside Behavioral Health",
                       "clinicPhone": "+13035550142", "privacyNoticeUrl": "https://www.lakesidebh.org/privacy"}
    csp = json.loads((web / "headers.json").read_text())["Content-Security-Policy"]
    assert "connect-src 'self' https://api.lakesidebh.org;" in csp
    assert "script-src 'self';" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp


def _stub_deploy(cfn: Any, *, exists: bool, empty: bool = False) -> Stubber:
    stubber = Stubber(cfn)
    stack = "virtual-iop-prod"
    if exists:
        stubber.add_response("describe_stacks", {"Stacks": [
            {"StackName": stack, "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z"}]},
            {"StackName": stack})
    else:
        stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {stack} does not exist")
    stubber.add_response("create_change_set", {"Id": "cs-1", "StackId": "stack-1"}, {
        "StackName": stack, "ChangeSetName": "deploy-1", "ChangeSetType": "UPDATE" if exists else "CREATE",
        "TemplateURL": ANY, "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"], "Parameters": ANY,
        "Tags": ANY})
    if empty:
        failed = {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes.",
                  "ChangeSetName": "deploy-1", "StackName": stack}
        stubber.add_response("describe_change_set", failed)  # the waiter sees FAILED
        stubber.add_response("describe_change_set", failed)  # why
        stubber.add_response("delete_change_set", {})
    else:
        ready = {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "ChangeSetName": "deploy-1",
                 "StackName": stack, "Changes": [{"Type": "Resource", "ResourceChange": {
                     "Action": "Modify", "LogicalResourceId": "APIHandler",
                     "ResourceType": "AWS::Lambda::Function", "Replacement": "False"}}]}
        stubber.add_response("describe_change_set", ready)  # the waiter
        stubber.add_response("describe_change_set", ready)  # the listing
        stubber.add_response("execute_change_set", {})
        done = "UPDATE_COMPLETE" if exists else "CREATE_COMPLETE"
        stubber.add_response("describe_stacks", {"Stacks": [
            {"StackName": stack, "StackStatus": done, "CreationTime": "2026-01-01T00:00:00Z"}]})
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackName": stack, "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z",
        "Outputs": [{"OutputKey": "EndpointURL", "OutputValue": "https://abc123.execute-api.us-east-2.amazonaws.com/api/"},
                    {"OutputKey": "StaffUserPoolId", "OutputValue": "us-east-2_AbCdEf"},
                    {"OutputKey": "StaffUserPoolClientId", "OutputValue": "4abcdefghijklmnopqrstuv123"},
                    {"OutputKey": "StaffSignInUrl",
                     "OutputValue": "https://virtual-iop-prod-123456789012.auth.us-east-2.amazoncognito.com"}]}]})
    stubber.activate()
    return stubber


@pytest.mark.parametrize("exists", [False, True], ids=["first deploy", "update"])
def test_deploy_uploads_once_and_runs_one_change_set(
        aws: Any, dry_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path, exists: bool) -> None:
    _, build = dry_run
    write_stage(tmp_path / "stages", "prod", STAGE)
    s3 = boto3.client("s3", region_name="us-east-2")
    s3.create_bucket(Bucket="harbor-deploy-artifacts", CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    cfn = boto3.client("cloudformation", region_name="us-east-2")
    stubber = _stub_deploy(cfn, exists=exists)
    said: list[str] = []
    original = deploy.deploy_stack

    def named(*args: Any, **kwargs: Any) -> dict[str, str]:
        return original(*args, change_set_name="deploy-1", **kwargs)

    work = tmp_path / "build"
    (work / "prod").mkdir(parents=True)
    for name in ("template.json", "deployment.zip"):
        (work / "prod" / name).write_bytes((build / name).read_bytes())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy, "deploy_stack", named)
        patch.setattr("botocore.waiter.time.sleep", lambda _s: None)
        result = deploy.run("prod", dry_run=False, build_root=work, stages_dir=tmp_path / "stages",
                            clients=lambda service, _region: s3 if service == "s3" else cfn,
                            say=said.append, build=lambda _out: None)
    stubber.assert_no_pending_responses()
    assert result["StaffUserPoolId"] == "us-east-2_AbCdEf"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="harbor-deploy-artifacts")["Contents"])
    assert sorted(k.rsplit(".", 1)[1] for k in keys) == ["json", "zip"]  # one template, one zip
    assert any("Modify  APIHandler" in line for line in said)
    config = (work / "prod" / "web" / "config.js").read_text()
    assert '"apiBase": "https://abc123.execute-api.us-east-2.amazonaws.com/api"' in config
    # the staff page signs in through the pool's hosted sign-in, and may exchange its code there
    sign_in = "https://virtual-iop-prod-123456789012.auth.us-east-2.amazoncognito.com"
    payload = json.loads(config.split("window.IOP_CONFIG = ", 1)[1].rstrip().rstrip(";"))
    assert payload["staffAuth"] == {"domain": sign_in, "clientId": "4abcdefghijklmnopqrstuv123"}
    csp = json.loads((work / "prod" / "web" / "headers.json").read_text())["Content-Security-Policy"]
    assert f"connect-src 'self' https://abc123.execute-api.us-east-2.amazonaws.com {sign_in};" in csp
    assert (work / "prod" / "web" / "staff.html").is_file() and (work / "prod" / "web" / "staff.js").is_file()


def test_an_unchanged_stack_is_no_changes_not_a_failure(
        aws: Any, dry_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path) -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-2")
    stubber = _stub_deploy(cfn, exists=True, empty=True)
    write_stage(tmp_path, "prod", STAGE)
    said: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.waiter.time.sleep", lambda _s: None)
        result = deploy.deploy_stack(cfn, deploy.load_stage("prod", tmp_path), "https://x/y.json",
                                     say=said.append, change_set_name="deploy-1")
    stubber.assert_no_pending_responses()
    assert said == ["virtual-iop-prod: no changes to deploy"]
    assert result["EndpointURL"].endswith("/api/")


def test_make_deploy_without_a_stage_says_how_to_call_it() -> None:
    result = subprocess.run(["make", "--no-print-directory", "deploy"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ, "STAGE": ""})
    assert result.returncode != 0
    assert "usage: make deploy STAGE=<stage> [DRY_RUN=1]" in result.stdout
