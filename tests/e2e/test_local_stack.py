"""The local stack as docs/local-stack.md describes it: health, control routes (clock, tick, SMS, outbox), queues, DLQ,
schedules, auth, console."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import ROOT, Stack, request, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def test_health_and_addresses(stack: Stack) -> None:
    response = request("GET", stack.api + "/health")
    assert response.status == 200
    assert response.body == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "API" in stack.logs() and stack.api in stack.logs()


def test_website_and_outbox_page_are_served_with_a_strict_csp(stack: Stack) -> None:
    for path in ("/", "/outbox"):
        page = request("GET", stack.web + path)
        assert page.status == 200
        assert "<html" in str(page.body).lower()
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    config = request("GET", stack.web + "/config.js")
    assert stack.api in str(config.body)


def test_clock_can_be_set_and_advanced(stack: Stack) -> None:
    set_to = request("POST", stack.web + "/_local/clock", {"now": "2027-03-13T12:00:00Z"})
    assert set_to.status == 200
    assert set_to.body["now"].startswith("2027-03-13T12:00")
    moved = request("POST", stack.web + "/_local/clock", {"advance_seconds": 3600})
    assert moved.body["now"].startswith("2027-03-13T13:00")


@pytest.mark.parametrize("body", [{"now": "yesterday"}, {"now": "2027-01-01T00:00:00"}, {"advance_seconds": -5},
                                  {"advance_seconds": "10"}, {}, [1, 2]])
def test_bad_clock_input_gets_a_one_line_reason(stack: Stack, body: object) -> None:
    response = request("POST", stack.web + "/_local/clock", body)
    assert response.status == 400
    assert response.body["errors"][0]["message"]
    assert "\n" not in response.body["errors"][0]["message"]


def test_inbound_sms_reaches_its_function_through_topic_and_queue(stack: Stack) -> None:
    before = len(stack.outbox()["sms"])
    response = request("POST", stack.web + "/_local/sms", {"from": "+15555550142", "body": "help"})
    assert response.status == 202
    sms = [m for m in stack.outbox()["sms"][before:] if m["to"] == "+15555550142"]
    assert len(sms) == 1  # one reply, to the sender only
    assert "Harbor Clinic" in sms[0]["body"] and "STOP" in sms[0]["body"] and sms[0]["at"].endswith("Z")


@pytest.mark.parametrize("body", [{"from": "5555550142", "body": "hi"}, {"from": "+15555550142", "body": ""},
                                  {"from": "+15555550142"}])
def test_bad_inbound_sms_is_refused(stack: Stack, body: dict[str, str]) -> None:
    assert request("POST", stack.web + "/_local/sms", body).status == 400


def _queue_url(stack: Stack, name: str) -> str:
    return str(stack.client("sqs").get_queue_url(QueueName=f"virtual-iop-local-{name}")["QueueUrl"])


def test_a_message_on_each_queue_reaches_its_function(stack: Stack) -> None:
    ddb = stack.client("dynamodb")
    body = json.loads(json.loads((ROOT / "events" / "api_intake.json").read_text())["body"])
    stored = request("POST", stack.api + "/intake", body)  # insured: the outbox queues an insurance check
    assert stored.status == 201
    intake_id = stored.body["intake_id"]
    before = len(stack.outbox()["sms"])
    # "I need help now": the API stores the case and queues it; escalate_crisis pages the on-call tier.
    opened = request("POST", stack.api + "/crisis", {"phone": "+12125550142", "message": "help"})
    assert opened.status == 201
    stack.tick()
    item = ddb.get_item(TableName="virtual-iop-local-eligibility",
                        Key={"pk": {"S": f"INTAKE#{intake_id}"}, "sk": {"S": "SUMMARY"}})
    assert "Item" in item  # check_insurance ran on the message
    pages = [m for m in stack.outbox()["sms"][before:] if "URGENT" in m["body"]]
    assert pages, "the crisis message reached escalate_crisis, which paged tier 1"


def test_a_failing_message_ends_in_the_dead_letter_queue(stack: Stack) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=_queue_url(stack, "insurance-checks"), MessageBody="this is not json")
    stack.tick()
    dlq = _queue_url(stack, "insurance-checks-dlq")
    deadline = time.monotonic() + 20
    bodies: list[str] = []
    while time.monotonic() < deadline and "this is not json" not in bodies:
        received = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)
        bodies = [m["Body"] for m in received.get("Messages", [])]
        # a failed record comes back after the queue's visibility timeout (6 x 60 s), on the local clock
        request("POST", stack.web + "/_local/clock", {"advance_seconds": 361})
        stack.tick()
    assert "this is not json" in bodies
    main = sqs.get_queue_attributes(QueueUrl=_queue_url(stack, "insurance-checks"),
                                    AttributeNames=["ApproximateNumberOfMessages"])
    assert main["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_schedules_fire_when_the_local_clock_reaches_them(stack: Stack) -> None:
    def runs() -> tuple[int, int]:
        log = stack.logs()
        return log.count('"message":"dispatch run"'), log.count('"message":"escalation sweep"')

    stack.tick()  # whatever was due has run
    before = runs()
    request("POST", stack.web + "/_local/clock", {"advance_seconds": 300})
    # both the 5-minute dispatch and the 1-minute escalation sweep are due again; the tick runs
    # them unless the stack's background loop, which follows the same clock, just did
    stack.tick()
    dispatch, sweep = runs()
    assert dispatch > before[0] and sweep > before[1]


def test_staff_routes_need_a_valid_token(stack: Stack) -> None:
    assert request("GET", stack.api + "/staff/me").status == 401
    assert request("GET", stack.api + "/staff/me", headers={"Authorization": "Bearer forged.token"}).status == 403
    issued = stack.iop("staff", "token", "--email", "nurse@clinic.example")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    ok = request("GET", stack.api + "/staff/me", headers={"Authorization": f"Bearer {token}"})
    # the token's role comes along (iop staff token's default is admin)
    assert ok.status == 200 and ok.body == {"email": "nurse@clinic.example", "role": "admin"}
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert request("GET", stack.api + "/staff/me", headers={"Authorization": f"Bearer {tampered}"}).status == 403


def test_iop_bad_input_gets_one_line_and_exit_2(stack: Stack) -> None:
    for args in (["invoke", "nope", "--event", "events/schedule_dispatch.json"],
                 ["invoke", "check_insurance", "--event", "missing.json"],
                 ["staff", "token", "--email", "not-an-email"], ["frobnicate"]):
        result = stack.iop(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_state_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = start_stack(tmp_path / "state", tmp_path / "log")
    try:
        request("POST", first.web + "/_local/clock", {"now": "2027-06-01T15:00:00Z"})
        request("POST", first.web + "/_local/sms", {"from": "+15555550177", "body": "STOP"})
        ports = tuple(int(u.rsplit(":", 1)[1]) for u in (first.api, first.web, first.aws))
    finally:
        assert stop_stack(first) == 0
    second = start_stack(tmp_path / "state", tmp_path / "log", ports)  # type: ignore[arg-type]
    try:
        now = request("GET", second.web + "/_local/clock").body["now"]
        assert now.startswith("2027-06-01T15:0")
        item = second.client("dynamodb").get_item(TableName="virtual-iop-local-contacts",
                                                  Key={"pk": {"S": "SMS#+15555550177"}, "sk": {"S": "STATE"}})
        assert item["Item"]["opted_out"]["BOOL"] is True
    finally:
        stop_stack(second)


def test_first_start_is_seeded_with_a_roster_two_patients_and_a_group_series(stack: Stack) -> None:
    ddb = stack.client("dynamodb")

    def kinds(table: str) -> list[str]:  # a Scan is fine in a test of the local seed
        items = ddb.scan(TableName=f"virtual-iop-local-{table}", ProjectionExpression="kind")["Items"]
        return [i["kind"]["S"] for i in items if "kind" in i]

    assert kinds("intakes").count("intake") >= 2
    assert any("roster" in k for k in kinds("crisis"))
    reminders = kinds("reminders")
    assert any("series" in k for k in reminders) and any("job" in k or "reminder" in k for k in reminders)
    staff_emails = [e for e in stack.outbox()["email"] if e["subject"].endswith("New intake received")]
    assert len(staff_emails) >= 2


EVENT_FUNCTIONS = {
    "api_health.json": "api_handler",
    "api_intake.json": "api_handler",
    "sqs_insurance_check.json": "check_insurance",
    "sqs_crisis_event.json": "escalate_crisis",
    "sqs_inbound_sms.json": "handle_inbound_sms",
    "schedule_dispatch.json": "dispatch_reminders",
    "schedule_escalation_sweep.json": "escalate_crisis",
    "dynamodb_outbox_stream.json": "relay_outbox",
}


def test_every_sample_event_has_a_function() -> None:
    assert sorted(p.name for p in (ROOT / "events").glob("*.json")) == sorted(EVENT_FUNCTIONS)


@pytest.mark.parametrize(("event", "function"), sorted(EVENT_FUNCTIONS.items()))
def test_iop_invoke_runs_each_sample_event_against_the_stack(stack: Stack, event: str, function: str) -> None:
    result = stack.iop("invoke", function, "--event", f"events/{event}")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    if function == "api_handler":
        assert output["statusCode"] in (200, 201)
    elif event.startswith(("sqs_", "dynamodb_")):
        assert "batchItemFailures" in output  # the batch was processed (unknown ids may be reported)


def test_the_api_access_log_names_routes_never_the_paths_people_typed(stack: Stack) -> None:
    typed = "XEX955500017"  # a member id pasted into the address bar
    token = "sig-" + "q" * 40  # a signed link's token
    assert request("GET", f"{stack.api}/staff/intakes/{typed}?token={token}").status == 401
    assert request("GET", f"{stack.api}/no/such/{typed}").status in (403, 404)
    log = stack.logs()
    assert typed not in log and token not in log
    assert '"GET /staff/intakes/{intake_id}" 401' in log
    assert '"GET (no route)"' in log


def test_schedules_run_once_per_slot_and_the_console_reads_as_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: the clock stepped by exactly 5 minutes runs the 5-minute dispatch on every step;
    a jump of an hour runs it once and says how many slots it covered. Issue 13 item 6: the console
    shows lines, the JSON is in the state directory's functions.log."""
    own = start_stack(tmp_path / "state", tmp_path / "console.log", seed=False)
    try:
        def runs() -> int:
            return (tmp_path / "state" / "functions.log").read_text().count('"message":"dispatch run"')

        start = datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
        request("POST", own.web + "/_local/clock", {"now": start.strftime("%Y-%m-%dT%H:%M:%SZ")})
        own.tick()
        before = runs()
        for step in range(1, 7):
            at = start + timedelta(minutes=5 * step)
            request("POST", own.web + "/_local/clock", {"now": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
            own.tick()
            assert runs() == before + step, f"step {step}"
        request("POST", own.web + "/_local/clock", {"now": "2027-03-14T13:30:00Z"})  # an hour on
        own.tick()
        assert runs() == before + 7
        console = (tmp_path / "console.log").read_text()
        assert "schedule DispatchSchedule: one run at 2027-03-14T13:30:00Z for 12 slots (the clock jumped)" in console

        body = json.loads(json.loads((ROOT / "events" / "api_intake.json").read_text())["body"])
        intake_id = request("POST", own.api + "/intake", body).body["intake_id"]
        own.tick()
        console = (tmp_path / "console.log").read_text()
        assert f"intake stored {intake_id}" in console
        assert f"insurance checked {intake_id}" in console
        assert '"level"' not in console and '"message"' not in console  # the JSON is in the file only
        assert intake_id in (tmp_path / "state" / "functions.log").read_text()
    finally:
        assert stop_stack(own) == 0
