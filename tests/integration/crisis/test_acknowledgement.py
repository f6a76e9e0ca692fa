"""Acknowledging a case: by SMS reply (through the real inbound-SMS handler) and by signed link."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from functions.core.clock import iso
from functions.core.models import CrisisItem
from functions.core.secrets import get_secret
from functions.core.settings import get_settings
from functions.crisis import links, roster
from tests.integration.crisis.conftest import API_BASE, STAFF, Crisis

MIN = 60
LINK = re.compile(re.escape(API_BASE) + r"(/crisis/ack/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


def _paged_to_tier_two(crisis: Crisis) -> tuple[str, str]:
    case_id = crisis.open_case()
    crisis.deliver()
    crisis.advance(5 * MIN)
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben", "Chen"]
    return case_id, crisis.code(case_id)


def _link_path(crisis: Crisis, name: str, index: int = -1) -> str:
    phone = STAFF[name][0]
    texts = [text for to, text in crisis.sms() if to == phone]
    found = LINK.search(texts[index])
    assert found
    return found.group(1)


def test_ack_by_sms_stops_the_chain_and_everyone_paged_is_told_who_took_it(crisis: Crisis) -> None:
    case_id, code = _paged_to_tier_two(crisis)
    before = len(crisis.sms())
    crisis.advance(30)
    assert crisis.inbound_sms(STAFF["Chen"][0], f"ack {code.lower()} on it") == {"batchItemFailures": []}
    reply_to, reply = crisis.sms()[before]
    assert reply_to == STAFF["Chen"][0]
    assert reply.startswith(f"Harbor Clinic: thank you, case {code} is yours. The others paged have been told.")
    assert reply.endswith(f"Details (staff sign-in): https://www.clinic.example/staff.html?case={case_id}")

    crisis.deliver()  # the "acknowledged" event: notices to Ana and Ben, not to Chen
    told = crisis.sms()[before + 1 :]
    assert sorted(crisis.sms_to()[before + 1 :]) == ["Ana", "Ben"]
    assert all(
        text == f"Harbor Clinic: case {code} acknowledged by Chen. No action needed from you." for _, text in told
    )
    assert Counter(crisis.email_to())["Ana"] == 2 and Counter(crisis.email_to())["Chen"] == 1

    state = crisis.case(case_id).state
    assert state.status == "acknowledged" and state.acked_by.name == "Chen Li" and state.acked_by.via == "sms"
    assert CrisisItem.get(f"CASE#{case_id}", "CASE").due_at is None
    sent = (len(crisis.sms()), len(crisis.email()))
    for _ in range(4):
        crisis.tick(15 * MIN)  # the old timer and the sweep: nothing more
    assert (len(crisis.sms()), len(crisis.email())) == sent

    # a later ACK is recorded and changes nothing
    crisis.inbound_sms(STAFF["Ana"][0], f"ACK {code}")
    assert crisis.sms()[-1] == (
        STAFF["Ana"][0],
        f"Harbor Clinic: case {code} was already acknowledged by Chen. No action needed.",
    )
    assert crisis.case(case_id).state.acked_by.name == "Chen Li"
    kinds = [e["type"] for e in crisis.timeline(case_id)]
    assert kinds.count("acknowledged") == 1 and kinds.count("ack_late") == 1 and kinds.count("told") == 4


def test_a_member_not_yet_paged_may_take_the_case(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    crisis.inbound_sms(STAFF["Dana"][0], f"ACK {crisis.code(case_id)}")
    crisis.deliver()
    assert crisis.case(case_id).state.acked_by.name == "Dana Roe"
    assert sorted(crisis.sms_to()[3:]) == ["Ana", "Ben"]


def test_unknown_codes_and_strangers_get_one_polite_refusal_and_change_nothing(crisis: Crisis) -> None:
    case_id, code = _paged_to_tier_two(crisis)
    refusal = (
        "Harbor Clinic: sorry, we could not match this reply to an alert sent to this phone. "
        "Check the code in the alert, or use the link in it."
    )
    other = "ZZZZ" if code != "ZZZZ" else "YYYY"
    crisis.inbound_sms(STAFF["Chen"][0], f"ACK {other}")
    assert crisis.sms()[-1] == (STAFF["Chen"][0], refusal)
    crisis.inbound_sms("+12025550177", f"ACK {code}")  # a phone not on the roster (even with the right code)
    assert crisis.sms()[-1] == ("+12025550177", refusal)
    crisis.inbound_sms(STAFF["Chen"][0], "ACK")
    assert "reply ACK and the case code" in crisis.sms()[-1][1]
    assert crisis.case(case_id).state.status == "open"
    assert "acknowledged" not in [e["type"] for e in crisis.timeline(case_id)]


def test_the_link_page_does_not_acknowledge_and_its_form_post_does(crisis: Crisis) -> None:
    case_id, code = _paged_to_tier_two(crisis)
    path = _link_path(crisis, "Ben")
    with crisis.api() as client:
        for _ in range(3):  # mail scanners, previews, the person themselves
            page = client.http.get(path)
            assert page.status_code == 200
            assert page.headers["Content-Type"].startswith("text/html")
            assert page.headers["Referrer-Policy"] == "no-referrer"
            assert '<form method="post">' in page.body.decode() and code in page.body.decode()
        assert crisis.case(case_id).state.status == "open"

        done = client.http.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"")
        assert done.status_code == 200 and f"Case {code} is yours" in done.body.decode()
        # who to call back is one tap away: the staff case page
        assert f'<a href="https://www.clinic.example/staff.html?case={case_id}">' in done.body.decode()
        state = crisis.case(case_id).state
        assert state.status == "acknowledged" and state.acked_by.name == "Ben Okafor" and state.acked_by.via == "link"

        again = client.http.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"")
        assert again.status_code == 410 and "already been used" in again.body.decode()
        assert client.http.get(path).status_code == 410
    crisis.deliver()
    assert sorted(crisis.sms_to()[3:]) == ["Ana", "Chen"]


def test_a_second_link_after_the_first_acknowledgement_is_recorded_as_late(crisis: Crisis) -> None:
    case_id, _ = _paged_to_tier_two(crisis)
    with crisis.api() as client:
        assert client.http.post(_link_path(crisis, "Chen")).status_code == 200
        late = client.http.post(_link_path(crisis, "Ana"))
    assert late.status_code == 200 and "already acknowledged by Chen" in late.body.decode()
    assert crisis.case(case_id).state.acked_by.name == "Chen Li"


def test_forged_tampered_and_expired_links_are_refused_with_403(crisis: Crisis) -> None:
    case_id, _ = _paged_to_tier_two(crisis)
    path = _link_path(crisis, "Chen")
    token = path.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    forged_key = links.make_token("not-the-clinic-key", case_id, links.Recipient.member(0, 0), now=crisis.clock.now())
    other_case = links.make_token(
        get_secret(get_settings().signing_secret_id),
        "cas_SOMEONE_ELSE",
        links.Recipient.member(0, 0),
        now=crisis.clock.now(),
    )
    with crisis.api() as client:
        for bad in (f"{payload}.{mac[:-2]}xx", f"{payload[:-3]}abc.{mac}", forged_key, "nonsense", other_case):
            for method in (client.http.get, client.http.post):
                response = method(f"/crisis/ack/{bad}")
                assert response.status_code == 403, bad
                assert "not valid" in response.body.decode()
        crisis.advance(24 * 3600 + 1)
        for method in (client.http.get, client.http.post):
            expired = method(path)
            assert expired.status_code == 403 and "expired" in expired.body.decode()
    assert crisis.case(case_id).state.status == "open"


def test_always_email_link_acknowledges_as_the_director(crisis: Crisis) -> None:
    from tests.integration.crisis.conftest import roster_data

    data = roster_data(repeat=0)
    data["tiers"] = data["tiers"][:1]
    roster.import_roster(data, at=crisis.clock.now())
    case_id = crisis.open_case()
    crisis.deliver()
    crisis.tick(5 * MIN)
    director = crisis.email()[-1]
    assert director[0] == "director@clinic.example"
    found = LINK.search(director[2])
    assert found
    with crisis.api() as client:
        assert client.http.post(found.group(1)).status_code == 200
    state = crisis.case(case_id).state
    assert state.status == "acknowledged" and state.acked_by.email == "director@clinic.example"
    crisis.deliver()
    assert sorted(crisis.sms_to()[2:]) == ["Ana", "Ben"]
    assert iso(state.acked_by.at) == iso(crisis.clock.now())


def test_a_link_that_fails_half_way_stays_usable(crisis: Crisis, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.core.errors import RetryableError
    from functions.crisis import store

    case_id, code = _paged_to_tier_two(crisis)
    path = _link_path(crisis, "Chen")
    real = store.save_case
    failures = {"left": 1}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise RetryableError("dynamodb.UpdateItem failed: ThrottlingException")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "save_case", flaky)
    with crisis.api() as client:
        busy = client.http.post(path)
        assert busy.status_code == 503 and "try again" in busy.body.decode().lower()
        assert crisis.case(case_id).state.status == "open"
        done = client.http.post(path)
        assert done.status_code == 200 and f"Case {code} is yours" in done.body.decode()
