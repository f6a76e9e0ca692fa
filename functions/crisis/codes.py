"""Case codes: the short handle staff see in an alert and type back (``ACK K7Q2``).

A code names a case without revealing anything about the patient. It is drawn with ``secrets``
from an alphabet without look-alikes (no 0/O, 1/I/L), so it survives being read aloud or typed
on a phone keyboard. Uniqueness among open cases is the store's job (a conditional write on the
code, retried with a fresh code on conflict); 4 characters give 31**4 (about 920,000) codes.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MIN_LENGTH = 4
MAX_LENGTH = 6
DEFAULT_LENGTH = 4

_ACK = re.compile(
    r"^\s*(?:ack|acknowledge|acknowledged)(?![a-z])[\s:#.,-]*(?P<rest>.*?)[\s.!]*$", re.I | re.S
)
_ACK_GLUED = re.compile(r"^\s*ack(?P<rest>[a-z0-9]{4,6})[\s.!]*$", re.I)


def new_code(length: int = DEFAULT_LENGTH) -> str:
    """A fresh random case code of ``length`` (4-6) characters."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"case code length must be {MIN_LENGTH}-{MAX_LENGTH}")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise_code(raw: str) -> str | None:
    """``raw`` as a case code (upper case, spaces and dashes dropped), or None if it cannot be one."""
    code = re.sub(r"[\s-]+", "", raw).upper()
    if not MIN_LENGTH <= len(code) <= MAX_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def is_valid_code(code: str) -> bool:
    """True for a code exactly as ``new_code`` writes it."""
    return normalise_code(code) == code


@dataclass(frozen=True)
class AckReply:
    """An SMS that asks to acknowledge. ``code`` is None when no well-formed code followed."""

    code: str | None


def parse_ack(text: str) -> AckReply | None:
    """Read a staff reply: ``"ack k7q2"`` -> ``AckReply("K7Q2")``; ``"ACK"`` -> ``AckReply(None)``;
    anything that does not start with ACK (or ACKNOWLEDGE[D]) -> None.

    Accepted around the code: any case, ``:``/``#``/``-`` after ACK, trailing words ("ACK K7Q2
    thanks"), a code glued to ACK ("ACKK7Q2"), spaces or a dash inside the code ("K7 Q2").
    """
    glued = _ACK_GLUED.match(text)
    if glued is not None and normalise_code(glued.group("rest")) is not None:
        return AckReply(normalise_code(glued.group("rest")))
    match = _ACK.match(text)
    if match is None:
        return None
    rest = match.group("rest")
    words = rest.split()
    code = normalise_code(rest)
    if code is None and words:
        code = normalise_code(words[0].strip(".,!:;"))
    return AckReply(code)
