"""Fault injection for the local stack and the tests: ``iop run --faults SPEC``.

Makes the functions' AWS calls fail at set rates, through botocore's event hooks on every client
created while the injector is installed (boto3 clients and PynamoDB's alike), so the functions'
real error handling runs: the injected errors are the ones AWS returns, parsed by botocore.

SPEC is a comma-separated list of ``service.Operation:kind=rate`` (``*`` matches any service or
operation; the first matching rule with a hit wins)::

    dynamodb.TransactWriteItems:throttle=0.1,sqs.*:5xx=0.05,sns.Publish:crash-after=0.1,*.*:timeout=0.01

kinds:
    throttle     the service's throttling error (DynamoDB ProvisionedThroughputExceededException,
                 SQS RequestThrottled, SNS Throttling, SES TooManyRequestsException, ...), HTTP 400
    5xx          InternalServerError / ServiceUnavailable, HTTP 500 / 503
    timeout      botocore's ReadTimeoutError (the call's outcome unknown to the caller: here it
                 was not made)
    crash-after  the call succeeds, then the function dies before its next line (a crash between a
                 send and its ledger write): the invocation fails as a whole, as a killed Lambda
                 would: an SQS batch comes back, a stream batch is retried, the API answers 502

Rates are per HTTP attempt, as AWS fails: botocore retries throttles, 5xx and timeouts (the
functions' clients make up to 4 attempts, PynamoDB's and boto3's defaults 3), so a call fails
only when every attempt drew a fault; the retries a fault cost are counted as ``absorbed``. A
crash is not retried. (The hook sits before botocore's call, so the retries are drawn, not
sent: the emulator sees one request, or none.)

Only calls made inside a function invocation are touched (``scope``: the local stack's pump and
API wrap each invocation in it), never the stack's own polling, provisioning or the tests'
assertions. Nothing here is in the deployment zip (local/ is not packaged).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

KINDS = ("throttle", "5xx", "timeout", "crash-after")
THROTTLE_CODES = {"dynamodb": "ProvisionedThroughputExceededException", "sqs": "RequestThrottled",
                  "sns": "Throttling", "sesv2": "TooManyRequestsException", "ses": "Throttling"}
SERVER_ERRORS = {"dynamodb": ("InternalServerError", 500)}
_RULE = re.compile(r"^(?P<service>[a-z0-9*-]+)\.(?P<operation>[A-Za-z*]+):(?P<kind>[a-z0-9-]+)=(?P<rate>[0-9.]+)$")


class FaultSpecError(ValueError):
    """The --faults spec is malformed; the message names the part and what is expected."""


class InjectedCrash(BaseException):
    """The function 'died' right after a successful AWS call. A BaseException, so no ``except
    Exception`` in the function can swallow it: only the invoker (the stand-in for Lambda) sees it."""


@dataclass(frozen=True)
class Rule:
    service: str
    operation: str
    kind: str
    rate: float

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


def parse(spec: str) -> list[Rule]:
    rules: list[Rule] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        found = _RULE.match(part)
        if not found:
            raise FaultSpecError(f"{part!r}: expected service.Operation:kind=rate, e.g. sqs.SendMessage:throttle=0.1")
        kind, rate = found["kind"], float(found["rate"])
        if kind not in KINDS:
            raise FaultSpecError(f"{part!r}: kind must be one of {', '.join(KINDS)}")
        if not 0 < rate <= 1:
            raise FaultSpecError(f"{part!r}: rate must be above 0 and at most 1")
        rules.append(Rule(found["service"], found["operation"], kind, rate))
    if not rules:
        raise FaultSpecError("no rules: expected service.Operation:kind=rate[,...]")
    return rules


class _Response:
    """What botocore's ``before-call`` short-circuit needs of an HTTP response."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""


