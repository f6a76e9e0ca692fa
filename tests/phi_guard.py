"""PHI-leak guard: a pytest plugin that fails the test whose code emitted a synthetic PHI value.

Registered for the whole suite from ``tests/conftest.py`` (``pytest_plugins``). For every test
(setup, call and teardown) it captures what leaves the code and would be visible to people or
systems without a need to know, and looks for the synthetic PHI of the test data in it:

=====================  ========================================================================
channel                what is scanned, and where it is captured
=====================  ========================================================================
``log``                every Powertools log line as the project's formatter wrote it (the text
                       ``LambdaPowertoolsFormatter.format`` returns, so ``PhiSafeFormatter``'s
                       scrubbing applies), and every other log record handled by any logger
                       (``logging.Logger.handle``: Chalice's "Caught exception" lines, plain
                       ``logging`` loggers), as ``message`` plus exception text and traceback
``metric``             every EMF document Powertools Metrics would print
                       (``AmazonCloudWatchEMFProvider.serialize_metric_set``)
``sms``                the body of every SMS: SNS ``Publish`` to a ``PhoneNumber``,
                       pinpoint-sms-voice-v2 ``SendTextMessage``, ``RecordingSms.send_sms``
``sns``                ``Subject``, ``Message`` and message attributes of SNS ``Publish`` to a topic
``email.subject``      every email subject: SES v2 / v1 ``SendEmail``, ``SendRawEmail`` (MIME
                       parsed), ``RecordingEmail.send_email``
``email.text``         the body of emails to STAFF (any recipient that is not a known patient
                       address): staff mail is minimum-necessary, links and ids only
``sqs.attribute``      SQS ``SendMessage`` / ``SendMessageBatch`` message attributes, message
                       system attributes, ``MessageGroupId``, ``MessageDeduplicationId``; the
                       ``dedup_id`` of ``RecordingQueue.publish``
``exception``          ``str()`` of every exception raised out of a Lambda entry point (Chalice
                       ``EventSourceHandler`` / ``LambdaFunction``: what the Lambda runtime
                       would log), and of every SQS record failure Powertools' batch processor
                       records (``failure_handler``: logged by Powertools)
=====================  ========================================================================

AWS calls are captured with a botocore event hook (``before-parameter-build.<service>.<op>``,
the same emitter as ``before-call`` but with the API parameters before serialization) registered
on every botocore client as it is created; a call counts only when project code (``functions/``,
``app.py``) is on the Python stack, so the tests' own clients (seeding queues, simulating an
inbound SMS through the topic) are not the code's emissions. The in-memory ports count only when
called from ``functions/`` too.

The synthetic PHI set is built once per session from the test data: ``events/*.json`` (JSON
bodies inside events are parsed too), ``local/demo/*.json``, ``examples/eligibility`` (JSON and
X12 271 files the tests read), and the Python sources under ``tests/`` (parsed with ``ast``, never
imported): string values of PHI keys in dict literals (``first_name``, ``last_name``,
``signature``, ``date_of_birth``, ``email``, ``phone``, ``member_id``, ``line1``, the ``name`` of
an emergency contact), PHI keyword arguments (``Inquiry(first_name="Zelda")``), module constants
named like PHI (``PHONE``, ``PATIENT``, ``EMAIL``, ``DOB``, ``BIRTH``, ``MEMBER_ID``, ``NAME``,
``FIRST_NAME``, ``LAST_NAME``) and the elements of the tests' own PHI tuples (``PHI``,
``PHI_VALUES``). A test adds values it generates with ``phi_guard.register(*values)`` or the
``phi_guard`` fixture (``phi_guard.register(...)``); they count until that test ends.

Matching
  * names: each word of a name of 4 characters or more, case-insensitive, as a substring, except
    inside a random-looking token (a run of 16 or more URL-safe base64 characters with a digit:
    signed links, ULIDs, hashes; or of 32 or more with or without one: the emulator's SES
    message ids), where a 4-letter name turns up by chance ("FUZz", "szalexqckrzt").
    Words shorter than 4 characters ("Ann", "Li", "Q") are not matched: they occur inside
    ordinary words and ids. Words that are also common words of this code base or of the test
    data are not matched either (:data:`COMMON_WORDS`: "Sample", "Demo", "Example", ...: the
    sample patient is "Jordan Sample", the demo one "Avery Demo"; their first names still count).
  * phones: digits only, the last 10 digits, looked up in every run of digits and phone
    punctuation (``+ ( ) - . space``) of the text, so "+12025550123", "(202) 555-0123" and
    "202.555.0123" all match; numbers shorter than 10 digits are not phones.
  * emails, dates of birth, member ids, group numbers: exact substring (emails and street lines
    case-insensitive). A date of birth also matches in X12 form ("19900412").
  * street addresses: the whole ``line1``, case-insensitive ("41 Orchard Lane"); city, state and
    postal code alone are not matched (the clinic's own city and time-zone names contain them).

Allowances (what legitimately carries these values, and is therefore not scanned)
  * destinations: the ``PhoneNumber`` of an SMS (a patient's own number is where their reminder
    goes), ``Destination`` / ``To`` of an email, ``QueueUrl``: only bodies, subjects and
    attributes count.
  * SQS message bodies: encrypted at rest, read only by the consumer, ids only by design but
    inbound SMS carry the sender's number; attributes are the part visible to queue metadata
    readers, so attributes count and bodies do not.
  * email bodies to patients (a recipient that is a known patient or registered address): a
    patient's own email may greet them; their subject still counts.
  * staff identities: roster members (``local/demo/roster.json`` and roster-shaped dicts in tests:
    a ``name`` without ``relationship``), staff token claims (dicts with ``sub``) and addresses at
    ``@clinic.example`` are workforce data, not PHI; staff pages carry the staff member's name, so
    a name word shared by a patient and a staff member of the test data is not matched ("Avery":
    the demo patient Avery Demo and the on-call "Avery Oncall" of tests/integration/test_crisis.py).
  * the clinic's own numbers (``ClinicPhone`` of the template, the tests' ``IOP_CLINIC_PHONE``).
  * stdout of commands (``iop eligibility parse``, exports) and HTTP responses to authorized
    staff: PHI by design, not captured at all.
  * emulator and library loggers (:data:`IGNORED_LOGGERS`: moto, werkzeug, botocore, urllib3, ...):
    they log request bodies only at DEBUG when a test turns debug on; in Lambda they log at WARNING.
  * a failing test's own report (assertion text, captured output) is not a leak.

e2e tests run the stack in another process: ``tests/e2e/conftest.py`` calls :func:`scan_stack`
with the stack's log and ``/_local/outbox`` when the session ``stack`` fixture ends.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_CODE_DIRS = (str(ROOT / "functions") + "/", str(ROOT / "app.py"))
_SELF = str(Path(__file__).resolve())

COMMON_WORDS = frozenset(
    {
        "sample", "demo", "example", "test", "testing", "patient", "staff", "clinic", "health", "plan",
        "user", "none", "null", "true", "false", "self", "name", "first", "last", "full", "main",
        "street", "road", "lane", "avenue", "sister", "brother", "mother", "father", "partner",
        "spouse", "friend", "harbor", "intake", "crisis", "group", "member",
    }
)
IGNORED_LOGGERS = ("moto", "werkzeug", "botocore", "boto3", "s3transfer", "urllib3", "asyncio",
                   "filelock", "hypothesis", "schemathesis", "playwright", "faker", "httpx", "py.warnings")
STAFF_DOMAINS = ("@clinic.example",)

_KEY_KIND = {
    "first_name": "name", "last_name": "name", "full_name": "name", "signature": "name",
    "middle_name": "name", "date_of_birth": "dob", "dob": "dob", "birth_date": "dob",
    "email": "email", "phone": "phone", "phone_number": "phone", "origination_number": "phone",
    "member_id": "member_id", "group_number": "member_id", "line1": "address", "line2": "address",
}
_CONST_KIND = re.compile(
    r"^(PATIENT_)?(PHONE|PATIENT|EMAIL|DOB|BIRTH|DATE_OF_BIRTH|MEMBER_ID|NAME|FIRST_NAME|LAST_NAME|ADDRESS)$"
)
_PHI_TUPLES = re.compile(r"^PHI(_VALUES)?$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_RUN = re.compile(r"[+(]?\d[\d ().+\-]*\d")
_PHONE_SHAPE = re.compile(r"^\+?[\d ().\-]+$")


def _norm_key(key: str) -> str:
    return _CAMEL.sub("_", key).lower().replace("-", "_")


# --------------------------------------------------------------------------- the PHI set
@dataclass
class PhiSet:
    names: set[str] = field(default_factory=set)  # lower-case words, >= 4 chars
    phones: set[str] = field(default_factory=set)  # last 10 digits
    emails: set[str] = field(default_factory=set)  # lower-case
    exact: dict[str, str] = field(default_factory=dict)  # value -> kind (dob, member_id)
    addresses: set[str] = field(default_factory=set)  # lower-case
    staff_names: set[str] = field(default_factory=set)
    _regex: re.Pattern[str] | None = None
    _kinds: dict[str, str] = field(default_factory=dict)

    def add(self, value: str, kind: str | None = None) -> None:
        value = str(value).strip()
        if not value:
            return
        kind = kind or classify(value)
        if kind == "email":
            if "@" not in value or value.lower().endswith(STAFF_DOMAINS):
                return  # a channel name ("queued") or a staff address
            self.emails.add(value.lower())
        elif kind == "phone":
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 10:
                self.phones.add(digits[-10:])
        elif kind == "dob":
            self.exact[value] = "dob"
            if _ISO_DATE.match(value):
                self.exact[value.replace("-", "")] = "dob"
        elif kind == "address":
            if len(value) >= 6:
                self.addresses.add(value.lower())
        elif kind == "name":
            for word in re.split(r"[^\w'-]+", value):
                word = word.strip("'-").lower()
                if len(word) >= 4 and word not in COMMON_WORDS and re.sub(r"['-]", "", word).isalpha():
                    self.names.add(word)
        elif len(value) >= 4:
            self.exact[value] = kind
        self._regex = None

    def add_staff_name(self, name: str) -> None:
        for word in re.split(r"[^\w'-]+", name):
            if word:
                self.staff_names.add(word.lower())
        self._regex = None

    def is_patient_email(self, address: str) -> bool:
        return address.strip().lower() in self.emails

    def _compiled(self) -> re.Pattern[str] | None:
        if self._regex is None:
            kinds: dict[str, str] = {}
            for word in self.names - self.staff_names:
                kinds[word] = "name"
            for email in self.emails:
                kinds[email] = "email"
            for address in self.addresses:
                kinds[address] = "address"
            for value, kind in self.exact.items():
                kinds[value.lower()] = kind
            self._kinds = kinds
            if kinds:
                alternatives = sorted(kinds, key=len, reverse=True)
                self._regex = re.compile("|".join(re.escape(a) for a in alternatives), re.IGNORECASE)
        return self._regex

    def find(self, text: str) -> list[tuple[str, str]]:
        """``(kind, value)`` of every PHI value in ``text``."""
        found: list[tuple[str, str]] = []
        regex = self._compiled()
        if regex is not None:
            for match in regex.finditer(text):
                value = match.group(0)
                kind = self._kinds.get(value.lower(), "name")
                if kind in ("dob", "member_id") and value not in self.exact:
                    continue  # exact values are case-sensitive
                if kind == "name" and _inside_token(text, match.start(), match.end()):
                    continue  # "FUZz" inside a signed link's base64 is chance, not a name
                found.append((kind, value))
        if self.phones:
            for run in _PHONE_RUN.findall(text):
                digits = re.sub(r"\D", "", run)
                if len(digits) >= 10:
                    for phone in self.phones:
                        if phone in digits:
                            found.append(("phone", run.strip()))
        return found


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _inside_token(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies inside a random-looking token: a run of 16+ URL-safe
    base64 characters with a digit in it (signed links, ULIDs, hashes, request ids), or a run of
    32+ of them with or without a digit (the emulator's SES message ids are 60 lowercase letters
    and hyphens: "...-szalexqckrzt-..." holds "alex" by chance; nobody writes a name into 32
    characters without a space or a dot)."""
    left, right = start, end
    while left > 0 and text[left - 1] in _TOKEN_CHARS:
        left -= 1
    while right < len(text) and text[right] in _TOKEN_CHARS:
        right += 1
    run = text[left:right]
    if (left, right) == (start, end):
        return False
    return len(run) >= 32 or (len(run) >= 16 and any(c.isdigit() for c in run))


