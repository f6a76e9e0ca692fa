"""What an inbound SMS asks for: opt out, crisis, opt in, help, confirm, acknowledge, or other.

:data:`MATCHERS` is the order of the checks; the first that matches decides (rules in
``docs/inbound-sms.md``): a whole-message STOP word first, then crisis language anywhere in the
message, then START, HELP, C and ``ACK <code>``; everything else (an empty message too) is *other*.
An intent never carries the text of the message (only the matched keyword or case code), so it is
safe to log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["opt_out", "opt_in", "help", "confirm", "ack", "crisis", "other"]

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "CONFIRMED"})

CRISIS_PHRASES: tuple[str, ...] = (
    "kill myself",
    "killing myself",
    "suicide",
    "suicidal",
    "unalive",
    "end my life",
    "ending my life",
    "end it all",
    "take my life",
    "take my own life",
    "want to die",
    "wanna die",
    "want 2 die",
    "wish i was dead",
    "wish i were dead",
    "better off dead",
    "dont want to live",
    "dont want to be alive",
    "dont want to be here anymore",
    "no reason to live",
    "nothing to live for",
    "cant go on",
    "cannot go on",
    "can not go on",
    "hurt myself",
    "hurting myself",
    "harm myself",
    "harming myself",
    "self harm",
    "selfharm",
    "cut myself",
    "cutting myself",
    "overdose",
    "overdosed",
    "overdosing",
    "hang myself",
    "shoot myself",
    "not worth living",
)

_ACK = re.compile(r"ACK(?:NOWLEDGE|NOWLEDGED)?(?:[\s:#.,-]+|$)(?P<code>[A-Z0-9]*)(?P<rest>.*)", re.S)
_ACK_CODE = re.compile(r"[A-Z0-9]{4,6}")


@dataclass(frozen=True)
class InboundIntent:
    """What a message asks for. ``keyword`` is the matched keyword (upper case) for keyword
    intents; ``code`` the case code of an ``ack``. Neither ever holds free text."""

    kind: IntentKind
    keyword: str | None = None
    code: str | None = None


def _squash(body: str) -> str:
    """Letters and digits only, upper case: the form a whole-message keyword is compared in."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", body) if ch.isalnum()).upper()


def normalise_text(body: str) -> str:
    """Lower case, apostrophes dropped (``can't`` -> ``cant``), every other non-alphanumeric
    run a single space, padded with a space each side (so phrases match whole words)."""
    text = unicodedata.normalize("NFKC", body).casefold()
    text = re.sub("['\u2018\u2019\u02bc`\u00b4]", "", text)
    text = re.sub(r"[^0-9a-z]+", " ", text)
    return f" {text.strip()} "


_CRISIS = tuple(normalise_text(p) for p in CRISIS_PHRASES)


def has_crisis_language(body: str) -> bool:
    """True when ``body`` contains a curated crisis phrase as whole words."""
    text = normalise_text(body)
    return any(phrase in text for phrase in _CRISIS)


Matcher = Callable[[str, str], "InboundIntent | None"]


def _opt_out(body: str, word: str) -> InboundIntent | None:
    return InboundIntent("opt_out", keyword=word) if word in OPT_OUT_WORDS else None


def _crisis(body: str, word: str) -> InboundIntent | None:
    return InboundIntent("crisis") if has_crisis_language(body) else None


def _opt_in(body: str, word: str) -> InboundIntent | None:
    return InboundIntent("opt_in", keyword=word) if word in OPT_IN_WORDS else None


def _help(body: str, word: str) -> InboundIntent | None:
    return InboundIntent("help", keyword=word) if word in HELP_WORDS else None


def _confirm(body: str, word: str) -> InboundIntent | None:
    return InboundIntent("confirm", keyword=word) if word in CONFIRM_WORDS else None


def _ack(body: str, word: str) -> InboundIntent | None:
    """``ACK <code>`` (code: 4-6 letters/digits, upper-cased; words after it are ignored);
    ``ACK`` alone gives ``code=None`` so the crisis workflow can ask for the code."""
    ack = _ACK.fullmatch(unicodedata.normalize("NFKC", body).strip().upper())
    if ack is None:
        return None
    code = ack.group("code")
    if not code:
        return InboundIntent("ack", keyword="ACK") if not ack.group("rest").strip(" .!") else None
    if _ACK_CODE.fullmatch(code) and (not ack.group("rest") or ack.group("rest")[0] in " .!,"):
        return InboundIntent("ack", keyword="ACK", code=code)
    return None


# The order of the checks: the first match wins. A new intent is one line here (and one in
# functions/inbound/router.py's ROUTES).
MATCHERS: tuple[tuple[IntentKind, Matcher], ...] = (
    ("opt_out", _opt_out),
    ("crisis", _crisis),
    ("opt_in", _opt_in),
    ("help", _help),
    ("confirm", _confirm),
    ("ack", _ack),
)


def classify(body: str) -> InboundIntent:
    """Classify one inbound SMS: the first of :data:`MATCHERS` that matches, else *other*."""
    word = _squash(body)
    for _kind, match in MATCHERS:
        found = match(body, word)
        if found is not None:
            return found
    return InboundIntent("other")
