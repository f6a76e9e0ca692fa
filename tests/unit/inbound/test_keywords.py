"""Inbound SMS: what a reply asks for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.inbound.keywords import (
    CRISIS_PHRASES,
    OPT_OUT_WORDS,
    InboundIntent,
    classify,
    has_crisis_language,
)


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
@pytest.mark.parametrize("shape", ["{w}", "{l}", "{t}", "  {w}  ", "{w}.", "{l}!", "\n{t}\n", "{w} 🙏"])
def test_every_stop_word_opts_out_in_any_case_spacing_or_punctuation(word: str, shape: str) -> None:
    body = shape.format(w=word, l=word.lower(), t=word.title())
    assert classify(body) == InboundIntent("opt_out", keyword=word)


@pytest.mark.parametrize("body", ["Stop all", "stop-all", "opt out", "Opt-Out", "un subscribe", "S.T.O.P."])
def test_spaced_or_hyphenated_stop_words_still_opt_out(body: str) -> None:
    assert classify(body).kind == "opt_out"


@pytest.mark.parametrize(
    "body",
    [
        "cancel my appointment",
        "Can I cancel?",
        "please stop texting me at work",
        "I will stop by later",
        "end of the day works",
        "quite",
        "stopp",
        "STOP C",
    ],
)
def test_stop_words_only_count_as_the_whole_message(body: str) -> None:
    assert classify(body).kind == "other"


@pytest.mark.parametrize(("body", "word"), [("START", "START"), ("start", "START"), (" Unstop. ", "UNSTOP")])
def test_start_words_opt_back_in(body: str, word: str) -> None:
    assert classify(body) == InboundIntent("opt_in", keyword=word)


@pytest.mark.parametrize(("body", "word"), [("HELP", "HELP"), ("help?", "HELP"), ("Info", "INFO"), (" info! ", "INFO")])
def test_help_words(body: str, word: str) -> None:
    assert classify(body) == InboundIntent("help", keyword=word)


@pytest.mark.parametrize("body", ["C", "c", "c.", " C ", "C!", "'C'", "Confirm", "confirmed."])
def test_c_confirms(body: str) -> None:
    assert classify(body).kind == "confirm"


@pytest.mark.parametrize("body", ["CC", "yes", "ok", "see you then", "C you there"])
def test_other_replies_do_not_confirm(body: str) -> None:
    assert classify(body).kind == "other"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("ACK K7Q2", "K7Q2"),
        ("ack k7q2", "K7Q2"),
        ("Ack: k7q2", "K7Q2"),
        ("ACK #ABC123", "ABC123"),
        ("  ACK   Z9Z9Z  ", "Z9Z9Z"),
        ("ACK K7Q2.", "K7Q2"),
        ("ACK K7Q2 on my way", "K7Q2"),
        ("acknowledge K7Q2", "K7Q2"),
        ("ACK", None),
        ("ack.", None),
    ],
)
def test_ack_returns_the_code_upper_cased(body: str, code: str | None) -> None:
    assert classify(body) == InboundIntent("ack", keyword="ACK", code=code)


@pytest.mark.parametrize("body", ["ACK K7", "ACK K7Q2X9Z", "ACKK7Q2", "ACK K7-Q2", "ack what?", "ACKED"])
def test_malformed_ack_is_other(body: str) -> None:
    assert classify(body).kind == "other"


@pytest.mark.parametrize(
    "body",
    [
        "I want to kill myself",
        "i want to KILL MYSELF!!!",
        "Thinking about suicide.",
        "I'm suicidal",
        "I can't go on",
        "I can\u2019t go on anymore",
        "cant go on",
        "I just want to end my life",
        "want to die",
        "There's no reason to live",
        "I might hurt myself tonight",
        "took an overdose",
        "I don't want to live",
        "c, and also I want to die",
        "STOP, I want to die",
        "ACK K7Q2 I want to kill myself",
        "self-harm again",
        "I'm not suicidal",  # a false alarm costs a call; a missed one costs far more
    ],
)
def test_crisis_language_opens_a_case_wherever_it_appears(body: str) -> None:
    assert classify(body) == InboundIntent("crisis")


@pytest.mark.parametrize(
    "body",
    [
        "I will die laughing",
        "my phone is dying",
        "the killer app",
        "myself and my mom will join",
        "Mysuicidesquad",  # inside another word
        "hurt my back",
        "",
        "   ",
        "🙂",
    ],
)
def test_ordinary_messages_are_not_crisis(body: str) -> None:
    assert classify(body) == InboundIntent("other")


def test_a_bare_stop_word_is_always_an_opt_out() -> None:
    assert classify("END") == InboundIntent("opt_out", keyword="END")
    assert classify("Quit.") == InboundIntent("opt_out", keyword="QUIT")


def test_every_curated_phrase_is_recognised_in_upper_case_with_punctuation() -> None:
    for phrase in CRISIS_PHRASES:
        assert has_crisis_language(f"...{phrase.upper()}!!"), phrase


def test_the_intent_never_carries_the_message_text() -> None:
    intent = classify("I want to kill myself, my name is Jane")
    assert intent == InboundIntent("crisis") and intent.keyword is None and intent.code is None


@given(st.text(max_size=200))
def test_property_classify_always_answers(body: str) -> None:
    intent = classify(body)
    assert intent.kind in {"opt_out", "opt_in", "help", "confirm", "ack", "crisis", "other"}
    assert intent.keyword is None or intent.keyword.isupper()
