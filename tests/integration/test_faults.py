"""The fault injector (local/faults.py, ``iop run --faults``) on moto: the errors it injects are the
ones AWS returns, reach the functions' own error handling through boto3 and PynamoDB alike, touch
only calls made inside a function's scope, and a crash after a send fails the whole invocation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core import aws as core_aws
from functions.core.errors import RetryableError
from functions.core.messaging import Email
from local.faults import Faults, FaultSpecError, InjectedCrash, guarded, parse

EMAIL = Email(to="intake@clinic.example", subject="Subject", text="Body")


@pytest.fixture
def inject(aws: Any) -> Iterator[Any]:
    installed: list[Faults] = []

    def start(spec: str, seed: int = 0) -> Faults:
        faults = Faults(parse(spec), seed=seed).install()
        installed.append(faults)
        return faults

    yield start
    for faults in installed:
        faults.uninstall()


@pytest.mark.parametrize(("spec", "reason"), [
    ("sqs.SendMessage", "expected service.Operation:kind=rate"),
    ("sqs.SendMessage:explode=0.1", "kind must be one of"),
    ("sqs.SendMessage:throttle=0", "rate must be above 0"),
    ("sqs.SendMessage:throttle=1.5", "rate must be above 0"),
    ("", "no rules"),
])
def test_a_malformed_spec_names_what_is_wrong(spec: str, reason: str) -> None:
    with pytest.raises(FaultSpecError, match=reason):
        parse(spec)


def test_a_throttle_is_the_services_own_error_and_only_inside_the_scope(inject: Any, aws: Any) -> None:
    faults = inject("sqs.SendMessage:throttle=1")
    url = aws.queues["insurance-checks"]
    sqs = functions_client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="{}")  # outside any function: untouched
    with faults.scope(), pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    assert raised.value.response["Error"]["Code"] == "RequestThrottled"
    with faults.scope(), pytest.raises(RetryableError):
        core_aws.call("sqs", "SendMessage", sqs.send_message, QueueUrl=url, MessageBody="{}")
    assert faults.report()["by_operation"] == {"sqs.SendMessage:throttle": 2}
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1"


def functions_client(service: str) -> Any:
    """The client the functions use (created after the injector was installed)."""
    return core_aws.client(service)


def test_pynamodb_sees_a_server_error_and_the_domain_maps_it_to_retryable(inject: Any) -> None:
    from functions.core.aws import aws_errors
    from functions.core.models import IntakeItem, bind_models

    faults = inject("dynamodb.PutItem:5xx=1")
    bind_models()  # as every store does before its first call: a new connection, with the hooks
    item = IntakeItem(pk="FAULT#1", sk="FAULT", kind="test")
    with faults.scope(), pytest.raises(RetryableError), aws_errors("dynamodb", "PutItem"):
        item.save()
    with faults.scope(), pytest.raises(Exception) as raised:
        item.save()
    assert core_aws.cause_code(raised.value) == "InternalServerError"
    item.save()  # outside the scope it is stored
    assert IntakeItem.get("FAULT#1", "FAULT").pk == "FAULT#1"


def test_a_timeout_is_retryable_and_nothing_was_sent(inject: Any, aws: Any) -> None:
    faults = inject("sesv2.SendEmail:timeout=1")
    from functions.core.messaging import SesEmail

    with faults.scope(), pytest.raises(RetryableError):
        SesEmail().send_email(EMAIL)
    assert aws.sent_email() == []


def test_a_crash_after_a_send_fails_the_invocation_though_the_send_happened(inject: Any, aws: Any) -> None:
    faults = inject("sesv2.SendEmail:crash-after=1")
    from functions.core.messaging import SesEmail

    def function(_name: str, _event: dict[str, Any]) -> Any:
        try:
            SesEmail().send_email(EMAIL)
        except Exception:  # a function's own handler cannot swallow a crash
            return "handled"
        return "done"

    with pytest.raises(RuntimeError, match="crashed"):
        guarded(faults, function)("relay_outbox", {})
    assert len(aws.sent_email()) == 1
    assert faults.report()["by_kind"] == {"crash-after": 1}
    with pytest.raises(InjectedCrash), faults.scope():
        SesEmail().send_email(EMAIL)


def test_rates_follow_the_seed(inject: Any) -> None:
    first = inject("dynamodb.GetItem:throttle=0.3", seed=7)
    picks = [first._pick("dynamodb", "GetItem") for _ in range(200)]
    first.uninstall()
    second = inject("dynamodb.GetItem:throttle=0.3", seed=7)
    assert [second._pick("dynamodb", "GetItem") for _ in range(200)] == picks
    assert 40 <= sum(1 for p in picks if p) <= 80


def test_a_retryable_fault_fails_a_call_only_when_every_attempt_draws_it(inject: Any) -> None:
    faults = inject("dynamodb.GetItem:throttle=0.5", seed=3)
    failed = sum(1 for _ in range(2000) if faults._pick("dynamodb", "GetItem", attempts=4))
    assert 70 <= failed <= 180  # 2000 x 0.5^4 = 125: botocore's retries absorb the rest
    assert faults.report()["absorbed_by_retries"]["throttle"] > 1000


def test_the_attempts_are_the_functions_clients_own(inject: Any) -> None:
    from local.faults import total_attempts

    inject("sqs.SendMessage:throttle=0.5")
    assert total_attempts(functions_client("sqs").meta.config.retries) == 4  # functions/core/aws.py: 3 retries
    assert total_attempts({}) == 3 and total_attempts({"total_max_attempts": 2}) == 2


def test_the_opt_out_check_under_a_fault_is_a_domain_error_the_crisis_pager_handles(inject: Any) -> None:
    """Found by the chaos run: a throttled opt-out read escaped as PynamoDB's GetError, so the crisis
    pager treated the page as in flight and waited for the claim to go stale."""
    from functions.core.contacts import sms_opted_out
    from functions.core.models import bind_models

    faults = inject("dynamodb.GetItem:throttle=1")
    bind_models()
    with faults.scope(), pytest.raises(RetryableError):
        sms_opted_out("+13125550100")
    assert sms_opted_out("+13125550100") is False  # outside the scope: no record, not opted out
