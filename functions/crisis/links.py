"""Signed acknowledgement links: ``<api>/crisis/ack/<token>``.

A token (``functions.core.tokens``, purpose ``crisis-ack``) names one case and one recipient, and
nothing else: ``{"case_id", "member"}`` plus the kernel's ``exp`` and ``jti``. ``member`` is a
position in the case's roster snapshot, never a name or number:

- ``"t<tier>m<index>"``: a roster member (``roster.tiers[tier].members[index]``);
- ``"a<index>"``: an ``always_email`` address of the snapshot;
- ``"fallback"``: the clinic's intake staff address, used when a case has no roster at all.

The link is bound to its case and recipient (the signature covers both), expires
(``ACK_TTL_SECONDS``) and is single-use: whoever acknowledges burns its ``jti`` (a conditional
write in the store), so a forwarded or replayed link is refused. A GET only shows a confirm
button; only the POST it submits acknowledges (mail scanners open links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from functions.core import tokens

PURPOSE = "crisis-ack"
ACK_TTL_SECONDS = 24 * 3600
ACK_PATH = "/crisis/ack/"

_ROSTER_MEMBER = re.compile(r"^t(\d{1,2})m(\d{1,3})$")
_ALWAYS = re.compile(r"^a(\d{1,2})$")


@dataclass(frozen=True)
class Recipient:
    """Who a link was sent to, by position in the case's roster snapshot."""

    kind: Literal["member", "always", "fallback"]
    tier: int = 0
    index: int = 0

    @property
    def claim(self) -> str:
        if self.kind == "member":
            return f"t{self.tier}m{self.index}"
        if self.kind == "always":
            return f"a{self.index}"
        return "fallback"

    @classmethod
    def member(cls, tier: int, index: int) -> Recipient:
        return cls("member", tier, index)

    @classmethod
    def always(cls, index: int) -> Recipient:
        return cls("always", 0, index)

    @classmethod
    def fallback(cls) -> Recipient:
        return cls("fallback")

    @classmethod
    def parse(cls, claim: object) -> Recipient | None:
        if not isinstance(claim, str):
            return None
        if claim == "fallback":
            return cls.fallback()
        found = _ROSTER_MEMBER.match(claim)
        if found:
            return cls.member(int(found.group(1)), int(found.group(2)))
        found = _ALWAYS.match(claim)
        if found:
            return cls.always(int(found.group(1)))
        return None


@dataclass(frozen=True)
class AckClaims:
    """A verified link: which case, which recipient, and the id that makes it single-use."""

    case_id: str
    recipient: Recipient
    jti: str
    expires_at: int  # seconds since the epoch


class LinkError(Exception):
    """The link is forged, malformed, for another purpose or names nobody (403)."""


class LinkExpired(LinkError):
    """The link was genuine but is past its expiry (403, with its own wording)."""


def make_token(
    key: str, case_id: str, recipient: Recipient, *, now: datetime, ttl_seconds: int = ACK_TTL_SECONDS
) -> str:
    return tokens.sign(key, PURPOSE, {"case_id": case_id, "member": recipient.claim}, now=now, ttl_seconds=ttl_seconds)


def ack_url(base_url: str, token: str) -> str:
    """The link put in alerts (``base_url`` is the API's public URL, e.g. ``https://.../api``)."""
    return base_url.rstrip("/") + ACK_PATH + token


def make_link(
    key: str, base_url: str, case_id: str, recipient: Recipient, *, now: datetime, ttl_seconds: int = ACK_TTL_SECONDS
) -> str:
    return ack_url(base_url, make_token(key, case_id, recipient, now=now, ttl_seconds=ttl_seconds))


def read_token(key: str, token: str, *, now: datetime) -> AckClaims:
    """Verify a link's token; raise ``LinkExpired`` or ``LinkError`` (never echoes the token)."""
    if not token or len(token) > 2048 or not token.isascii():
        raise LinkError("malformed token")
    try:
        claims = tokens.verify(key, token, PURPOSE, now=now)
    except tokens.TokenExpired:
        raise LinkExpired("link expired") from None
    except (tokens.TokenError, ValueError, TypeError):  # the kernel lets some malformed input through
        raise LinkError("invalid link") from None
    case_id, jti, exp = claims.get("case_id"), claims.get("jti"), claims.get("exp")
    recipient = Recipient.parse(claims.get("member"))
    if not isinstance(case_id, str) or not case_id or not isinstance(jti, str) or not jti or recipient is None:
        raise LinkError("invalid link")
    if not isinstance(exp, int):
        raise LinkError("invalid link")
    return AckClaims(case_id=case_id, recipient=recipient, jti=jti, expires_at=exp)
