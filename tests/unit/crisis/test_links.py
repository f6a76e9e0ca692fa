from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.core import tokens
from functions.crisis.links import (
    ACK_TTL_SECONDS,
    LinkError,
    LinkExpired,
    Recipient,
    ack_url,
    make_link,
    make_token,
    read_token,
)

KEY = "k" * 64
T0 = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize(
    "recipient", [Recipient.member(0, 0), Recipient.member(2, 11), Recipient.always(3), Recipient.fallback()]
)
def test_a_link_names_its_case_and_recipient_and_reads_back(recipient: Recipient) -> None:
    token = make_token(KEY, "cas_01ABC", recipient, now=T0)
    claims = read_token(KEY, token, now=T0 + timedelta(hours=23))
    assert claims.case_id == "cas_01ABC" and claims.recipient == recipient
    assert claims.expires_at == int(T0.timestamp()) + ACK_TTL_SECONDS
    assert claims.jti


def test_the_token_carries_positions_never_names_numbers_or_addresses() -> None:
    claims = _claims(make_token(KEY, "cas_01ABC", Recipient.member(1, 0), now=T0))
    assert set(claims) == {"case_id", "member", "purpose", "exp", "jti"}
    assert claims["member"] == "t1m0" and claims["purpose"] == "crisis-ack"


def test_every_link_is_distinct_so_each_can_be_burnt_once() -> None:
    first = read_token(KEY, make_token(KEY, "c", Recipient.member(0, 0), now=T0), now=T0)
    second = read_token(KEY, make_token(KEY, "c", Recipient.member(0, 0), now=T0), now=T0)
    assert first.jti != second.jti


def test_links_expire_after_a_day() -> None:
    token = make_token(KEY, "c", Recipient.member(0, 0), now=T0)
    with pytest.raises(LinkExpired):
        read_token(KEY, token, now=T0 + timedelta(seconds=ACK_TTL_SECONDS))


def test_forged_tampered_and_foreign_tokens_are_refused() -> None:
    token = make_token(KEY, "c", Recipient.member(0, 0), now=T0)
    mac = token.split(".")[1]
    swapped = base64.urlsafe_b64encode(json.dumps({**_claims(token), "case_id": "other"}).encode()).decode().rstrip("=")
    staff = tokens.sign(KEY, "staff", {"email": "a@clinic.example"}, now=T0, ttl_seconds=60)
    for bad in (
        f"{swapped}.{mac}",
        make_token("other-key", "c", Recipient.member(0, 0), now=T0),
        staff,
        "",
        "a.b",
        "no-dot",
        "x" * 3000,
        "é.é",
        "eyJ9.\u00e9",
        "!!!.???",
    ):
        with pytest.raises(LinkError):
            read_token(KEY, bad, now=T0)


def test_a_token_with_an_unknown_recipient_is_refused() -> None:
    token = tokens.sign(KEY, "crisis-ack", {"case_id": "c", "member": "boss"}, now=T0, ttl_seconds=60)
    with pytest.raises(LinkError):
        read_token(KEY, token, now=T0)
    assert Recipient.parse("t1m2") == Recipient.member(1, 2)
    assert Recipient.parse("a0") == Recipient.always(0)
    for bad in ("t1", "m1", "a", "tXm1", 7, None, "fallback2"):
        assert Recipient.parse(bad) is None


def test_links_point_at_the_api() -> None:
    assert (
        ack_url("https://x.execute-api.us-east-1.amazonaws.com/api/", "abc.def")
        == "https://x.execute-api.us-east-1.amazonaws.com/api/crisis/ack/abc.def"
    )
    link = make_link(KEY, "http://127.0.0.1:8000", "c", Recipient.always(0), now=T0)
    assert link.startswith("http://127.0.0.1:8000/crisis/ack/")
    assert read_token(KEY, link.rsplit("/", 1)[1], now=T0).recipient == Recipient.always(0)
