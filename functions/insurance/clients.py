"""The eligibility client port and its adapters: one payer answer per (inquiry, service type).

- :class:`JsonEligibilityClient`: the Optum / Change Healthcare Medical Network Eligibility v3 API
  (Stedi serves the same shape): ``POST {base_url}/medicalnetwork/eligibility/v3`` with
  ``controlNumber``, ``tradingPartnerServiceId``, ``provider``, ``subscriber``, ``dependents``
  (when the patient is not the subscriber) and ``encounter``;
  the response is read by ``summarize_json``. Standard library only (``urllib``): a
  timeout per request, and retries with exponential backoff and jitter on 429, 5xx and network
  errors (honouring ``Retry-After``), never on another 4xx. A 4xx whose body is an eligibility
  response (AAA errors) is an answer; any other 4xx is :class:`RequestRejected`.
- :class:`SimulatorClient`: the raw X12 005010X279A1 path through the payer simulator
  (``build_270`` -> ``simulator.respond_271`` -> ``summarize_271``), for the local stack and tests.

:func:`config_from_settings` reads the deployment's eligibility secret into a :class:`ClientConfig`
(``{"base_url", "api_key"}``; optional ``provider_npi``, ``provider_name``, ``auth_scheme``,
``timeout_seconds``), and :meth:`ClientConfig.client` picks the adapter: ``base_url``
``"simulator"`` is the simulator, an ``https://`` URL the JSON API (``http://`` only for
127.0.0.1 / localhost: test fakes).

Errors, none of which carries a member id, a name or the API key:
:class:`PayerUnreachable` (retryable: no answer after the retries, or out of time),
:class:`PayerProtocolError` (retryable: an answer that cannot be read), :class:`RequestRejected`
(the API refused the request for good), :class:`InquiryError` (the intake's details cannot make a
valid inquiry), :class:`ClientConfigError` (the secret is missing or malformed).
"""

from __future__ import annotations

import json
import random
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from http.client import HTTPException
from typing import Any, Literal, Protocol

from functions.core.errors import PermanentError, RetryableError
from functions.core.log import get_logger
from functions.insurance.reader_json import summarize_json
from functions.insurance.summary import CoverageSummary, EligibilityParseError

logger = get_logger("eligibility_client")

SIMULATOR = "simulator"
V3_PATH = "/medicalnetwork/eligibility/v3"
# The simulator's stand-in clinic NPI (a valid check digit; used only when the secret names none).
SIMULATOR_NPI = "1234567893"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_RETRIES = 2  # three tries in all
DEFAULT_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MIN_TRY_SECONDS = 1.0  # no new try with less time than this left before the deadline

Format = Literal["x12", "json"]


class PayerUnreachable(RetryableError):
    """The payer (or the API in front of it) did not answer: try again later."""


class PayerProtocolError(RetryableError):
    """The payer answered something that is not a readable eligibility response."""


class RequestRejected(PermanentError):
    """The eligibility API refused the request (a 4xx other than 429, without AAA errors)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the eligibility API refused the request (HTTP {status})")
        self.status = status


class InquiryError(PermanentError):
    """The intake's details cannot make a valid inquiry (the message names the field only)."""


class ClientConfigError(PermanentError):
    """The eligibility API secret is missing or malformed (names the field, never a value)."""


SentAs = Literal["subscriber", "dependent"]


@dataclass(frozen=True)
class Person:
    """A subscriber who is not the patient (a parent, a spouse). ``repr`` hides them."""

    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)


@dataclass(frozen=True)
class Inquiry:
    """Who to ask about: one patient (``first_name`` ... ``date_of_birth``) and the card's
    member id. With a ``subscriber`` (and ``relationship`` spouse, child or other) the inquiry
    names the subscriber with the member id and the patient as their dependent; without one the
    patient is sent as the subscriber. ``repr`` hides the people."""

    payer_id: str
    payer_name: str | None
    member_id: str = field(repr=False)
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    group_number: str | None = field(default=None, repr=False)
    provider_npi: str = SIMULATOR_NPI
    provider_name: str = "CLINIC"
    service_date: date | None = None
    subscriber: Person | None = field(default=None, repr=False)
    relationship: str = "self"

    @property
    def sent_as(self) -> SentAs:
        """How the patient goes out: ``dependent`` (with a subscriber) or ``subscriber``."""
        return "dependent" if self.subscriber is not None and self.relationship != "self" else "subscriber"

    def patient_as_subscriber(self) -> Inquiry:
        """The same inquiry with the patient sent as the subscriber (payers with unique ids)."""
        return replace(self, subscriber=None, relationship="self")


