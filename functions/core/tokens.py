"""Signed, expiring tokens (HMAC-SHA256): acknowledgement links, local staff bearer tokens.

A token is ``base64url(json claims) . base64url(hmac)``. Claims always carry ``purpose`` (a token
made for one use is refused for another), ``exp`` (seconds since the epoch) and ``jti`` (a
random id a caller can burn to make the token single-use). Tokens never carry PHI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any


class TokenError(Exception):
    """The token is malformed, forged, expired or for another purpose."""


class TokenExpired(TokenError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest())


def sign(key: str, purpose: str, claims: dict[str, Any], *, now: datetime, ttl_seconds: int) -> str:
    if not key:
        raise ValueError("signing key is empty")
    body = {**claims, "purpose": purpose, "exp": int(now.timestamp()) + int(ttl_seconds),
            "jti": secrets.token_urlsafe(12)}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_mac(key, payload)}"


def verify(key: str, token: str, purpose: str, *, now: datetime) -> dict[str, Any]:
    if not token.isascii():
        raise TokenError("malformed token")
    payload, dot, mac = token.strip().partition(".")
    if not dot or not payload or not mac:
        raise TokenError("malformed token")
    if not hmac.compare_digest(_mac(key, payload), mac):
        raise TokenError("bad signature")
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token") from None
    if not isinstance(claims, dict) or claims.get("purpose") != purpose:
        raise TokenError("wrong purpose")
    exp = claims.get("exp")
    if not isinstance(exp, int):
        raise TokenError("malformed token")
    if now.timestamp() >= exp:
        raise TokenExpired("token expired")
    return claims
