from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.crisis.codes import ALPHABET, AckReply, is_valid_code, new_code, normalise_code, parse_ack


def test_alphabet_has_no_look_alikes():
    for ch in "0O1IL":
        assert ch not in ALPHABET
    assert len(set(ALPHABET)) == len(ALPHABET) == 31


@pytest.mark.parametrize("length", [4, 5, 6])
def test_new_codes_use_the_alphabet_and_length(length):
    codes = {new_code(length) for _ in range(300)}
    assert all(len(c) == length and set(c) <= set(ALPHABET) and is_valid_code(c) for c in codes)
    assert len(codes) > 290  # random, not a counter


def test_default_length_is_four():
    assert len(new_code()) == 4


@pytest.mark.parametrize("length", [0, 3, 7])
def test_bad_lengths_are_refused(length):
    with pytest.raises(ValueError):
        new_code(length)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("k7q2", "K7Q2"),
        (" K7-Q2 ", "K7Q2"),
        ("k7 q2", "K7Q2"),
        ("K7O2", None),
        ("K712", None),
        ("K7Q", None),
        ("K7Q2K7Q", None),
        ("", None),
    ],
)
def test_normalise_code(raw, code):
    assert normalise_code(raw) == code


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("ack k7q2", AckReply("K7Q2")),
        ("ACK K7Q2", AckReply("K7Q2")),
        ("Ack: k7q2.", AckReply("K7Q2")),
        ("  ack   #k7q2!! ", AckReply("K7Q2")),
        ("ACKK7Q2", AckReply("K7Q2")),
        ("acknowledge k7-q2", AckReply("K7Q2")),
        ("ack k7q2 on my way", AckReply("K7Q2")),
        ("ack\nk7q2", AckReply("K7Q2")),
        ("ACK", AckReply(None)),
        ("ack please", AckReply(None)),
        ("ACK K7O2", AckReply(None)),
        ("acked", None),
        ("back k7q2", None),
        ("C", None),
        ("STOP", None),
        ("I want to die", None),
        ("", None),
    ],
)
def test_parse_ack(text, reply):
    assert parse_ack(text) == reply


@given(
    st.text(alphabet=ALPHABET, min_size=4, max_size=6), st.sampled_from(["ack ", "ACK ", "Ack: ", "ack #"])
)
def test_every_code_survives_any_casing(code, prefix):
    assert parse_ack(prefix + code.lower()) == AckReply(code)
    assert parse_ack(prefix + code) == AckReply(code)


@given(st.text(max_size=40))
def test_parse_ack_never_fails(text):
    reply = parse_ack(text)
    assert reply is None or reply.code is None or is_valid_code(reply.code)
