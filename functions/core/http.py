"""HTTP helpers for the API Lambda: JSON responses, security headers, CORS, the one JSON body
reader, the one error mapping and the one staff-route decorator.

Domain errors map to HTTP here and nowhere else: each error class carries its status and its
error body (:mod:`functions.core.errors`), and :func:`mapped_errors` answers with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, overload

from chalice.app import CognitoUserPoolAuthorizer, Response

from functions.core.auth import USER_POOL_ARN_PLACEHOLDER, RoleForbidden, StaffIdentity, staff_identity
from functions.core.errors import DomainError, rejected
from functions.core.log import get_logger
from functions.core.roles import RouteRule, may, rule_for
from functions.core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from chalice.app import Blueprint, Request

SECURITY_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

# also on API Gateway's own error responses (infra/template.py GATEWAY_ERROR_HEADERS)
CORS_ALLOW_HEADERS = "Content-Type,Idempotency-Key,Authorization"
CORS_ALLOW_METHODS = "GET,POST,PUT,OPTIONS"  # PUT: the check-in plan

F = TypeVar("F", bound=Callable[..., Response])
MAX_BODY_BYTES = 64 * 1024
ANY_CONTENT_TYPE = ["*/*"]  # Chalice's own 415 is switched off: read_json answers with our error body
logger = get_logger("api")
REQUEST_REFUSALS = frozenset({400, 413, 415, 422})  # the request as sent cannot be taken

# API Gateway checks staff tokens against the Cognito user pool before the Lambda runs
# (infra/build.py puts the pool's ARN in place of the placeholder).
staff_authorizer = CognitoUserPoolAuthorizer("StaffUserPool", provider_arns=[USER_POOL_ARN_PLACEHOLDER])


def cors_headers(request_headers: Mapping[str, str] | None) -> dict[str, str]:
    origin = ""
    for key, value in (request_headers or {}).items():
        if key.lower() == "origin":
            origin = value
    allowed = get_settings().allowed_origins
    if origin and (origin in allowed or "*" in allowed):
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Max-Age": "600",
        }
    return {}


def preflight(request_headers: Mapping[str, str] | None) -> Response:
    """A CORS preflight's answer (204): the security headers and, for an allowed origin, CORS."""
    headers: dict[str, str | list[str]] = {k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Type"}
    headers.update(cors_headers(request_headers))
    return Response(body="", status_code=204, headers=headers)


def json_response(status: int, body: Any, request_headers: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None) -> Response:
    merged: dict[str, str | list[str]] = {**SECURITY_HEADERS, **cors_headers(request_headers), **(headers or {})}
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status, headers=merged)


def error(status: int, field: str, message: str,
          request_headers: Mapping[str, str] | None = None) -> Response:
    return json_response(status, {"errors": [{"field": field, "message": message}]}, request_headers)


# --- request bodies ---------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def check_body_size(request: Request, *, noun: str = "request") -> bytes:
    """The raw body, or RequestRejected (413) when it is larger than 64 KiB."""
    raw = request.raw_body
    body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")
    if len(body) > MAX_BODY_BYTES:
        raise rejected(413, "body", f"The {noun} is too large: send at most 64 KiB")
    return body


