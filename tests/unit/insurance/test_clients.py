"""The eligibility client adapters: the v3 JSON API against a local HTTP fake, and the X12 path
through the payer simulator. Member ids and API keys never reach the logs."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from functions.insurance import clients
from functions.insurance.clients import (
    ClientConfig,
    ClientConfigError,
    Inquiry,
    InquiryError,
    JsonEligibilityClient,
    PayerProtocolError,
    PayerUnreachable,
    RequestRejected,
    SimulatorClient,
)
from functions.insurance.rules import is_retryable, needs_staff_action

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "eligibility"
API_KEY = "sk_live_SECRET_4f9a8b7c6d5e"
MEMBER_ID = "WQX88231907"
ACTIVE_JSON = (EXAMPLES / "json_v3_active.json").read_text()
INVALID_MEMBER_JSON = (EXAMPLES / "json_v3_invalid_member_id.json").read_text()
PAYER_BUSY_JSON = json.dumps(
    {
        "payer": {"name": "EXAMPLE HEALTH PLAN"},
        "errors": [
            {
                "field": "AAA",
                "code": "42",
                "description": "Unable to Respond at Current Time",
                "followupAction": "Resubmission Allowed",
                "location": "Loop 2100A",
            }
        ],
    }
)

INQUIRY = Inquiry(
    payer_id="SIMPAYER01",
    payer_name="Example Health Plan",
    member_id=MEMBER_ID,
    first_name="Zelda",
    last_name="Quixotica",
    date_of_birth=date(1987, 9, 14),
    group_number="GRP-4471",
    provider_npi="1234567893",
    provider_name="Harbor Clinic",
)


# --------------------------------------------------------------------------- the HTTP fake


@dataclass
class Reply:
    status: int = 200
    body: str = ACTIVE_JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeV3:
    """A v3 eligibility API on 127.0.0.1: answers each request with the next scripted reply
    (the last one repeats) and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply()]
        self.requests: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)))
                reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/base"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[FakeV3]:
    fake = FakeV3()
    yield fake
    fake.close()


@dataclass
class Sleeps:
    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(api: FakeV3, sleeps: Sleeps, **kwargs: Any) -> JsonEligibilityClient:
    return JsonEligibilityClient(api.url, API_KEY, sleep=sleeps, **kwargs)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything the project's loggers write (their own handlers, formatted as in Lambda)."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)] + [logging.getLogger()]
    for lg in loggers:
        for handler in getattr(lg, "handlers", []):
            if isinstance(handler, logging.StreamHandler):
                swapped.append((handler, handler.stream))
                handler.stream = buffer  # not setStream(): it flushes the old stream, maybe closed
    yield buffer
    for handler, stream in swapped:
        handler.stream = stream


# --------------------------------------------------------------------------- the JSON adapter


def test_a_200_answer_is_summarised_and_the_request_has_the_v3_shape(api: FakeV3, sleeps: Sleeps) -> None:
    answer = client(api, sleeps).ask(INQUIRY, "MH", now=NOW)

    assert answer.format == "json"
    assert answer.summary.status == "active"
    assert answer.summary.payer == "EXAMPLE HEALTH PLAN"
    assert json.loads(answer.raw) == json.loads(ACTIVE_JSON)
    (seen,) = api.requests
    assert seen.path == "/base/medicalnetwork/eligibility/v3"
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["content-type"] == "application/json"
    body = seen.body
    assert len(body["controlNumber"]) == 9 and body["controlNumber"].isdigit()
    assert body["tradingPartnerServiceId"] == "SIMPAYER01"
    assert body["provider"] == {"organizationName": "Harbor Clinic", "npi": "1234567893"}
    assert body["subscriber"] == {
        "memberId": MEMBER_ID,
        "firstName": "Zelda",
        "lastName": "Quixotica",
        "dateOfBirth": "19870914",
        "groupNumber": "GRP-4471",
    }
    assert body["encounter"] == {"serviceTypeCodes": ["MH"], "dateOfService": "20260302"}
    assert sleeps.calls == []


def test_each_request_gets_its_own_control_number(api: FakeV3, sleeps: Sleeps) -> None:
    c = client(api, sleeps)
    c.ask(INQUIRY, "30", now=NOW)
    c.ask(INQUIRY, "MH", now=NOW)
    assert api.requests[0].body["controlNumber"] != api.requests[1].body["controlNumber"]


def test_a_raw_key_scheme_sends_the_key_alone(api: FakeV3, sleeps: Sleeps) -> None:
    client(api, sleeps, auth_scheme="").ask(INQUIRY, "30", now=NOW)
    assert api.requests[0].headers["authorization"] == API_KEY