def classify(value: str) -> str:
    """The kind of a bare value: email, dob, phone, member_id, address or name."""
    if "@" in value:
        return "email"
    if _ISO_DATE.match(value):
        return "dob"
    if _PHONE_SHAPE.match(value) and len(re.sub(r"\D", "", value)) >= 10:
        return "phone"
    if re.fullmatch(r"\d{8}", value):
        return "dob"
    if re.match(r"^\d+\s+\w", value):
        return "address"
    if any(c.isdigit() for c in value):
        return "member_id"
    return "name"


def _walk_json(value: Any, phi: PhiSet, path: tuple[str, ...] = ()) -> None:
    if isinstance(value, dict):
        keys = {_norm_key(str(k)) for k in value}
        roster_member = {"name", "timezone"} <= keys and "first_name" not in keys
        staff = roster_member or "sub" in keys or "members" in path or "always_email" in path
        if roster_member and isinstance(value.get("name"), str):
            phi.add_staff_name(value["name"])
        contact = "relationship" in keys or path[-1:] == ("emergency_contact",)
        for key, item in value.items():
            norm = _norm_key(str(key))
            if isinstance(item, str):
                kind = _KEY_KIND.get(norm)
                if norm == "name" and contact:
                    kind = "name"
                if kind and not staff:
                    phi.add(item, kind)
                elif item.lstrip().startswith(("{", "[")):
                    with contextlib.suppress(ValueError):
                        _walk_json(json.loads(item), phi, (*path, norm))
            else:
                _walk_json(item, phi, (*path, norm))
    elif isinstance(value, list):
        for item in value:
            _walk_json(item, phi, path)


