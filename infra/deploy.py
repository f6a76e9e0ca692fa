"""Deploy a stage to the clinic's AWS account: ``make deploy STAGE=prod [DRY_RUN=1]``.

    python -m infra.deploy --stage prod [--dry-run]

The stage's settings live in ``infra/stages/<stage>.json`` (``infra/stages/example.json`` shows
every key; docs/deploy.md explains each). The command:

1. checks the stage file (every template parameter the clinic must set, in the form AWS will
   accept: E.164 phones, https origins, a sender address inside the verified domain) and stops with
   one line per problem before anything is built;
2. builds ``build/<stage>/template.json`` and ``deployment.zip`` (infra/build.py: chalice package,
   precompiled ``.pyc``);
3. packages it as ``aws cloudformation package`` does: uploads the zip and the template (117 kB:
   above CloudFormation's 51 kB inline limit) to the artifact bucket under content-hash keys, with
   every function's ``CodeUri`` pointing at the uploaded zip;
4. deploys it as ``aws cloudformation deploy`` does: one change set (CREATE or UPDATE, with
   ``CAPABILITY_IAM`` and ``CAPABILITY_AUTO_EXPAND`` for the SAM transform), its changes listed,
   executed, waited on; an empty change set is "no changes", not a failure;
5. prints the stack's outputs (API URL, user pool and client ids, inbound SMS topic, ops topic) and
   writes the website for the stage to ``build/<stage>/web/``: the static pages without the local
   outbox page, ``config.js`` with the stage's API URL, and ``headers.json``: the security headers
   (Content-Security-Policy naming the API origin) the site's host must send.

``--dry-run`` does steps 1 and 2, writes ``build/<stage>/packaged.json`` as it would be uploaded and
prints the plan, and stops before any AWS call (it needs no credentials). Both are boto3 calls, not
the AWS CLI: nothing to install beyond the project's venv.

Exit status: 0 deployed (or planned); 2 the stage file is wrong (one line per problem); 1 the
build or AWS failed (the error's code and message: they name resources, never data).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
STAGES = ROOT / "infra" / "stages"
WEB = ROOT / "web"
APP = "virtual-iop"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
LOCAL_ONLY_WEB = {"outbox.html", "outbox.js"}
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")  # the template's Stage AllowedPattern
RESERVED_STAGES = {"local", "test"}  # the local stack's and the test suite's
# the staff sign-in domain prefix is virtual-iop-<stage>-<account id>; Cognito refuses a prefix
# containing any of these words, which would fail the stack half-way through its first deploy
COGNITO_RESERVED_WORDS = ("aws", "amazon", "cognito")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
EMAIL = re.compile(r"^[^@\s]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
# Parameters the clinic must set: the template's defaults are placeholders (clinic.example).
REQUIRED = ("ClinicName", "ClinicPhone", "SenderEmail", "SenderDomain", "IntakeStaffEmail", "CareTeamEmail",
            "OpsEmail", "AllowedOrigins", "PublicBaseUrl")
PLACEHOLDER_DOMAINS = ("example", "example.com", "example.org", "clinic.example")
EMPTY_CHANGE_SET = ("didn't contain changes", "No updates are to be performed")


class StageError(Exception):
    """The stage file is wrong; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class DeployError(Exception):
    """AWS refused or the stack ended in a failed state (the message names resources only)."""


@dataclass(frozen=True)
class Stage:
    name: str
    region: str
    artifact_bucket: str
    stack_name: str
    parameters: dict[str, str]
    website: dict[str, Any] = field(default_factory=dict)


def _placeholder(value: str, default: Any) -> bool:
    """The template's own default, or an address/URL at a reserved example domain."""
    text = value.strip().lower()
    host = (urlsplit(text).hostname or "") if "://" in text else text.rsplit("@", 1)[-1]
    return text == str(default).lower() or any(host == d or host.endswith("." + d) for d in PLACEHOLDER_DOMAINS)


