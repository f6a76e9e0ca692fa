"""The chaos run: the local stack with AWS faults injected into the functions' calls, driven like a
busy day (intakes, a share of them risky, "I need help now", inbound SMS: STOP, START, C, HELP,
crisis words, ACK from on-call staff, the clock through escalation deadlines), then the faults are
switched off, the stack drains, and the system's promises are checked from DynamoDB, the outbox
and the dead-letter queues. It prints what was injected and what each invariant found.

``make chaos`` runs a longer one (CHAOS_INTAKES=300); ``make test`` a short one (60).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import urllib.error
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import phi_guard
from tests.e2e.harness import Stack, request, start_stack, stop_stack

pytestmark = pytest.mark.e2e

INTAKES = int(os.environ.get("CHAOS_INTAKES", "60"))
RISKY_SHARE = 0.25
SEED = int(os.environ.get("CHAOS_SEED", "11"))
# Rates per HTTP attempt: botocore retries throttles, 5xx and timeouts (4 attempts for the
# functions' clients), so these end in a failed call about 0.5-3% of the time; crashes are final.
FAULTS = ",".join([
    "dynamodb.TransactWriteItems:5xx=0.4", "dynamodb.*:throttle=0.3", "sqs.SendMessage:5xx=0.45",
    "sqs.*:timeout=0.2", "sns.Publish:throttle=0.4", "sns.Publish:crash-after=0.04",
    "sesv2.SendEmail:5xx=0.4", "sesv2.SendEmail:crash-after=0.03", "*.*:timeout=0.15",
])
ROSTER = json.loads((Path(__file__).resolve().parents[2] / "local" / "demo" / "roster.json").read_text())
TIER1 = [m["phone"] for m in ROSTER["tiers"][0]["members"]]
RESPONDERS = {m["phone"] for t in ROSTER["tiers"] for m in t["members"]}
PAGE = re.compile(r"patient safety (?:alert|follow-up needed today), case (?P<code>[A-Z0-9]{4,8})\b")
CRISIS_WORDS = "i want to kill myself tonight"


def form(rng: random.Random, risky: bool) -> dict[str, Any]:
    n = rng.randrange(10_000)
    phone = f"+1202555{n:04d}"
    first, last = f"Chaosfirst{n}", f"Chaoslast{n}"
    return {
        "patient": {"first_name": first, "last_name": last, "date_of_birth": f"19{rng.randrange(50, 99)}-04-1{n % 9}",
                    "email": f"chaos{n}@example.org", "phone": phone, "timezone": "America/New_York",
                    "address": {"line1": f"{n} Chaos St", "city": "Boston", "state": "MA", "postal_code": "02110"}},
        "current_location": {"same_as_address": True},
        "emergency_contact": {"name": f"Kin{n} Chaoslast{n}", "relationship": "sibling",
                              "phone": f"+1202556{n:04d}"},
        "insurance": {"payer_id": "SIMPAYER01", "member_id": f"XEX90000000{rng.randrange(1, 10)}",
                      "subscriber_relationship": "self"},
        "screening": {"phq9": [2, 2, 2, 1, 1, 1, 1, 0, 2 if risky else 0], "gad7": [1, 1, 1, 1, 0, 0, 0],
                      "cssrs": ({"wish_to_be_dead": True, "suicidal_thoughts": True, "thoughts_with_method": True,
                                 "intent": True, "plan": False, "behavior_past_3_months": False} if risky else
                                {"wish_to_be_dead": False, "suicidal_thoughts": False,
                                 "behavior_past_3_months": False})},
        "preferences": {"channels": ["sms", "email"], "session_times": ["evening"], "language": "en"},
        "consent": {"telehealth": True, "privacy_notice": True, "sms": True, "email": True,
                    "signature": f"{first} {last}"},
    }


def phi_of(body: dict[str, Any]) -> list[str]:
    p = body["patient"]
    return [p["first_name"], p["last_name"], p["email"], p["phone"], p["date_of_birth"],
            body["emergency_contact"]["phone"], body["insurance"]["member_id"]]


def post(url: str, body: Any, key: str | None = None) -> tuple[int, Any, int]:
    """POST as the website does: the same Idempotency-Key on every retry of a 5xx, 429 or lost answer."""
    headers = {"Idempotency-Key": key} if key else {}
    for attempt in range(1, 9):
        try:
            answer = request("POST", url, body, headers=headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.05 * attempt)
            continue
        if answer.status < 500 and answer.status != 429:
            return answer.status, answer.body, attempt
        time.sleep(0.05 * attempt)
    return 599, None, 8


class Run:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.rng = random.Random(SEED)
        self.ok: dict[str, dict[str, Any]] = {}  # intake_id -> form
        self.risky: set[str] = set()
        self.help_now: list[str] = []  # phones that pressed "I need help now" and got an answer
        self.crisis_sms: list[str] = []  # patient phones that texted crisis words
        self.stopped: dict[str, float] = {}  # phone -> outbox count at STOP (no START after)
        self.statuses: Counter[str] = Counter()
        self.retries = 0

    def tick(self, minutes: float) -> None:
        request("POST", self.stack.web + "/_local/clock", {"advance_seconds": minutes * 60})
        self.stack.tick()

    def sms(self, sender: str, text: str) -> None:
        for _ in range(5):
            if request("POST", self.stack.web + "/_local/sms", {"from": sender, "body": text}).status == 202:
                return
        raise AssertionError("the local SNS topic refused an inbound SMS")

    def intakes(self) -> None:
        for i in range(INTAKES):
            risky = self.rng.random() < RISKY_SHARE
            body = form(self.rng, risky)
            phi_guard.register(*phi_of(body))
            status, answer, attempts = post(self.stack.api + "/intake", body, str(uuid.uuid4()))
            self.statuses[str(status)] += 1
            self.retries += attempts - 1
            if status == 201:
                self.ok[answer["intake_id"]] = body
                if risky:
                    self.risky.add(answer["intake_id"])
            if i % 15 == 14:
                self.tick(1)

    def help_and_texts(self) -> None:
        phones = [b["patient"]["phone"] for b in self.ok.values()]
        self.rng.shuffle(phones)
        for phone in phones[:3]:
            status, _, attempts = post(self.stack.api + "/crisis", {"phone": phone, "message": "please call me"},
                                       str(uuid.uuid4()))
            self.retries += attempts - 1
            if status in (200, 201, 202):
                self.help_now.append(phone)
        for phone in phones[3:5]:
            self.sms(phone, CRISIS_WORDS)
            self.crisis_sms.append(phone)
        for phone in phones[5:9]:
            self.sms(phone, "STOP")
            self.stopped[phone] = len(self.stack.outbox()["sms"])
        for phone in phones[5:6]:
            self.sms(phone, "START")
            self.stopped.pop(phone)
        for phone in phones[9:12]:
            self.sms(phone, "C")
        for phone in phones[12:14]:
            self.sms(phone, "HELP")

    def acknowledge_some(self) -> None:
        codes = sorted({m.group("code") for s in self.stack.outbox()["sms"] if s["to"] in TIER1
                        for m in [PAGE.search(s["body"])] if m})
        for code in codes[::2]:
            self.sms(TIER1[0], f"ACK {code}")


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Run, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("chaos")
    stack = start_stack(base / "state", base / "stack.log",
                        extra_args=("--faults", FAULTS, "--fault-seed", str(SEED)))
    try:
        run = Run(stack)
        run.intakes()
        run.help_and_texts()
        for _ in range(3):  # the first escalation rounds, with faults on
            run.tick(2)
        run.acknowledge_some()
        for _ in range(6):
            run.tick(5)
        injected = request("GET", stack.web + "/_local/faults").body
        request("POST", stack.web + "/_local/faults", {"enabled": False})
        for _ in range(12):  # recovery: retries, delayed messages, sweeps, the rest of the chain
            run.tick(5)
        for _ in range(24):  # a day later in half-hour steps: reminder windows
            run.tick(60)
        yield stack, run, injected
    finally:
        stop_stack(stack)


def scan(stack: Stack, table: str) -> list[dict[str, Any]]:
    """Test-only: read a whole table (the code never scans)."""
    ddb = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": f"virtual-iop-local-{table}", "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def repeats(messages: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> Counter[Any]:
    """Per key: how many sends repeat an earlier one less than 12 hours (local clock) before it."""
    times: dict[Any, list[datetime]] = {}
    for message in messages:
        times.setdefault(key(message), []).append(datetime.fromisoformat(message["at"].replace("Z", "+00:00")))
    found: Counter[Any] = Counter()
    for k, stamps in times.items():
        stamps.sort()
        found[k] += sum(1 for a, b in itertools.pairwise(stamps) if b - a < timedelta(hours=12))
    return +found


def dlq_depths(stack: Stack) -> dict[str, int]:
    sqs = stack.client("sqs")
    depths = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        if url.endswith("-dlq") or url.endswith("relay-failures"):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                            "ApproximateNumberOfMessagesNotVisible"])
            depths[url.rsplit("/", 1)[1]] = sum(int(v) for v in attrs["Attributes"].values())
    return depths


def test_the_promises_hold_under_injected_faults(chaos: tuple[Stack, Run, dict[str, Any]]) -> None:
    stack, run, injected = chaos
    intakes = {i["pk"]["S"].split("#", 1)[1] for i in scan(stack, "intakes")
               if i.get("kind", {}).get("S") == "intake"}
    intake_items = Counter(i["pk"]["S"] for i in scan(stack, "intakes") if i.get("kind", {}).get("S") == "intake")
    cases = [json.loads(i["data"]["S"]) | {"pk": i["pk"]["S"]} for i in scan(stack, "crisis")
             if i["sk"]["S"] == "CASE"]
    outbox = stack.outbox()
    dlqs = dlq_depths(stack)
    findings: dict[str, tuple[bool, str]] = {}

    # 1. every intake answered 201 is stored, exactly once
    missing = set(run.ok) - intakes
    twice = [pk for pk, n in intake_items.items() if n > 1]
    findings["201 -> stored exactly once"] = (not missing and not twice,
                                              f"{len(run.ok)} answered 201, {len(missing)} missing, {len(twice)} twice")

    # 2. every risky screen, help-now and crisis SMS ends in a paged case, or a dead-letter queue with an alarm
    paged_codes = {m.group("code") for s in outbox["sms"] if s["to"] in RESPONDERS
                   for m in [PAGE.search(s["body"])] if m}
    by_intake = {c.get("intake_id"): c for c in cases if c.get("intake_id")}
    by_phone = {c.get("phone"): c for c in cases if c.get("phone")}
    unpaged = []
    for intake_id in run.risky:
        case = by_intake.get(intake_id)
        if not case or case.get("code") not in paged_codes:
            unpaged.append(f"intake {intake_id}")
    for phone in run.help_now + run.crisis_sms:
        case = by_phone.get(phone) or next((c for c in cases if c.get("intake_id") and
                                            run.ok.get(c["intake_id"], {}).get("patient", {}).get("phone") == phone
                                            ), None)
        if not case or case.get("code") not in paged_codes:
            unpaged.append("a help-now/crisis SMS")
    crisis_dlq = dlqs.get("virtual-iop-local-crisis-events-dlq", 0)
    findings["risk -> paged case (or DLQ)"] = (
        len(unpaged) <= crisis_dlq,
        f"{len(run.risky)} risky intakes, {len(run.help_now)} help-now, {len(run.crisis_sms)} crisis SMS, "
        f"{len(cases)} cases, {len(paged_codes)} paged; unpaged {len(unpaged)}, crisis DLQ {crisis_dlq}")

    # 3. nothing sent twice for the same reason (crisis pages after an injected crash may repeat:
    #    a duplicate page beats a lost one, by design). The same text to the same address half a day
    #    or more apart (local clock) is another reason, not a repeat: a session's 24 h and 2 h
    #    reminders read alike ("reminder of your appointment Mon ... at 6:00 PM"), and the run spans
    #    both windows when it starts on the evening before a group session.
    sms_twice = repeats(outbox["sms"], lambda s: (s["to"], s["body"]))
    page_dupes = sum(n for (to, body), n in sms_twice.items() if PAGE.search(body))
    other_dupes = [(to[-4:], body[:40]) for (to, body), n in sms_twice.items()
                   if not PAGE.search(body) and to not in RESPONDERS]
    email_dupes = sum(repeats(outbox["email"], lambda e: (e["to"], e["subject"], e["text"])).values())
    crashes = sum(n for key, n in injected["by_operation"].items() if key.endswith(":crash-after"))
    findings["no duplicate SMS/email"] = (
        not other_dupes and page_dupes + email_dupes <= crashes,
        f"{len(outbox['sms'])} SMS, {len(outbox['email'])} emails; "
        f"patient duplicates {len(other_dupes)} {other_dupes}, "
        f"page/email repeats {page_dupes + email_dupes} (after {crashes} injected crashes)")

    # 4. nothing after STOP (but the STOP confirmation itself)
    after_stop = []
    for phone, before in run.stopped.items():
        later = [s for s in outbox["sms"][before:] if s["to"] == phone]
        after_stop += [s for s in later if "STOP" not in s["body"] and "opted out" not in s["body"].lower()
                       and "unsubscribed" not in s["body"].lower()]
    findings["no SMS after STOP"] = (not after_stop, f"{len(run.stopped)} opted out, {len(after_stop)} SMS after")

    # 5. no PHI in the stack's log or the outbox
    leaks = phi_guard.scan_stack(stack.logs(), outbox)
    findings["no PHI in logs/SMS/subjects"] = (not leaks, f"{len(leaks)} leaks")

    # 6. answers: 201 or a 4xx with a reason; 5xx only as an answer to an injected fault, retried
    findings["no request lost"] = (run.statuses.get("599", 0) == 0,
                                   f"answers {dict(run.statuses)}, {run.retries} retries by the client")

    print("\nchaos run: calls failed by injected faults", json.dumps(injected["by_kind"]), "of", injected["calls"],
          "calls; faulted attempts botocore's retries absorbed", json.dumps(injected["absorbed_by_retries"]))
    for key, count in sorted(injected["by_operation"].items()):
        print(f"  {key:<48} {count}")
    print(f"dead-letter queues: {json.dumps(dlqs)}")
    print(f"{'invariant':<32} {'holds':<6} found")
    for name, (holds, found) in findings.items():
        print(f"{name:<32} {'yes' if holds else 'NO':<6} {found}")
    assert injected["injected"] > 0
    assert all(holds for holds, _ in findings.values()), {k: v for k, v in findings.items() if not v[0]}