def _walk_x12(text: str, phi: PhiSet) -> None:
    for segment in re.split(r"[~\n]", text):
        elements = re.split(r"[*|]", segment.strip())
        if elements[:2] == ["NM1", "IL"] and len(elements) > 4:
            phi.add(elements[3], "name")
            phi.add(elements[4], "name")
            if len(elements) > 9:
                phi.add(elements[9], "member_id")
        elif elements[:2] == ["DMG", "D8"] and len(elements) > 2:
            phi.add(elements[2], "dob")


def _walk_python(source: str, phi: PhiSet) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    constants: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            assigned = statement.value
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(assigned, ast.Constant) \
                        and isinstance(assigned.value, str):
                    constants[target.id] = assigned.value
                    if _CONST_KIND.match(target.id):
                        phi.add(assigned.value)

    def text_of(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name) and "STAFF" not in expr.id:
            return constants.get(expr.id)
        return None

    contacts: set[int] = set()  # dict literals that are the value of an "emergency_contact" key
    claims: set[int] = set()
    members: set[int] = set()  # dict literals listed under a "members" key (a roster tier)
    for item in ast.walk(tree):
        if isinstance(item, ast.Dict):
            for key, value in zip(item.keys, item.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "emergency_contact" and isinstance(value, ast.Dict):
                    contacts.add(id(value))
                if isinstance(key, ast.Constant) and key.value == "members" and isinstance(value, ast.List):
                    members.update(id(e) for e in value.elts if isinstance(e, ast.Dict))
        elif isinstance(item, ast.Call):  # staff token claims: sign(key, purpose, {"email": ...})
            callee = item.func.attr if isinstance(item.func, ast.Attribute) else getattr(item.func, "id", "")
            if callee.endswith("sign"):
                claims.update(id(arg) for arg in item.args if isinstance(arg, ast.Dict))

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            roster_member = ({"name", "timezone"} <= keys or id(node) in members) and "first_name" not in keys
            contact = "relationship" in keys or id(node) in contacts
            if roster_member:
                name = next((text_of(v) for k, v in zip(node.keys, node.values, strict=True)
                             if isinstance(k, ast.Constant) and k.value == "name"), None)
                if name:
                    phi.add_staff_name(name)
            if roster_member or "sub" in keys or id(node) in claims:
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    continue
                kind = _KEY_KIND.get(_norm_key(key.value)) or ("name" if key.value == "name" and contact else None)
                text = text_of(value)
                if kind and text:
                    phi.add(text, kind)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                kind = _KEY_KIND.get(keyword.arg or "")
                text = text_of(keyword.value) if kind else None
                if kind and text:
                    phi.add(text, kind)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and _PHI_TUPLES.match(node.targets[0].id) and isinstance(node.value, ast.Tuple | ast.List | ast.Set)):
            for element in node.value.elts:
                text = text_of(element)
                if text:
                    phi.add(text)