def read_json(request: Request, *, noun: str = "request") -> Any:
    """The decoded JSON body of every JSON route, or RequestRejected: 413 (over 64 KiB), 415 (not
    ``application/json``, or a charset other than UTF-8), 400 (not UTF-8 JSON). Nothing is parsed
    before the size and content-type checks. ``noun`` names the body in the messages ("form")."""
    body = check_body_size(request, noun=noun)
    media_type, _, params = (request.headers.get("content-type") or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise rejected(415, "Content-Type", f"Send the {noun} as application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise rejected(415, "Content-Type", f"Send the {noun} as UTF-8 JSON")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise rejected(400, "body", f"The {noun} could not be read: send it as JSON") from None


# --- errors -> HTTP ---------------------------------------------------------------------------


def error_response(exc: DomainError, request_headers: Mapping[str, str] | None = None, *,
                   extra: Mapping[str, Any] | None = None, unavailable: str | None = None) -> Response:
    """The answer for a domain error: its status, its field errors, its headers (Retry-After).
    ``extra`` joins the body (POST /crisis sends its resources with every answer). ``unavailable``
    is a route's own "try again" message: every error but a refusal of the request as sent
    (400, 413, 415, 422) is then a 503 with it (a lost race or a missing item is ours, not theirs)."""
    status, errors, headers = exc.status, exc.field_errors(), dict(exc.headers())
    if unavailable is not None and status not in REQUEST_REFUSALS:
        status, errors, headers = 503, [{"field": "", "message": unavailable}], {"Retry-After": "2"}
    if status >= 500:
        logger.warning("request failed", extra={"status": status, "error": type(exc).__name__})
    else:
        logger.info("request refused", extra={"status": status, "error": type(exc).__name__,
                                              "errors": len(errors)})
    return json_response(status, {"errors": errors, **(extra or {})}, request_headers, headers=headers)


@overload
def mapped_errors(fn: F) -> F: ...
@overload
def mapped_errors(*, extra: Callable[[], Mapping[str, Any]] | None = None,
                  unavailable: str | None = None) -> Callable[[F], F]: ...


def mapped_errors(fn: F | None = None, *, extra: Callable[[], Mapping[str, Any]] | None = None,
                  unavailable: str | None = None) -> F | Callable[[F], F]:
    """Answer every domain error a route raises with :func:`error_response` (the one place that
    maps errors to HTTP). Anything else is a bug and stays a 500."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except DomainError as exc:
                return error_response(exc, extra=extra() if extra else None, unavailable=unavailable)

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


# --- staff routes -----------------------------------------------------------------------------


@dataclass
class AuditNote:
    """What a staff route adds to its audit record: ids it learned (the intake of a case), and
    what to do once the record is written (``after``: run only for a 2xx answer)."""

    ids: dict[str, str] = field(default_factory=dict)
    after: list[Callable[[], object]] = field(default_factory=list)


@dataclass(frozen=True)
class StaffCall:
    """What a staff route is given: the request, the signed-in staff member, the decoded body,
    and the note its audit record is written from (``call.audit.ids["intake_id"] = ...``)."""

    request: Request
    identity: StaffIdentity
    body: Any = None
    audit: AuditNote = field(default_factory=AuditNote)

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers


def start_request(request: Request, route_logger: Logger | None = None) -> None:
    """Carry API Gateway's request id as the correlation id of this request's logs."""
    request_id = (request.context or {}).get("requestId")
    for each in (logger, route_logger):
        if each is not None:
            each.set_correlation_id(str(request_id) if request_id else None)


def staff_route(bp: Blueprint, path: str, *, methods: list[str], json_body: bool = False,
                cors_preflight: bool = False, route_logger: Logger | None = None
                ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a staff route: behind the staff authorizer (Cognito in AWS, the local token on the
    local stack; 401 without a token, 403 for a bad one), with the identity resolved, the role
    checked against the route's line in :data:`functions.core.roles.ROUTE_RULES` (403, field
    ``role``; a route without a line is admin-only), the request id in the logs, the body read by
    :func:`read_json` when ``json_body``, every domain error mapped, and (``cors_preflight``) the
    OPTIONS answer the staff page on the website's origin needs. An audited route writes its audit
    record (:func:`audit_call`) before it answers, refusals included; when that write fails the
    answer is a 503 and nothing of the view's answer is sent.
    The view is called as ``view(call: StaffCall, **path_parameters)``."""

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        @wraps(view)
        def handler(**params: str) -> Response:
            request = bp.current_request
            start_request(request, route_logger)
            rule = rule_for(request.method, path)
            identity: StaffIdentity | None = None
            call: StaffCall | None = None
            try:
                identity = staff_identity(request.headers, request.context)
                if not may(identity.role, rule):
                    raise RoleForbidden(identity.role)
                body = read_json(request) if json_body else None
                call = StaffCall(request, identity, body)
                response = view(call, **params)
            except DomainError as exc:
                response = error_response(exc, request.headers)
            except Exception:
                if identity is not None:
                    audit_call(rule, request, path, identity, params, call, 500)
                raise
            if identity is None:
                return response  # no valid sign-in: nobody to audit, nothing was read
            try:
                audit_call(rule, request, path, identity, params, call, response.status_code)
            except DomainError as exc:
                return error_response(exc, request.headers)
            if call is not None and 200 <= response.status_code < 300:
                _after_audit(call)
            return response

        bp.route(path, methods=methods, authorizer=staff_authorizer,
                 content_types=ANY_CONTENT_TYPE)(handler)
        if cors_preflight:
            def answer_preflight(**params: str) -> Response:
                return preflight(bp.current_request.headers)

            answer_preflight.__name__ = f"{view.__name__}_preflight"
            bp.route(path, methods=["OPTIONS"], name=answer_preflight.__name__)(answer_preflight)
        return view

    return register


def audit_call(rule: RouteRule, request: Request, path: str, identity: StaffIdentity,
               params: Mapping[str, str], call: StaffCall | None, status: int) -> None:
    """Write the audit record of one staff request (ids from the query, the path and the view's
    note; only known id fields are kept: functions/audit/store.py)."""
    if not rule.audited:
        return
    from functions.audit.store import AuditEntry, record
    from functions.core.clock import now

    query = dict(request.query_params or {})  # GET /staff/audit?intake_id=: refusals go under the patient too
    ids = {**query, **params, **(call.audit.ids if call is not None else {})}
    request_id = (request.context or {}).get("requestId")
    record(AuditEntry(actor=identity.email or identity.subject, role=identity.role,
                      action=f"{request.method.upper()} {path}", outcome=status, at=now(), ids=ids,
                      request_id=str(request_id) if request_id else None))


def _after_audit(call: StaffCall) -> None:
    for step in call.audit.after:
        try:
            step()
        except DomainError as exc:  # the answer stands; the step is retried by the next request
            logger.warning("after-audit step failed", extra={"error": type(exc).__name__})