def test_429_then_200_retries_after_what_the_api_asked(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(429, '{"message": "slow down"}', {"Retry-After": "2"}), Reply())
    answer = client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "active"
    assert len(api.requests) == 2
    assert sleeps.calls == [2.0]


def test_500_then_200_retries_with_backoff(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(500, "internal error"), Reply(503, "unavailable"), Reply())
    answer = client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "active"
    assert len(api.requests) == 3
    first, second = sleeps.calls
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0  # exponential, with jitter


def test_5xx_every_time_gives_up_after_the_retries_as_retryable(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(502, "bad gateway"))
    with pytest.raises(PayerUnreachable) as caught:
        client(api, sleeps, max_retries=3).ask(INQUIRY, "30", now=NOW)
    assert len(api.requests) == 4
    assert "4 tries" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert len(sleeps.calls) == 3 and sleeps.calls == sorted(sleeps.calls)


def test_a_backoff_never_exceeds_the_ceiling(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(429, "{}", {"Retry-After": "3600"}), Reply())
    client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert sleeps.calls == [clients.MAX_BACKOFF_SECONDS]


def test_a_400_is_not_retried(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(400, '{"errors": [{"field": "subscriber.memberId", "description": "invalid"}]}'))
    with pytest.raises(RequestRejected) as caught:
        client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert caught.value.status == 400
    assert len(api.requests) == 1 and sleeps.calls == []


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_other_4xx_are_not_retried(api: FakeV3, sleeps: Sleeps, status: int) -> None:
    api.script(Reply(status, "nope"))
    with pytest.raises(RequestRejected):
        client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert len(api.requests) == 1


def test_a_4xx_carrying_aaa_errors_is_the_payers_answer(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(400, INVALID_MEMBER_JSON))
    answer = client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "not_found"
    assert [e.code for e in answer.summary.errors] == ["72"]
    assert len(api.requests) == 1


def test_aaa_errors_in_a_200_body_are_summarised(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(200, INVALID_MEMBER_JSON))
    answer = client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "not_found"
    (error,) = answer.summary.errors
    assert error.code == "72" and "member id" in error.follow_up
    assert needs_staff_action(answer.summary) == ["not_found"]
    assert not is_retryable(answer.summary)


def test_aaa_42_in_the_body_is_a_retryable_answer_not_an_http_retry(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(200, PAYER_BUSY_JSON))
    answer = client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "error" and is_retryable(answer.summary)
    assert len(api.requests) == 1  # the queue retries it later, with a delay


def test_an_unreadable_200_is_a_retryable_protocol_error(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(200, "<html>maintenance</html>"))
    with pytest.raises(PayerProtocolError):
        client(api, sleeps).ask(INQUIRY, "30", now=NOW)
    api.script(Reply(200, '{"hello": "world"}'))
    with pytest.raises(PayerProtocolError):
        client(api, sleeps).ask(INQUIRY, "30", now=NOW)


def test_a_timeout_is_retried_then_reported_as_unreachable(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(delay=1.0))
    started = time.monotonic()
    with pytest.raises(PayerUnreachable) as caught:
        client(api, sleeps, timeout=0.2, max_retries=1).ask(INQUIRY, "30", now=NOW)
    assert time.monotonic() - started < 2.0
    assert len(api.requests) == 2
    assert "timeout" in str(caught.value)


def test_a_timeout_then_an_answer_succeeds(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(delay=1.0), Reply())
    answer = client(api, sleeps, timeout=0.2).ask(INQUIRY, "30", now=NOW)
    assert answer.summary.status == "active"
    assert len(api.requests) == 2