def build_phi_set(root: Path = ROOT) -> PhiSet:
    """The synthetic PHI of the repository's test data (see the module docstring)."""
    phi = PhiSet()
    for path in sorted([*root.glob("events/*.json"), *root.glob("local/demo/*.json"),
                        *root.glob("examples/eligibility/*.json"), *root.glob("tests/**/*.json")]):
        try:
            _walk_json(json.loads(path.read_text()), phi)
        except (ValueError, OSError):
            continue
    for path in sorted(root.glob("examples/eligibility/*.271")):
        _walk_x12(path.read_text(), phi)
    for path in sorted(root.glob("tests/**/*.py")):
        if str(path.resolve()) != _SELF:
            _walk_python(path.read_text(), phi)
    phi.phones -= _clinic_phones(root)
    return phi


def _clinic_phones(root: Path) -> set[str]:
    """The clinic's own numbers (template parameter defaults, the tests' ``IOP_CLINIC_PHONE``)."""
    found: set[str] = set()
    try:
        parameters = json.loads((root / "infra" / "merge-template.json").read_text()).get("Parameters", {})
    except (OSError, ValueError):
        parameters = {}
    for name, spec in parameters.items():
        if "phone" in name.lower() and isinstance(spec, dict):
            found.add(str(spec.get("Default", "")))
    for path in root.glob("tests/**/*.py"):
        found.update(re.findall(r"IOP_CLINIC_PHONE[\"']?\s*[:=,]\s*f?[\"']([^\"']+)", path.read_text()))
    return {re.sub(r"\D", "", phone)[-10:] for phone in found if len(re.sub(r"\D", "", phone)) >= 10}