@dataclass(frozen=True)
class PayerResponse:
    """One payer answer: its coverage summary and the raw response (PHI: stored encrypted only)."""

    service_type: str
    summary: CoverageSummary
    raw: str = field(repr=False)
    format: Format
    sent_as: SentAs = "subscriber"


class EligibilityClient(Protocol):
    def ask(
        self, inquiry: Inquiry, service_type: str, *, now: datetime, deadline: float | None = None
    ) -> PayerResponse:
        """Ask one service type. ``deadline`` is a ``time.monotonic()`` value no try may pass.

        Raises PayerUnreachable / PayerProtocolError (retryable), RequestRejected, InquiryError.
        """
        ...


def control_number() -> str:
    """A random nine-digit control number (ISA13 / ``controlNumber``)."""
    return str(100_000_000 + secrets.randbelow(900_000_000))


# --------------------------------------------------------------------------------------------
# X12 through the payer simulator


class SimulatorClient:
    """The raw X12 path: a real 270 is built, the simulator answers a 271, the 271 is parsed."""

    def ask(
        self, inquiry: Inquiry, service_type: str, *, now: datetime, deadline: float | None = None
    ) -> PayerResponse:
        from functions.insurance import simulator
        from functions.insurance.reader_271 import Patient, summarize_271
        from functions.insurance.x12 import X12Error
        from functions.insurance.x12_270 import RELATIONSHIP_CODES, Dependent, EligibilityRequest, build_270

        control = control_number()
        holder: Person | Inquiry = inquiry
        dependent = None
        if inquiry.sent_as == "dependent" and inquiry.subscriber is not None:
            holder = inquiry.subscriber
            dependent = Dependent(
                inquiry.first_name, inquiry.last_name, inquiry.date_of_birth,
                RELATIONSHIP_CODES.get(inquiry.relationship, "34"),
            )  # fmt: skip
        request = EligibilityRequest(
            payer_id=inquiry.payer_id,
            payer_name=inquiry.payer_name or inquiry.payer_id,
            provider_npi=inquiry.provider_npi,
            provider_name=inquiry.provider_name,
            member_id=inquiry.member_id,
            first_name=holder.first_name,
            last_name=holder.last_name,
            date_of_birth=holder.date_of_birth,
            dependent=dependent,
            service_type=service_type,
            service_date=inquiry.service_date,
            group_number=inquiry.group_number,
            trace_number=control,
            interchange_control_number=int(control),
            group_control_number=int(control),
        )
        try:
            text_270 = build_270(request, now=now)
        except X12Error as exc:
            raise InquiryError(f"the inquiry could not be built: {exc}") from None
        try:
            text_271 = simulator.respond_271(text_270, now=now)
        except simulator.PayerUnavailable:
            raise PayerUnreachable("the payer did not answer the eligibility inquiry") from None
        except X12Error as exc:  # the simulator could not read our 270: our bug, not the patient's
            raise InquiryError(f"the payer could not read the inquiry: {exc}") from None
        try:
            summary = summarize_271(text_271, Patient(inquiry.last_name, inquiry.date_of_birth))
        except EligibilityParseError as exc:
            raise PayerProtocolError(f"the payer's 271 could not be read: {exc}") from None
        return PayerResponse(service_type, summary, text_271, "x12", inquiry.sent_as)


# --------------------------------------------------------------------------------------------
# JSON: Optum / Change Healthcare Medical Network Eligibility v3


