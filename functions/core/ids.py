"""Identifiers: sortable, unguessable, free of PHI."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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