# --------------------------------------------------------------------------- collection
@dataclass(frozen=True)
class Leak:
    channel: str
    kind: str
    value: str
    where: str
    excerpt: str

    def __str__(self) -> str:
        return f"[{self.channel}] {self.kind} {self.value!r} emitted at {self.where}\n    {self.excerpt}"


@dataclass
class Collector:
    extra: PhiSet = field(default_factory=PhiSet)
    leaks: list[Leak] = field(default_factory=list)

    def take(self) -> list[Leak]:
        leaks, self.leaks = self.leaks, []
        unique: dict[tuple[str, str, str, str], Leak] = {}
        for leak in leaks:
            unique.setdefault((leak.channel, leak.kind, leak.value.lower(), leak.where), leak)
        return list(unique.values())


_lock = threading.RLock()
_active: list[Collector] = []
_global_phi: PhiSet | None = None
_installed = False


def phi_set() -> PhiSet:
    global _global_phi
    if _global_phi is None:
        _global_phi = build_phi_set()
    return _global_phi


def register(*values: str, kind: str | None = None) -> None:
    """Add PHI values a test generates; they count until the current test ends (or for the session
    when called outside a test)."""
    with _lock:
        target = _active[-1].extra if _active else phi_set()
        for value in values:
            target.add(value, kind)


def find(text: str) -> list[tuple[str, str]]:
    """PHI values (session set plus the current test's registered ones) in ``text``."""
    found = phi_set().find(text)
    with _lock:
        if _active:
            found += _active[-1].extra.find(text)
    return found


def is_patient_email(address: str) -> bool:
    with _lock:
        extra = _active[-1].extra if _active else None
    return phi_set().is_patient_email(address) or bool(extra and extra.is_patient_email(address))


def _excerpt(text: str, value: str) -> str:
    index = text.lower().find(value.lower())
    start = max(0, index - 80) if index >= 0 else 0
    return " ".join(text[start:start + 240].split())