def _is_local_host(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: use our own backoff
    return max(seconds, 0.0)


class JsonEligibilityClient:
    """The v3 JSON API over HTTPS (urllib)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        auth_scheme: str = "Bearer",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_local_host(base_url)):
            raise ClientConfigError("base_url: must be an https:// URL")
        if not parts.netloc or parts.query or parts.fragment:
            raise ClientConfigError("base_url: must be a plain URL (no query or fragment)")
        if not api_key:
            raise ClientConfigError("api_key: is required for the eligibility API")
        self.url = base_url.rstrip("/") + V3_PATH
        self._authorization = f"{auth_scheme} {api_key}".strip()
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._monotonic = monotonic
        self._opener = opener or urllib.request.build_opener()

    def __repr__(self) -> str:  # never the key
        return f"JsonEligibilityClient(url={self.url!r})"

    @staticmethod
    def request_body(inquiry: Inquiry, service_type: str, *, control: str, now: datetime) -> dict[str, Any]:
        """The v3 request for one service type: the patient as the ``subscriber``, or (an
        inquiry with a subscriber) the subscriber with the member id and the patient as the one
        entry of ``dependents`` with its ``individualRelationshipCode`` (01, 19, 34)."""
        from functions.insurance.x12_270 import RELATIONSHIP_CODES

        holder: Person | Inquiry = inquiry
        if inquiry.subscriber is not None and inquiry.sent_as == "dependent":
            holder = inquiry.subscriber
        subscriber: dict[str, Any] = {
            "memberId": inquiry.member_id.strip(),
            "firstName": holder.first_name.strip(),
            "lastName": holder.last_name.strip(),
            "dateOfBirth": holder.date_of_birth.strftime("%Y%m%d"),
        }
        if inquiry.group_number:
            subscriber["groupNumber"] = inquiry.group_number.strip()
        service_date = inquiry.service_date or now.date()
        body: dict[str, Any] = {
            "controlNumber": control,
            "tradingPartnerServiceId": inquiry.payer_id.strip(),
            "provider": {"organizationName": inquiry.provider_name, "npi": inquiry.provider_npi},
            "subscriber": subscriber,
        }
        if holder is not inquiry:
            body["dependents"] = [
                {
                    "firstName": inquiry.first_name.strip(),
                    "lastName": inquiry.last_name.strip(),
                    "dateOfBirth": inquiry.date_of_birth.strftime("%Y%m%d"),
                    "individualRelationshipCode": RELATIONSHIP_CODES.get(inquiry.relationship, "34"),
                }
            ]
        body["encounter"] = {"serviceTypeCodes": [service_type], "dateOfService": service_date.strftime("%Y%m%d")}
        return body

    def _post(self, payload: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": self._authorization,
            },
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return int(response.status), headers, response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read(MAX_RESPONSE_BYTES + 1)
            except (OSError, HTTPException):
                body = b""
            finally:
                exc.close()
            return int(exc.code), {k.lower(): v for k, v in (exc.headers or {}).items()}, body

    @staticmethod
    def _decode(body: bytes) -> Any:
        if len(body) > MAX_RESPONSE_BYTES:
            raise EligibilityParseError("the response is too large")
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise EligibilityParseError("the response is not JSON") from None

    def ask(
        self, inquiry: Inquiry, service_type: str, *, now: datetime, deadline: float | None = None
    ) -> PayerResponse:
        if len(inquiry.provider_npi.strip()) != 10 or not inquiry.provider_npi.strip().isdigit():
            raise InquiryError("the clinic's NPI must be 10 digits")
        if not inquiry.member_id.strip() or not inquiry.last_name.strip():
            raise InquiryError("the member id and the patient's last name are required")
        if inquiry.sent_as == "dependent" and inquiry.subscriber and not inquiry.subscriber.last_name.strip():
            raise InquiryError("the subscriber's last name is required")
        body = self.request_body(inquiry, service_type, control=control_number(), now=now)
        payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        last = "no try"
        tries = 0
        for attempt in range(self.max_retries + 1):
            timeout = self.timeout
            if deadline is not None:
                left = deadline - self._monotonic()
                if left < MIN_TRY_SECONDS:
                    last = "out of time"
                    break
                timeout = min(timeout, left)
            tries += 1
            started = self._monotonic()
            wait: float | None = None
            try:
                status, headers, raw = self._post(payload, timeout)
            except (TimeoutError, urllib.error.URLError, HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None)
                timed_out = isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError)
                last = "timeout" if timed_out else type(exc).__name__
                logger.warning(
                    "eligibility API unreachable",
                    extra={"service_type": service_type, "try": tries, "error": last},
                )
            else:
                elapsed_ms = int((self._monotonic() - started) * 1000)
                log = {"service_type": service_type, "try": tries, "http_status": status, "elapsed_ms": elapsed_ms}
                if 200 <= status < 300:
                    logger.info("eligibility API answered", extra=log)
                    return self._answer(service_type, raw, inquiry.sent_as)
                if status == 429 or status >= 500:
                    logger.warning("eligibility API busy or failing", extra=log)
                    last = f"HTTP {status}"
                    wait = _retry_after(headers.get("retry-after"))
                else:
                    logger.warning("eligibility API refused the request", extra=log)
                    return self._rejected(service_type, status, raw, inquiry.sent_as)
            if attempt == self.max_retries:
                break
            delay = self.backoff * (2**attempt) * (0.5 + random.random() / 2)  # jitter
            delay = min(self.max_backoff, wait if wait is not None else delay)
            if deadline is not None and self._monotonic() + delay + MIN_TRY_SECONDS > deadline:
                last = f"{last}; out of time"
                break
            self._sleep(delay)
        raise PayerUnreachable(f"the eligibility API did not answer after {tries} tries ({last})")

    def _answer(self, service_type: str, raw: bytes, sent_as: SentAs = "subscriber") -> PayerResponse:
        try:
            summary = summarize_json(self._decode(raw))
        except EligibilityParseError as exc:
            raise PayerProtocolError(f"the eligibility response could not be read: {exc}") from None
        return PayerResponse(service_type, summary, raw.decode("utf-8"), "json", sent_as)

    def _rejected(self, service_type: str, status: int, raw: bytes, sent_as: SentAs = "subscriber") -> PayerResponse:
        """A 4xx: an answer when its body is an eligibility response with AAA errors."""
        try:
            obj = self._decode(raw)
            if (
                isinstance(obj, dict)
                and obj.get("errors")
                and any(isinstance(e, dict) and str(e.get("code", "")).strip() for e in obj["errors"])
            ):
                summary = summarize_json(obj)
                return PayerResponse(service_type, summary, raw.decode("utf-8"), "json", sent_as)
        except EligibilityParseError:
            pass
        raise RequestRejected(status)


# --------------------------------------------------------------------------------------------
# Choosing the adapter


@dataclass(frozen=True)
class ClientConfig:
    """The deployment's eligibility API settings, from its secret. ``repr`` hides the key."""

    base_url: str
    api_key: str = field(repr=False)
    provider_npi: str | None = None
    provider_name: str | None = None
    auth_scheme: str = "Bearer"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def is_simulator(self) -> bool:
        return self.base_url == SIMULATOR

    @classmethod
    def from_secret(cls, text: str) -> ClientConfig:
        try:
            data = json.loads(text)
        except ValueError:
            raise ClientConfigError("the eligibility API secret is not JSON") from None
        if not isinstance(data, dict):
            raise ClientConfigError("the eligibility API secret must be a JSON object")
        base_url = data.get("base_url")
        if not isinstance(base_url, str) or not base_url.strip():
            raise ClientConfigError("base_url: is required")
        for key in ("api_key", "provider_npi", "provider_name", "auth_scheme"):
            if data.get(key) is not None and not isinstance(data.get(key), str):
                raise ClientConfigError(f"{key}: must be a string")
        npi = (data.get("provider_npi") or "").strip() or None
        if npi is not None and (len(npi) != 10 or not npi.isdigit()):
            raise ClientConfigError("provider_npi: must be 10 digits")
        timeout = data.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
            raise ClientConfigError("timeout_seconds: must be a number of seconds from 0 to 30")
        scheme = data.get("auth_scheme")
        return cls(
            base_url=base_url.strip(),
            api_key=(data.get("api_key") or "").strip(),
            provider_npi=npi,
            provider_name=(data.get("provider_name") or "").strip() or None,
            auth_scheme="Bearer" if scheme is None else scheme.strip(),
            timeout_seconds=float(timeout),
        )

    def provider(self, clinic_name: str) -> tuple[str, str]:
        """(NPI, name) the inquiries are sent as. The JSON API needs a configured NPI."""
        name = self.provider_name or clinic_name
        if self.provider_npi:
            return self.provider_npi, name
        if self.is_simulator:
            return SIMULATOR_NPI, name
        raise ClientConfigError("provider_npi: is required for the eligibility API")

    def client(self) -> EligibilityClient:
        if self.is_simulator:
            return SimulatorClient()
        return JsonEligibilityClient(
            self.base_url, self.api_key, auth_scheme=self.auth_scheme, timeout=self.timeout_seconds
        )


def config_from_settings() -> ClientConfig:
    """The deployment's eligibility configuration (Secrets Manager, cached per container)."""
    from functions.core.secrets import get_secret
    from functions.core.settings import get_settings

    secret_id = get_settings().eligibility_secret_id
    if not secret_id:
        raise ClientConfigError("IOP_ELIGIBILITY_SECRET_ID is not set")
    return ClientConfig.from_secret(get_secret(secret_id))


__all__ = [
    "ClientConfig",
    "ClientConfigError",
    "EligibilityClient",
    "Inquiry",
    "InquiryError",
    "JsonEligibilityClient",
    "PayerProtocolError",
    "PayerResponse",
    "PayerUnreachable",
    "Person",
    "RequestRejected",
    "SentAs",
    "SimulatorClient",
    "config_from_settings",
]
