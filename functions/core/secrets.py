"""Secrets from Secrets Manager, fetched once per container and cached."""

from __future__ import annotations

import threading

from functions.core import aws

_cache: dict[str, str] = {}
_lock = threading.Lock()


def get_secret(secret_id: str) -> str:
    found = _cache.get(secret_id)
    if found is not None:
        return found
    with _lock:
        sm = aws.client("secretsmanager")
        response = aws.call("secretsmanager", "GetSecretValue", sm.get_secret_value, SecretId=secret_id)
        value = str(response["SecretString"])
        _cache[secret_id] = value
        return value


def forget_secrets() -> None:
    with _lock:
        _cache.clear()
