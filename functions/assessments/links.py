"""Repeat-screening link tokens: short, signed, bound to one request of one patient.

The crisis acknowledgement links are the model (``functions/crisis/links.py``: signed, expiring,
single-use), but the kernel's token (``functions.core.tokens``: base64 JSON claims and a full
HMAC, about 190 characters) cannot fit an SMS of one GSM-7 segment together with the page's
address and the opt-out line. So this token is compact, 33 characters:

    <request id: 16 Crockford base32 characters, 80 bits>.<mac: 16 base64url characters, 96 bits>

``mac`` is HMAC-SHA256 under the same signing secret as every other token, over
``assess|<request id>|<intake id>|<expiry, epoch seconds>``, cut to 96 bits (an online guess
is one request per try: 2^96 tries). The intake and the expiry are not in the token: they are
on the request item the id names (``functions/assessments/store.py``), written before the link is
sent, and the mac is checked against them, so a token is valid only for the patient and the
72 hours it was made for. Single use: answering sets the request's state in the same
transaction that stores the assessment (``answered``, conditional), so a second answer is 410.
Tokens carry no PHI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PURPOSE = "assess"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TOKEN = re.compile(r"^([0-9A-HJKMNP-TV-Z]{16})\.([A-Za-z0-9_-]{16})$")


class LinkError(Exception):
    """The token is malformed, forged or names no request (403)."""


def _base32(data: bytes) -> str:
    value = int.from_bytes(data, "big")
    chars = []
    for _ in range(len(data) * 8 // 5):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_request_id() -> str:
    """A random request id (80 bits)."""
    return _base32(secrets.token_bytes(10))


def derived_request_id(*parts: str) -> str:
    """A request id computed from ``parts`` (a scheduled request: the patient and the due instant),
    so the same due instant can only ever make one request."""
    return _base32(hashlib.sha256("|".join((PURPOSE, *parts)).encode("utf-8")).digest()[:10])


def _mac(key: str, request_id: str, intake_id: str, expires_at: int) -> str:
    if not key:
        raise ValueError("signing key is empty")
    message = f"{PURPOSE}|{request_id}|{intake_id}|{int(expires_at)}".encode()
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def make_token(key: str, request_id: str, intake_id: str, expires_at: int) -> str:
    return f"{request_id}.{_mac(key, request_id, intake_id, expires_at)}"


def request_id_of(token: object) -> str:
    """The request id a token names (nothing verified yet); LinkError when it is not a token."""
    if not isinstance(token, str):
        raise LinkError("malformed token")
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        raise LinkError("malformed token")
    return found.group(1)


def verify(key: str, token: str, intake_id: str, expires_at: int) -> None:
    """Check the token's mac against the request it names (LinkError when it was not made for
    this patient and expiry); expiry itself is the caller's check against the clock."""
    request_id = request_id_of(token)
    mac = token.strip().rpartition(".")[2]
    if not hmac.compare_digest(_mac(key, request_id, intake_id, expires_at), mac):
        raise LinkError("bad signature")