class Faults:
    """The installed injector: rules, a seeded random source, and what it injected."""

    def __init__(self, rules: list[Rule], seed: int = 0) -> None:
        self.rules = rules
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.injected: Counter[tuple[str, str, str]] = Counter()
        self.absorbed: Counter[str] = Counter()  # faulted attempts a retry made good
        self.calls: Counter[str] = Counter()
        self._original: Callable[..., Any] | None = None
        self.enabled = True

    # -- scope: only the functions' calls ----------------------------------------------------------
    @contextmanager
    def scope(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

    def _in_scope(self) -> bool:
        return self.enabled and getattr(self._local, "depth", 0) > 0

    # -- installing: every client created from now on --------------------------------------------
    def install(self) -> Faults:
        import botocore.session

        if self._original is not None:
            return self
        original = botocore.session.Session.create_client
        faults = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            attempts = total_attempts(client.meta.config.retries or {})

            def before_call(**event: Any) -> Any:
                return faults._before_call(attempts=attempts, **event)

            client.meta.events.register("before-call", before_call)
            client.meta.events.register("after-call", faults._after_call)
            return client

        self._original = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        _forget_function_clients()
        return self

    def uninstall(self) -> None:
        import botocore.session

        if self._original is not None:
            botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None
            _forget_function_clients()

    # -- the hooks ---------------------------------------------------------------------------------
    def _pick(self, service: str, operation: str, attempts: int = 1) -> str | None:
        """The fault this call ends with, if any: a retryable kind must hit every attempt."""
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            for rule in self.rules:
                if not rule.matches(service, operation):
                    continue
                tries = 1 if rule.kind == "crash-after" else attempts
                hits = 0
                while hits < tries and self._random.random() < rule.rate:
                    hits += 1
                if hits == tries:
                    self.injected[(service, operation, rule.kind)] += 1
                    return rule.kind
                self.absorbed[rule.kind] += hits
        return None

    def _before_call(self, model: Any, context: dict[str, Any], attempts: int = 1, **_: Any) -> Any:
        if not self._in_scope():
            return None
        service, operation = model.service_model.service_name, model.name
        kind = self._pick(service, operation, attempts)
        if kind is None:
            return None
        if kind == "crash-after":
            context["iop_fault_crash"] = True
            return None
        if kind == "timeout":
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url=f"https://{service}.injected-fault")
        if kind == "throttle":
            code, status = THROTTLE_CODES.get(service, "ThrottlingException"), 400
        else:
            code, status = SERVER_ERRORS.get(service, ("ServiceUnavailable", 503))
        parsed = {"Error": {"Code": code, "Message": "injected fault"},
                  "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"}}
        return _Response(status), parsed

    def _after_call(self, context: dict[str, Any], **_: Any) -> None:
        if context.pop("iop_fault_crash", False):
            raise InjectedCrash("injected crash after a successful call")

    # -- what happened -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        by_kind: Counter[str] = Counter()
        for (_service, _operation, kind), n in self.injected.items():
            by_kind[kind] += n
        return {"calls": sum(self.calls.values()), "injected": sum(by_kind.values()), "by_kind": dict(by_kind),
                "absorbed_by_retries": dict(self.absorbed),
                "by_operation": {f"{s}.{o}:{k}": n for (s, o, k), n in sorted(self.injected.items())}}


def total_attempts(retries: dict[str, Any]) -> int:
    """How many attempts botocore makes for a client's ``retries`` config (standard mode: 3)."""
    if "total_max_attempts" in retries:
        return max(1, int(retries["total_max_attempts"]))
    if "max_attempts" in retries:  # counts retries, not attempts
        return max(1, int(retries["max_attempts"]) + 1)
    return 3


def _forget_function_clients() -> None:
    """The functions' cached clients were created before (or with) the hooks: make them anew."""
    from functions.core import aws, models

    aws.reset_clients()
    models.unbind_models()


Invoker = Callable[[str, dict[str, Any]], Any]


def guarded(faults: Faults | None, invoke: Invoker) -> Invoker:
    """``invoke`` inside the fault scope; an injected crash fails the invocation as a dead Lambda's."""
    if faults is None:
        return invoke

    def run(name: str, event: dict[str, Any]) -> Any:
        with faults.scope():
            try:
                return invoke(name, event)
            except InjectedCrash:
                raise RuntimeError(f"{name} crashed (injected)") from None

    return run
