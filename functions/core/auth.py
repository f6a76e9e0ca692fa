"""Staff authentication.

In AWS, API Gateway's Cognito user pool authorizer checks the token before the Lambda runs and
passes its claims. In the local stack (``IOP_STAFF_AUTH=local``) there is no API Gateway, so the
same routes verify a bearer token signed with the stage's signing secret (``iop staff token``).
Without a token: 401. A forged, malformed or expired token: 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core import tokens
from functions.core.clock import now
from functions.core.errors import DomainError
from functions.core.secrets import get_secret
from functions.core.settings import get_settings

STAFF_PURPOSE = "staff"
LOCAL_TOKEN_TTL_SECONDS = 12 * 3600
# chalice package writes this into the API definition; the build replaces it with the user pool ARN.
USER_POOL_ARN_PLACEHOLDER = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_STAFFPOOL"


class Unauthorized(DomainError):
    """No credentials were given (401)."""

    status = 401
    field = "authorization"
    message = "Sign in to see this."


class Forbidden(DomainError):
    """Credentials were given but are not valid (403)."""

    status = 403
    field = "authorization"
    message = "Your sign-in is not valid or has expired."


@dataclass(frozen=True)
class StaffIdentity:
    email: str
    subject: str


def issue_local_token(email: str, *, at: datetime | None = None,
                      ttl_seconds: int = LOCAL_TOKEN_TTL_SECONDS) -> str:
    key = get_secret(get_settings().signing_secret_id)
    return tokens.sign(key, STAFF_PURPOSE, {"email": email, "sub": email}, now=at or now(),
                       ttl_seconds=ttl_seconds)


def staff_identity(headers: Mapping[str, str], context: Mapping[str, Any] | None) -> StaffIdentity:
    settings = get_settings()
    if settings.staff_auth == "cognito":
        claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
        if not claims:
            raise Unauthorized("no authorizer claims")
        return StaffIdentity(email=str(claims.get("email", "")), subject=str(claims.get("sub", "")))
    header = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if not header:
        raise Unauthorized("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Forbidden("not a bearer token")
    try:
        claims = tokens.verify(get_secret(settings.signing_secret_id), token, STAFF_PURPOSE, now=now())
    except tokens.TokenError:
        raise Forbidden("invalid or expired token") from None
    return StaffIdentity(email=str(claims.get("email", "")), subject=str(claims.get("sub", "")))