def check(channel: str, text: str | None, where: str) -> list[Leak]:
    """Scan one emitted ``text``; leaks go to the current test (returned too)."""
    if not text:
        return []
    leaks = [Leak(channel, kind, value, where, _excerpt(text, value)) for kind, value in find(text)]
    if leaks:
        with _lock:
            if _active:
                _active[-1].leaks.extend(leaks)
    return leaks


def _code_frames(start: Any = None) -> list[str]:
    """``file:line`` of project-code frames on the stack, innermost first (empty: not the code).

    The adapters of ``functions/core`` (aws, messaging, queues) come last: the frame that says
    what to send is the interesting one."""
    frame = start or sys._getframe(2)
    found: list[str] = []
    adapters: list[str] = []
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_CODE_DIRS):
            short = f"{filename[len(str(ROOT)) + 1:]}:{frame.f_lineno}"
            (adapters if short.startswith(_ADAPTERS) else found).append(short)
        frame = frame.f_back
    return found + adapters


_ADAPTERS = ("functions/core/aws.py:", "functions/core/messaging.py:", "functions/core/queues.py:")


def _where(frames: list[str]) -> str:
    return " <- ".join(frames[:3]) if frames else "?"


# --------------------------------------------------------------------------- capture points
def _check_email(subject: str | None, text: str | None, recipients: Iterable[str], where: str) -> None:
    check("email.subject", subject, where)
    if not any(is_patient_email(r) for r in recipients):
        check("email.text", text, where)


def _mime_parts(raw: bytes | str) -> tuple[str, str]:
    from email import policy
    from email.parser import BytesParser

    data = raw.encode() if isinstance(raw, str) else raw
    message = BytesParser(policy=policy.default).parsebytes(data)
    texts: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.get_filename():
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):
                continue
    return str(message.get("Subject", "")), "\n".join(texts)


def _attribute_texts(attributes: dict[str, Any] | None) -> list[str]:
    texts: list[str] = []
    for name, attribute in (attributes or {}).items():
        texts.append(str(name))
        if isinstance(attribute, dict):
            for key in ("StringValue", "BinaryValue"):
                if attribute.get(key) is not None:
                    value = attribute[key]
                    texts.append(value.decode(errors="replace") if isinstance(value, bytes) else str(value))
            texts.extend(str(v) for v in attribute.get("StringListValues", []) or [])
    return texts


def _sqs_entry(entry: dict[str, Any], where: str) -> None:
    for text in _attribute_texts(entry.get("MessageAttributes")):
        check("sqs.attribute", text, where)
    for text in _attribute_texts(entry.get("MessageSystemAttributes")):
        check("sqs.attribute", text, where)
    for key in ("MessageGroupId", "MessageDeduplicationId"):
        check("sqs.attribute", entry.get(key), where)


def _on_params(params: dict[str, Any], model: Any, **_: Any) -> None:
    frames = _code_frames(sys._getframe(1))
    if not frames:
        return  # a test's own client, not the code
    where = _where(frames)
    service, operation = model.service_model.service_name, model.name
    if service == "sns" and operation == "Publish":
        channel = "sms" if params.get("PhoneNumber") else "sns"
        check(channel, params.get("Message"), where)
        check(channel, params.get("Subject"), where)
        for text in _attribute_texts(params.get("MessageAttributes")):
            check(channel, text, where)
    elif service == "pinpoint-sms-voice-v2" and operation == "SendTextMessage":
        check("sms", params.get("MessageBody"), where)
    elif service == "sesv2" and operation == "SendEmail":
        destination = params.get("Destination", {})
        recipients = [*destination.get("ToAddresses", []), *destination.get("CcAddresses", []),
                      *destination.get("BccAddresses", [])]
        content = params.get("Content", {})
        if "Simple" in content:
            simple = content["Simple"]
            body = simple.get("Body", {})
            text = "\n".join(str(body.get(k, {}).get("Data", "")) for k in ("Text", "Html"))
            _check_email(simple.get("Subject", {}).get("Data"), text, recipients, where)
        elif "Raw" in content:
            subject, text = _mime_parts(content["Raw"].get("Data", b""))
            _check_email(subject, text, recipients, where)
    elif service == "ses" and operation == "SendEmail":
        destination = params.get("Destination", {})
        recipients = [*destination.get("ToAddresses", []), *destination.get("CcAddresses", []),
                      *destination.get("BccAddresses", [])]
        message = params.get("Message", {})
        body = message.get("Body", {})
        text = "\n".join(str(body.get(k, {}).get("Data", "")) for k in ("Text", "Html"))
        _check_email(message.get("Subject", {}).get("Data"), text, recipients, where)
    elif service == "ses" and operation == "SendRawEmail":
        subject, text = _mime_parts(params.get("RawMessage", {}).get("Data", b""))
        _check_email(subject, text, params.get("Destinations", []), where)
    elif service == "sqs" and operation == "SendMessage":
        _sqs_entry(params, where)
    elif service == "sqs" and operation == "SendMessageBatch":
        for entry in params.get("Entries", []):
            _sqs_entry(entry, where)