def _origin(value: str) -> str | None:
    """The problem with an origin (``https://host[:port]``, nothing after it), or None."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return "must start with https:// and name a host"
    if parts.path or parts.query or parts.fragment or value.endswith("/"):
        return "must be an origin only (no path or trailing slash)"
    return None


def check_parameters(parameters: dict[str, Any], template_parameters: dict[str, Any]) -> list[str]:
    """Every problem with the stage's template parameters, one line each (empty: all good)."""
    problems: list[str] = []
    for name in sorted(set(parameters) - set(template_parameters)):
        problems.append(f"parameters.{name}: not a template parameter (one of: {', '.join(template_parameters)})")
    if "Stage" in parameters:
        problems.append("parameters.Stage: set by the stage file's name, not here")
    for name in REQUIRED:
        value = parameters.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"parameters.{name}: required (the template's default is a placeholder)")
        elif _placeholder(value, template_parameters.get(name, {}).get("Default", "")):
            problems.append(f"parameters.{name}: still the example value; use the clinic's own")
    for name, value in parameters.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            problems.append(f"parameters.{name}: must be a string or a number")
    text = {k: str(v).strip() for k, v in parameters.items() if isinstance(v, (str, int))}
    for name in ("ClinicPhone", "SmsOriginationNumber"):
        if text.get(name) and not E164.match(text[name]):
            problems.append(f"parameters.{name}: must be an E.164 number like +15555550123")
    for name in ("SenderEmail", "IntakeStaffEmail", "CareTeamEmail", "OpsEmail"):
        if text.get(name) and not EMAIL.match(text[name]):
            problems.append(f"parameters.{name}: must be an email address")
    sender, domain = text.get("SenderEmail", ""), text.get("SenderDomain", "").lower()
    if sender and domain and EMAIL.match(sender) and not sender.lower().endswith("@" + domain) \
            and not sender.lower().endswith("." + domain):
        problems.append("parameters.SenderEmail: must be an address of SenderDomain (the domain SES verified)")
    for origin in (o.strip() for o in text.get("AllowedOrigins", "").split(",") if o.strip()):
        if origin == "*":
            problems.append("parameters.AllowedOrigins: '*' would let any site post intakes; list the site's origins")
        elif reason := _origin(origin):
            problems.append(f"parameters.AllowedOrigins: {origin!r} {reason}")
    base = text.get("PublicBaseUrl", "")
    if base and urlsplit(base).scheme != "https":
        problems.append("parameters.PublicBaseUrl: must start with https://")
    elif base.endswith("/") or urlsplit(base).query or urlsplit(base).fragment:
        # staff emails link to <PublicBaseUrl>/staff.html, and Cognito calls back to exactly that
        problems.append("parameters.PublicBaseUrl: the site's address without a trailing '/', query or '#'")
    for name in ("ApiThrottleRateLimit", "ApiThrottleBurstLimit", "LogRetentionDays"):
        if name in text and not text[name].isdigit():
            problems.append(f"parameters.{name}: must be a whole number")
    allowed = template_parameters.get("LogRetentionDays", {}).get("AllowedValues")
    if allowed and text.get("LogRetentionDays", "").isdigit() and int(text["LogRetentionDays"]) not in allowed:
        problems.append(f"parameters.LogRetentionDays: one of {allowed}")
    return problems


