"""Identifiers: sortable, unguessable, free of PHI."""

from __future__ import annotations

import re
import secrets
import time
from typing import TypeGuard

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: An intake id as :func:`new_id` / :func:`derived_id` make it (``itk_`` + 26 Crockford characters):
#: every route, message and command that takes one checks it with this one pattern.
INTAKE_ID_PATTERN = r"^itk_[0-9A-HJKMNP-TV-Z]{26}$"
INTAKE_ID_RE = re.compile(INTAKE_ID_PATTERN)


def is_intake_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and INTAKE_ID_RE.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """A ULID-like id: 48-bit millisecond time + 80 random bits, Crockford base32, with a prefix."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def derived_id(prefix: str, seed: str) -> str:
    """An id of :func:`new_id`'s shape computed from ``seed`` (the same seed, the same id).

    For an intake sent with an Idempotency-Key: its id is derived from the key's digest, so the
    intake's own "does not exist yet" condition is the idempotency check."""
    import hashlib

    value = int.from_bytes(hashlib.sha256(f"{prefix}:{seed}".encode()).digest()[:17], "big") >> 6  # 130 bits
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