_HOOKED_EVENTS = (
    "before-parameter-build.sns.Publish",
    "before-parameter-build.sesv2.SendEmail",
    "before-parameter-build.ses.SendEmail",
    "before-parameter-build.ses.SendRawEmail",
    "before-parameter-build.pinpoint-sms-voice-v2.SendTextMessage",
    "before-parameter-build.sqs.SendMessage",
    "before-parameter-build.sqs.SendMessageBatch",
)


def _log_where(record: logging.LogRecord) -> str:
    path = record.pathname
    if path.startswith(str(ROOT) + "/"):
        path = path[len(str(ROOT)) + 1:]
    return f"{path}:{record.lineno} ({record.name})"


def _is_powertools(logger: logging.Logger) -> bool:
    """A Powertools logger: its lines are captured, already formatted, by the formatter patch."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    return any(isinstance(h.formatter, LambdaPowertoolsFormatter) for h in logger.handlers)


_plain = logging.Formatter("%(levelname)s %(name)s %(message)s")


def install() -> None:
    """Patch the capture points (once per process; every pytest run in the process shares them)."""
    global _installed
    if _installed:
        return
    _installed = True

    # (a) logs: the Powertools formatter's final text, and every other handled record
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    original_format = LambdaPowertoolsFormatter.format

    def format(self: LambdaPowertoolsFormatter, record: logging.LogRecord) -> str:
        text = original_format(self, record)
        check("log", text, _log_where(record))
        return text

    LambdaPowertoolsFormatter.format = format  # type: ignore[method-assign]

    original_handle = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        if _active and not record.name.startswith(IGNORED_LOGGERS) and not _is_powertools(self):
            try:
                text = _plain.format(record)
            except Exception:  # a record that cannot be formatted is not our business here
                text = str(record.msg)
            check("log", text, _log_where(record))
        original_handle(self, record)

    logging.Logger.handle = handle  # type: ignore[method-assign]

    # (b) EMF metrics
    try:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider,
        )
    except ImportError:  # pragma: no cover - Powertools without EMF
        pass
    else:
        original_serialize = AmazonCloudWatchEMFProvider.serialize_metric_set

        def serialize_metric_set(self: Any, *args: Any, **kwargs: Any) -> Any:
            document = original_serialize(self, *args, **kwargs)
            check("metric", json.dumps(document, default=str), _where(_code_frames()))
            return document

        AmazonCloudWatchEMFProvider.serialize_metric_set = serialize_metric_set  # type: ignore[method-assign]

    # (c, d) AWS calls: a hook on every botocore client as it is created
    import botocore.client

    original_create = botocore.client.ClientCreator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original_create(self, *args, **kwargs)
        for event in _HOOKED_EVENTS:
            client.meta.events.register(event, _on_params, unique_id=f"phi-guard-{event}")
        return client

    botocore.client.ClientCreator.create_client = create_client

    # (c, d) the in-memory ports
    from tests.fakes import RecordingEmail, RecordingQueue, RecordingSms

    original_sms = RecordingSms.send_sms
    original_email = RecordingEmail.send_email
    original_publish = RecordingQueue.publish

    def send_sms(self: Any, to: str, body: str) -> str:
        frames = _code_frames()
        if frames:
            check("sms", body, _where(frames))
        return original_sms(self, to, body)

    def send_email(self: Any, email: Any) -> str:
        frames = _code_frames()
        if frames:
            _check_email(email.subject, email.text, [email.to], _where(frames))
        return original_email(self, email)

    def publish(self: Any, queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0,
                dedup_id: str | None = None) -> str:
        frames = _code_frames()
        if frames:
            check("sqs.attribute", dedup_id, _where(frames))
        return original_publish(self, queue_url, body, delay_seconds=delay_seconds, dedup_id=dedup_id)

    RecordingSms.send_sms = send_sms  # type: ignore[method-assign]
    RecordingEmail.send_email = send_email  # type: ignore[method-assign]
    RecordingQueue.publish = publish  # type: ignore[method-assign]

    # (e) exceptions out of Lambda entry points, and SQS record failures
    import chalice.app

    def guard_entry(cls: Any) -> None:
        original_call = cls.__call__

        def __call__(self: Any, event: Any, context: Any) -> Any:
            try:
                return original_call(self, event, context)
            except Exception as exc:
                _check_exception(exc)
                raise

        cls.__call__ = __call__

    guard_entry(chalice.app.EventSourceHandler)
    guard_entry(chalice.app.LambdaFunction)

    from aws_lambda_powertools.utilities.batch.base import BasePartialProcessor

    original_failure = BasePartialProcessor.failure_handler

    def failure_handler(self: Any, record: Any, exception: Any) -> Any:
        if exception and exception[1] is not None:
            _check_exception(exception[1])
        return original_failure(self, record, exception)

    BasePartialProcessor.failure_handler = failure_handler  # type: ignore[method-assign]


def _check_exception(exc: BaseException) -> None:
    frames: list[str] = []
    tb = exc.__traceback__
    while tb is not None:  # the innermost project frame that raised it
        here = tb.tb_frame.f_code.co_filename
        if here.startswith(_CODE_DIRS):
            frames = [f"{here[len(str(ROOT)) + 1:]}:{tb.tb_lineno}"]
        tb = tb.tb_next
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the chain a traceback prints
        seen.add(id(current))
        check("exception", f"{type(current).__name__}: {current}", _where(frames))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


# --------------------------------------------------------------------------- e2e: the stack's output
def scan_stack(logs: str, outbox: dict[str, Any]) -> list[Leak]:
    """Leaks in a local stack's log and outbox (SMS bodies, email subjects, staff email text)."""
    collector = Collector()
    with _lock:
        _active.append(collector)
    try:
        for number, line in enumerate(logs.splitlines(), 1):
            check("stack.log", line, f"stack log line {number}")
        for sms in outbox.get("sms", []):
            check("sms", sms.get("body"), f"outbox sms to {sms.get('to')} at {sms.get('at')}")
        for mail in outbox.get("email", []):
            where = f"outbox email to {mail.get('to')} at {mail.get('at')}"
            _check_email(mail.get("subject"), mail.get("text"), [str(mail.get("to", ""))], where)
    finally:
        with _lock:
            _active.remove(collector)
    return collector.take()


# --------------------------------------------------------------------------- pytest hooks
class _Registrar:
    """What the ``phi_guard`` fixture returns."""

    register = staticmethod(register)
    find = staticmethod(find)


@pytest.fixture
def phi_guard() -> _Registrar:
    """``phi_guard.register(*values)``: values this test generates count as PHI until it ends."""
    return _Registrar()


def pytest_configure(config: pytest.Config) -> None:
    install()
    phi_set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    collector = Collector()
    with _lock:
        _active.append(collector)
    item.stash[_COLLECTOR] = collector
    try:
        yield
    finally:
        with _lock:
            if collector in _active:
                _active.remove(collector)


_COLLECTOR = pytest.StashKey[Collector]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    collector = item.stash.get(_COLLECTOR, None)
    if collector is None or (call.when == "setup" and report.passed):
        return  # setup's leaks are reported with the call
    leaks = collector.take()
    if not leaks:
        return
    text = f"PHI guard: {len(leaks)} synthetic PHI value(s) emitted\n" + "\n".join(str(leak) for leak in leaks)
    if report.failed:
        report.sections.append(("PHI guard", text))
    else:
        report.outcome = "failed"
        report.longrepr = text
