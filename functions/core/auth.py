"""Staff authentication.

In AWS, API Gateway's Cognito user pool authorizer checks the token before the Lambda runs and
passes its claims. In the local stack (``IOP_STAFF_AUTH=local``) there is no API Gateway, so the
same routes verify a bearer token signed with the stage's signing secret (``iop staff token``).
Without a token: 401. A forged, malformed or expired token: 403. The staff member's role comes
from the token too (``cognito:groups`` in AWS, ``role`` in a local token; :mod:`functions.core.roles`);
a token without a known role is let in here with ``role=None`` and refused by every route (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core import tokens
from functions.core.clock import now
from functions.core.errors import DomainError
from functions.core.roles import ADMIN, ROLES, role_from_groups
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


class RoleForbidden(DomainError):
    """A valid sign-in whose role may not call this route (403, field ``role``)."""

    status = 403
    field = "role"

    def __init__(self, role: str | None) -> None:
        super().__init__(f"role {role or 'none'} refused")
        self.message = (f"Your role ({role}) may not open this." if role
                        else "Your sign-in has no staff role: ask an administrator to add you to one.")


@dataclass(frozen=True)
class StaffIdentity:
    email: str
    subject: str
    role: str | None = None  # clinician, intake or admin; None: no known role (every route refuses)


def issue_local_token(email: str, *, role: str = ADMIN, at: datetime | None = None,
                      ttl_seconds: int = LOCAL_TOKEN_TTL_SECONDS) -> str:
    """A local-stack staff token for ``email`` in ``role`` (``iop staff token --role``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = get_secret(get_settings().signing_secret_id)
    return tokens.sign(key, STAFF_PURPOSE, {"email": email, "sub": email, "role": role}, now=at or now(),
                       ttl_seconds=ttl_seconds)


def staff_identity(headers: Mapping[str, str], context: Mapping[str, Any] | None) -> StaffIdentity:
    settings = get_settings()
    if settings.staff_auth == "cognito":
        claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
        if not claims:
            raise Unauthorized("no authorizer claims")
        return StaffIdentity(email=str(claims.get("email", "")), subject=str(claims.get("sub", "")),
                             role=role_from_groups(claims.get("cognito:groups")))
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
    return StaffIdentity(email=str(claims.get("email", "")), subject=str(claims.get("sub", "")),
                         role=role_from_groups([claims.get("role")]))
