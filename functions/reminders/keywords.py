"""What an inbound SMS asks for: opt out, opt in, help, confirm, acknowledge, crisis, or other.

Rules (decided here, relied on by ``handle_inbound_sms`` and its tests):

- **Keywords are whole-message matches.** The message is reduced to its letters and digits,
  upper-cased (``" Stop! "``, ``"stop."``, ``"Opt-Out"``, ``"STOP ALL"`` all match), and only
  then compared with the keyword lists. ``"cancel my appointment"`` is therefore *other*, not an
  opt-out, and never a cancellation either: DESIGN makes ``C`` the confirm word precisely
  because CANCEL is a carrier opt-out word. Being generous with punctuation and spaces only
  ever errs towards honouring an opt-out.
- **Opt-out first.** A bare STOP word is an opt-out, always: carriers enforce it and so do we.
  A keyword message cannot contain crisis language, so there is no conflict to resolve.
- **Crisis language next, and it wins over everything else.** Any message containing one of
  the curated phrases (:data:`CRISIS_PHRASES`) anywhere, in any case, with any punctuation,
  curly or missing apostrophes (``cant go on``), opens a crisis case, even inside a longer
  message or after ``ACK``/``C``. Negations ("I'm not suicidal") still match: a false alarm
  costs a call from the care team, a missed one costs far more.
- **Then** opt-in (START, UNSTOP), help (HELP, INFO), confirm (C, CONFIRM, CONFIRMED) and
  ``ACK <code>`` (code: 4-6 letters/digits, returned upper-cased; ``ACK`` alone gives
  ``code=None`` so the handler can ask for the code; words after the code are ignored).
- Everything else (including an empty message) is *other*.

The intent never carries the text of the message (only the matched keyword), so it is safe to
log.
"""

from __future__ import annotations

import re
import unicodedata
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


def classify(body: str) -> InboundIntent:
    """Classify one inbound SMS (rules in the module docstring)."""
    word = _squash(body)
    if word in OPT_OUT_WORDS:
        return InboundIntent("opt_out", keyword=word)
    if has_crisis_language(body):
        return InboundIntent("crisis")
    if word in OPT_IN_WORDS:
        return InboundIntent("opt_in", keyword=word)
    if word in HELP_WORDS:
        return InboundIntent("help", keyword=word)
    if word in CONFIRM_WORDS:
        return InboundIntent("confirm", keyword=word)
    ack = _ACK.fullmatch(unicodedata.normalize("NFKC", body).strip().upper())
    if ack is not None:
        code = ack.group("code")
        if not code:
            return InboundIntent("ack", keyword="ACK") if not ack.group("rest").strip(" .!") else _other()
        if _ACK_CODE.fullmatch(code) and (not ack.group("rest") or ack.group("rest")[0] in " .!,"):
            return InboundIntent("ack", keyword="ACK", code=code)
    return _other()


def _other() -> InboundIntent:
    return InboundIntent("other")