def load_stage(name: str, stages_dir: Path = STAGES) -> Stage:
    """Read and check ``<stages_dir>/<name>.json``; StageError lists every problem."""
    from infra.template import PARAMETERS

    if not STAGE_PATTERN.match(name):
        raise StageError([f"stage {name!r}: lower-case letters, digits and '-', starting with a letter, "
                          "at most 16 characters"])
    if name in RESERVED_STAGES:
        raise StageError([f"stage {name!r} is reserved for the local stack and the tests"])
    if any(word in name for word in COGNITO_RESERVED_WORDS):
        raise StageError([f"stage {name!r}: the staff sign-in domain (virtual-iop-{name}-<account id>) may not "
                          f"contain {', '.join(repr(w) for w in COGNITO_RESERVED_WORDS)} (Cognito refuses it)"])
    path = stages_dir / f"{name}.json"
    if not path.is_file():
        raise StageError([f"{path}: no such file (copy infra/stages/example.json and fill it in)"])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StageError([f"{path}: not valid JSON ({exc})"]) from None
    if not isinstance(data, dict):
        raise StageError([f"{path}: must be a JSON object"])
    problems: list[str] = []
    known = {"region", "artifact_bucket", "stack_name", "parameters", "website", "comment"}
    problems += [f"{key}: unknown key (one of: {', '.join(sorted(known))})" for key in sorted(set(data) - known)]
    region = data.get("region")
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        problems.append("region: an AWS region like us-east-1")
    bucket = data.get("artifact_bucket")
    if not isinstance(bucket, str) or not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        problems.append("artifact_bucket: the S3 bucket (in the same region) that holds deployment artifacts")
    stack = data.get("stack_name", f"{APP}-{name}")
    if not isinstance(stack, str) or not re.match(r"^[A-Za-z][A-Za-z0-9-]{0,127}$", stack):
        problems.append("stack_name: letters, digits and '-', starting with a letter")
    parameters = data.get("parameters")
    if not isinstance(parameters, dict):
        problems.append("parameters: an object of template parameters (see infra/stages/example.json)")
        parameters = {}
    problems += check_parameters(parameters, PARAMETERS)
    website = data.get("website", {})
    if not isinstance(website, dict):
        problems.append("website: an object (payers, privacyNoticeUrl, apiBase)")
        website = {}
    api_base = website.get("apiBase")
    if api_base is not None and (not isinstance(api_base, str) or urlsplit(api_base).scheme != "https"
                                 or not urlsplit(api_base).hostname):
        problems.append("website.apiBase: the API's https:// address (a custom domain); leave it out to use "
                        "the stack's EndpointURL")
    if problems:
        raise StageError(problems)
    return Stage(name=name, region=str(region), artifact_bucket=str(bucket), stack_name=str(stack),
                 parameters={"Stage": name, **{k: str(v) for k, v in parameters.items()}}, website=website)


# -- packaging (what `aws cloudformation package` does) --------------------------------------------------

def content_key(stack: str, data: bytes, suffix: str) -> str:
    return f"{stack}/{hashlib.sha256(data).hexdigest()}{suffix}"


def packaged_template(template: dict[str, Any], code_uri: str) -> dict[str, Any]:
    """The template with every function's ``CodeUri`` pointing at the uploaded zip."""
    out: dict[str, Any] = json.loads(json.dumps(template))
    functions = [r for r in out["Resources"].values() if r.get("Type") == "AWS::Serverless::Function"]
    if not functions:
        raise DeployError("the built template has no functions")
    for resource in functions:
        resource["Properties"]["CodeUri"] = code_uri
    return out


@dataclass(frozen=True)
class Package:
    template_path: Path
    template_body: bytes
    template_key: str
    zip_key: str
    zip_path: Path


def package(stage: Stage, build_dir: Path) -> Package:
    """Write ``packaged.json`` for the stage's bucket (no AWS call: the keys are content hashes)."""
    zip_path = build_dir / "deployment.zip"
    zip_key = content_key(stage.stack_name, zip_path.read_bytes(), ".zip")
    template = json.loads((build_dir / "template.json").read_text())
    body = json.dumps(packaged_template(template, f"s3://{stage.artifact_bucket}/{zip_key}"),
                      indent=1, sort_keys=True).encode()
    path = build_dir / "packaged.json"
    path.write_bytes(body)
    return Package(template_path=path, template_body=body, template_key=content_key(stage.stack_name, body, ".json"),
                   zip_key=zip_key, zip_path=zip_path)


