"""Signed tokens: acknowledgement links and local staff tokens must be unforgeable and expire."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.core import tokens
from functions.core.tokens import TokenError, TokenExpired, sign, verify

KEY = "k3y-for-tests-only-0123456789abcdef"
NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def _claims_of(token: str) -> dict[str, object]:
    payload = token.split(".", 1)[0]
    result: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


def _reencode(claims: dict[str, object]) -> str:
    raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_returns_the_claims_with_purpose_expiry_and_a_unique_id() -> None:
    token = sign(KEY, "ack", {"case_id": "cas_1", "member": 0}, now=NOW, ttl_seconds=900)
    claims = verify(KEY, token, "ack", now=NOW + timedelta(minutes=14))
    assert claims["case_id"] == "cas_1"
    assert claims["member"] == 0
    assert claims["purpose"] == "ack"
    assert claims["exp"] == int(NOW.timestamp()) + 900
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 12


def test_two_tokens_for_the_same_claims_differ_so_each_can_be_burned_alone() -> None:
    a = sign(KEY, "ack", {"case_id": "cas_1"}, now=NOW, ttl_seconds=60)
    b = sign(KEY, "ack", {"case_id": "cas_1"}, now=NOW, ttl_seconds=60)
    assert a != b
    assert verify(KEY, a, "ack", now=NOW)["jti"] != verify(KEY, b, "ack", now=NOW)["jti"]


def test_token_is_url_safe_for_links_in_sms_and_email() -> None:
    token = sign(KEY, "ack", {"case_id": "cas_1"}, now=NOW, ttl_seconds=60)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_claims_cannot_override_purpose() -> None:
    token = sign(KEY, "ack", {"purpose": "staff"}, now=NOW, ttl_seconds=60)
    with pytest.raises(TokenError):
        verify(KEY, token, "staff", now=NOW)
    assert verify(KEY, token, "ack", now=NOW)["purpose"] == "ack"


def test_surrounding_whitespace_is_tolerated() -> None:
    token = sign(KEY, "ack", {}, now=NOW, ttl_seconds=60)
    assert verify(KEY, f"  {token}\n", "ack", now=NOW)["purpose"] == "ack"


def test_signed_with_another_key_is_refused() -> None:
    forged = sign("some-other-key", "staff", {"email": "mallory@example.com"}, now=NOW, ttl_seconds=60)
    with pytest.raises(TokenError, match="bad signature"):
        verify(KEY, forged, "staff", now=NOW)


def test_tampered_payload_is_refused() -> None:
    token = sign(KEY, "staff", {"email": "staff@example.org"}, now=NOW, ttl_seconds=60)
    _payload, mac = token.split(".")
    claims = _claims_of(token)
    claims["email"] = "mallory@example.com"
    with pytest.raises(TokenError, match="bad signature"):
        verify(KEY, f"{_reencode(claims)}.{mac}", "staff", now=NOW)
    claims = _claims_of(token)
    claims["exp"] = int(claims["exp"]) + 10 * 365 * 86400  # type: ignore[call-overload]
    with pytest.raises(TokenError):
        verify(KEY, f"{_reencode(claims)}.{mac}", "staff", now=NOW)


def test_tampered_signature_is_refused() -> None:
    token = sign(KEY, "staff", {}, now=NOW, ttl_seconds=60)
    payload, mac = token.split(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    with pytest.raises(TokenError):
        verify(KEY, f"{payload}.{flipped}", "staff", now=NOW)


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    ack = sign(KEY, "ack", {"case_id": "cas_1"}, now=NOW, ttl_seconds=60)
    with pytest.raises(TokenError, match="wrong purpose") as caught:
        verify(KEY, ack, "staff", now=NOW)
    assert not isinstance(caught.value, TokenExpired)


def test_expired_at_exactly_exp_and_after() -> None:
    token = sign(KEY, "ack", {}, now=NOW, ttl_seconds=300)
    verify(KEY, token, "ack", now=NOW + timedelta(seconds=299))
    with pytest.raises(TokenExpired):
        verify(KEY, token, "ack", now=NOW + timedelta(seconds=300))
    with pytest.raises(TokenExpired):
        verify(KEY, token, "ack", now=NOW + timedelta(days=2))


def test_expired_is_a_token_error_so_callers_catch_one_type() -> None:
    assert issubclass(TokenExpired, TokenError)


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "no-dot-at-all", ".", "payload.", ".mac", "a.b.c", "%%%.###", "eyJ9.eyJ9"],
)
def test_malformed_tokens_are_refused_with_token_error(bad: str) -> None:
    with pytest.raises(TokenError):
        verify(KEY, bad, "ack", now=NOW)


def test_a_correctly_signed_payload_that_is_not_json_is_malformed() -> None:
    payload = base64.urlsafe_b64encode(b"not json").rstrip(b"=").decode()
    forged_by_key_holder = f"{payload}.{tokens._mac(KEY, payload)}"
    with pytest.raises(TokenError, match="malformed"):
        verify(KEY, forged_by_key_holder, "ack", now=NOW)


def test_a_correctly_signed_payload_without_integer_exp_is_malformed() -> None:
    payload = _reencode({"purpose": "ack", "exp": "tomorrow"})
    with pytest.raises(TokenError, match="malformed"):
        verify(KEY, f"{payload}.{tokens._mac(KEY, payload)}", "ack", now=NOW)


def test_signing_with_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign("", "ack", {}, now=NOW, ttl_seconds=60)


@pytest.mark.parametrize("bad", ["é.abc", "abc.é", "eyJhIjoxfQ.sïgnature"])
def test_non_ascii_tokens_are_refused_with_token_error(bad: str) -> None:
    with pytest.raises(TokenError):
        verify(KEY, bad, "ack", now=NOW)