def test_a_refused_connection_is_retried_then_unreachable(sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    c = JsonEligibilityClient(f"http://127.0.0.1:{port}", API_KEY, sleep=sleeps)
    with pytest.raises(PayerUnreachable):
        c.ask(INQUIRY, "30", now=NOW)
    assert len(sleeps.calls) == clients.DEFAULT_MAX_RETRIES


def test_no_try_starts_past_the_deadline(api: FakeV3, sleeps: Sleeps) -> None:
    api.script(Reply(500, "down"))
    clock = {"t": 100.0}

    def monotonic() -> float:
        return clock["t"]

    def sleep(seconds: float) -> None:
        clock["t"] += seconds

    c = JsonEligibilityClient(api.url, API_KEY, sleep=sleep, monotonic=monotonic, backoff=5.0, max_retries=5)
    with pytest.raises(PayerUnreachable) as caught:
        c.ask(INQUIRY, "30", now=NOW, deadline=108.0)
    assert len(api.requests) == 2  # 100 -> try, wait ~2.5-5, try, the next wait would pass 108
    assert "out of time" in str(caught.value)
    with pytest.raises(PayerUnreachable):
        c.ask(INQUIRY, "30", now=NOW, deadline=clock["t"] + 0.5)
    assert len(api.requests) == 2


def test_member_ids_and_the_api_key_never_reach_the_logs(api: FakeV3, sleeps: Sleeps, logs: io.StringIO) -> None:
    api.script(Reply(500, "down"), Reply(429, "{}"), Reply(400, "bad"), Reply(200, INVALID_MEMBER_JSON))
    c = client(api, sleeps)
    with pytest.raises(RequestRejected):
        c.ask(INQUIRY, "30", now=NOW)
    c.ask(INQUIRY, "MH", now=NOW)
    api.script(Reply(delay=1.0))
    with pytest.raises(PayerUnreachable) as caught:
        client(api, sleeps, timeout=0.2, max_retries=0).ask(INQUIRY, "30", now=NOW)
    written = logs.getvalue()
    assert "eligibility API" in written  # the calls were logged ...
    for secret in (API_KEY, MEMBER_ID, "Quixotica", "19870914", "GRP-4471"):  # ... without these
        assert secret not in written
        assert secret not in str(caught.value)
    assert API_KEY not in repr(c) and MEMBER_ID not in repr(INQUIRY)


def test_the_adapter_refuses_plain_http_to_a_remote_host_and_a_missing_key() -> None:
    with pytest.raises(ClientConfigError):
        JsonEligibilityClient("http://api.example.com", API_KEY)
    with pytest.raises(ClientConfigError):
        JsonEligibilityClient("https://api.example.com", "")
    assert JsonEligibilityClient("https://api.example.com/", API_KEY).url == (
        "https://api.example.com/medicalnetwork/eligibility/v3"
    )


def test_an_inquiry_without_a_valid_npi_is_refused_before_any_request(api: FakeV3, sleeps: Sleeps) -> None:
    bad = Inquiry(**{**INQUIRY.__dict__, "provider_npi": "12345"})
    with pytest.raises(InquiryError):
        client(api, sleeps).ask(bad, "30", now=NOW)
    assert api.requests == []


# --------------------------------------------------------------------------- configuration


def test_the_secret_chooses_the_adapter() -> None:
    sim = ClientConfig.from_secret('{"base_url": "simulator", "api_key": ""}')
    assert sim.is_simulator and isinstance(sim.client(), SimulatorClient)
    assert sim.provider("Harbor Clinic") == (clients.SIMULATOR_NPI, "Harbor Clinic")

    real = ClientConfig.from_secret(
        json.dumps({"base_url": "https://api.example.com", "api_key": API_KEY, "provider_npi": "1234567893"})
    )
    adapter = real.client()
    assert isinstance(adapter, JsonEligibilityClient)
    assert real.provider("Harbor Clinic") == ("1234567893", "Harbor Clinic")
    assert API_KEY not in repr(real)


@pytest.mark.parametrize(
    ("secret", "field"),
    [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ("{}", "base_url"),
        ('{"base_url": "simulator", "provider_npi": "12"}', "provider_npi"),
        ('{"base_url": "simulator", "timeout_seconds": 600}', "timeout_seconds"),
        ('{"base_url": "simulator", "api_key": 5}', "api_key"),
    ],
)
def test_a_malformed_secret_names_the_field(secret: str, field: str) -> None:
    with pytest.raises(ClientConfigError, match=field):
        ClientConfig.from_secret(secret)


def test_the_json_api_needs_the_clinics_npi() -> None:
    config = ClientConfig.from_secret('{"base_url": "https://api.example.com", "api_key": "k"}')
    with pytest.raises(ClientConfigError, match="provider_npi"):
        config.provider("Harbor Clinic")


# --------------------------------------------------------------------------- the X12 path


def test_the_simulator_path_builds_a_270_and_reads_the_271() -> None:
    prior_auth = Inquiry(**{**INQUIRY.__dict__, "member_id": "XEX900000003"})
    answer = SimulatorClient().ask(prior_auth, "MH", now=NOW)
    assert answer.format == "x12" and answer.raw.startswith("ISA")
    assert answer.summary.status == "active"
    assert answer.summary.prior_auth_required is True


def test_the_simulators_unreachable_member_is_retryable() -> None:
    unreachable = Inquiry(**{**INQUIRY.__dict__, "member_id": "XEX900000011"})
    with pytest.raises(PayerUnreachable):
        SimulatorClient().ask(unreachable, "30", now=NOW)


def test_details_that_cannot_make_a_270_are_an_inquiry_error() -> None:
    with pytest.raises(InquiryError) as caught:
        SimulatorClient().ask(Inquiry(**{**INQUIRY.__dict__, "member_id": "AB~CD"}), "30", now=NOW)
    assert "AB~CD" not in str(caught.value)
    with pytest.raises(InquiryError):
        SimulatorClient().ask(Inquiry(**{**INQUIRY.__dict__, "last_name": "李"}), "30", now=NOW)