def upload(s3: Any, stage: Stage, pkg: Package) -> str:
    """Upload the zip and the template (skipped when the same content is there); the template's URL."""
    for key, body in ((pkg.zip_key, pkg.zip_path.read_bytes()), (pkg.template_key, pkg.template_body)):
        try:
            s3.head_object(Bucket=stage.artifact_bucket, Key=key)
            continue
        except Exception as exc:  # 404: not uploaded yet; anything else surfaces on put_object
            if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(Bucket=stage.artifact_bucket, Key=key, Body=body, ServerSideEncryption="aws:kms")
    return f"https://{stage.artifact_bucket}.s3.{stage.region}.amazonaws.com/{pkg.template_key}"


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


# -- deploying (what `aws cloudformation deploy` does) ---------------------------------------------------

def stack_exists(cfn: Any, stack: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        if _code(exc) == "ValidationError":  # "Stack with id ... does not exist"
            return False
        raise
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def deploy_stack(cfn: Any, stage: Stage, template_url: str, *, say: Callable[[str], None] = print,
                 change_set_name: str | None = None) -> dict[str, str]:
    """Create, show and execute one change set; the stack's outputs (``{}`` changes nothing)."""
    kind = "UPDATE" if stack_exists(cfn, stage.stack_name) else "CREATE"
    name = change_set_name or f"deploy-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    cfn.create_change_set(
        StackName=stage.stack_name, ChangeSetName=name, ChangeSetType=kind, TemplateURL=template_url,
        Capabilities=CAPABILITIES, Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                               for k, v in sorted(stage.parameters.items())],
        Tags=[{"Key": "app", "Value": APP}, {"Key": "stage", "Value": stage.name}])
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stage.stack_name, ChangeSetName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except Exception as exc:
        described = cfn.describe_change_set(StackName=stage.stack_name, ChangeSetName=name)
        reason = str(described.get("StatusReason", ""))
        if any(text in reason for text in EMPTY_CHANGE_SET):
            say(f"{stage.stack_name}: no changes to deploy")
            cfn.delete_change_set(StackName=stage.stack_name, ChangeSetName=name)
            return outputs(cfn, stage.stack_name)
        raise DeployError(f"change set {name} failed: {reason or exc}") from None
    described = cfn.describe_change_set(StackName=stage.stack_name, ChangeSetName=name)
    changes = [c["ResourceChange"] for c in described.get("Changes", []) if "ResourceChange" in c]
    say(f"{stage.stack_name}: {kind} with {len(changes)} resource change(s)")
    for change in changes:
        say(f"  {change.get('Action', '?'):<7} {change.get('LogicalResourceId')} ({change.get('ResourceType')})"
            + (" replacement" if change.get("Replacement") == "True" else ""))
    cfn.execute_change_set(StackName=stage.stack_name, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stage.stack_name, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    except Exception:
        status = cfn.describe_stacks(StackName=stage.stack_name)["Stacks"][0]
        raise DeployError(f"{stage.stack_name} ended {status['StackStatus']}: "
                          f"{status.get('StackStatusReason', 'see the stack events')}") from None
    return outputs(cfn, stage.stack_name)


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


# -- the website ----------------------------------------------------------------------------------------

def _url_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(api_base: str, sign_in: str = "") -> str:
    """The site's policy: scripts, styles and images from itself only; it may call the API and
    (the staff page's token exchange) the staff sign-in domain."""
    connect = " ".join(filter(None, ["'self'", _url_origin(api_base), _url_origin(sign_in)]))
    return (f"default-src 'self'; connect-src {connect}; style-src 'self'; script-src 'self'; "
            "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def staff_auth(outputs: dict[str, str]) -> dict[str, str] | None:
    """The staff page's sign-in (config.js ``staffAuth``) from the stack's outputs."""
    domain, client = outputs.get("StaffSignInUrl", ""), outputs.get("StaffUserPoolClientId", "")
    return {"domain": domain.rstrip("/"), "clientId": client} if domain and client else None


def write_website(stage: Stage, api_base: str, dest: Path, sign_in: dict[str, str] | None = None) -> Path:
    """The stage's static site: web/ without the local outbox page, its config.js and headers.
    ``sign_in`` (:func:`staff_auth`) is the staff page's Cognito hosted sign-in."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(WEB, dest, ignore=lambda _d, names: [n for n in names if n in LOCAL_ONLY_WEB])
    config: dict[str, Any] = {"apiBase": api_base.rstrip("/"), "clinicName": stage.parameters["ClinicName"],
                              "clinicPhone": stage.parameters["ClinicPhone"]}
    config.update({k: v for k, v in stage.website.items() if k in ("payers", "privacyNoticeUrl")})
    if sign_in:
        config["staffAuth"] = sign_in
    (dest / "config.js").write_text(
        "/* written by `make deploy` for stage " + stage.name + " */\n"
        f"window.IOP_CONFIG = {json.dumps(config, indent=2)};\n", encoding="utf-8")
    headers = {"Content-Security-Policy": content_security_policy(api_base, (sign_in or {}).get("domain", "")),
               "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
               "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}
    (dest / "headers.json").write_text(json.dumps(headers, indent=2) + "\n", encoding="utf-8")
    return dest


# -- the command ----------------------------------------------------------------------------------------

def run(stage_name: str, *, dry_run: bool, build_root: Path = ROOT / "build", stages_dir: Path = STAGES,
        clients: Callable[[str, str], Any] | None = None, say: Callable[[str], None] = print,
        build: Callable[[Path], Any] | None = None) -> dict[str, str]:
    stage = load_stage(stage_name, stages_dir)
    build_dir = build_root / stage.name
    if build is None:
        from infra.build import build as build_package

        def build(out: Path) -> Any:
            return build_package(out)

    build(build_dir)
    pkg = package(stage, build_dir)
    say(f"stage {stage.name}: stack {stage.stack_name} in {stage.region}")
    say(f"  code     s3://{stage.artifact_bucket}/{pkg.zip_key}")
    say(f"  template s3://{stage.artifact_bucket}/{pkg.template_key} ({len(pkg.template_body)} bytes)")
    say("  parameters " + ", ".join(f"{k}={v}" for k, v in sorted(stage.parameters.items())))
    if dry_run:
        api_base = str(stage.website.get("apiBase", ""))
        if api_base:
            say(f"  website  {write_website(stage, api_base, build_dir / 'web')} (apiBase {api_base})")
        else:
            say("  website  written after the deploy, with the stack's EndpointURL output as apiBase")
        say(f"dry run: nothing was sent to AWS; the change set would be {', '.join(CAPABILITIES)} "
            f"on {pkg.template_path}")
        return {}
    if clients is None:
        import boto3

        def clients(service: str, region: str) -> Any:
            return boto3.client(service, region_name=region)

    url = upload(clients("s3", stage.region), stage, pkg)
    result = deploy_stack(clients("cloudformation", stage.region), stage, url, say=say)
    for key, value in sorted(result.items()):
        say(f"  {key:<24} {value}")
    api_base = str(stage.website.get("apiBase") or result.get("EndpointURL", ""))
    if api_base:
        site = write_website(stage, api_base, build_dir / "web", staff_auth(result))
        say(f"  website  {site} (apiBase {api_base.rstrip('/')})")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="the stage file infra/stages/<stage>.json")
    parser.add_argument("--dry-run", action="store_true", help="build and plan; no AWS call")
    parser.add_argument("--stages-dir", type=Path, default=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        run(args.stage, dry_run=args.dry_run, stages_dir=args.stages_dir, build_root=args.build_dir)
    except StageError as exc:
        for problem in exc.problems:
            print(f"deploy: {problem}", file=sys.stderr)
        return 2
    except Exception as exc:
        from infra.build import BuildError

        if isinstance(exc, (BuildError, DeployError)):
            print(f"deploy failed: {exc}", file=sys.stderr)
        else:
            print(f"deploy failed: {type(exc).__name__} {_code(exc)}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
