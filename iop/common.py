"""What every ``iop`` command shares: finding the stage (``configure``) and refusing bad input.

Imports stay light (the standard library only at module level): this module is loaded with every command.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, NoReturn

LOCAL_ENDPOINT = "http://127.0.0.1:4566"


class UsageError(Exception):
    """Bad input: exit 2 with this one-line reason."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a ``UsageError`` (one line, exit 2), not argparse's exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def read_json(path: str) -> Any:
    """The JSON document in ``path``; a ``UsageError`` when it is missing, not UTF-8 or not JSON."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def configure() -> None:
    """Find the stage's tables, queues and secrets through the AWS settings, as the functions do."""
    from functions.core import aws, clock, models, secrets, settings
    from local.clock import OffsetClock
    from local.provision import provision
    from local.stack import CLOCK_PARAMETER, local_credentials

    local = not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get("IOP_STAGE")
    if local or os.environ.get("IOP_STAGE", "local") == "local":
        os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
        local_credentials()
    stage = os.environ.get("IOP_STAGE", "local")
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    wiring = provision(endpoint, stage=stage, region=region, create=False)
    for key, value in wiring.env.items():
        os.environ.setdefault(key, value)
    if stage == "local":
        os.environ["IOP_STAFF_AUTH"] = "local"
    settings.reset_settings()
    aws.reset_clients()
    models.unbind_models()
    secrets.forget_secrets()
    if stage == "local":
        try:
            offset = aws.client("ssm").get_parameter(Name=CLOCK_PARAMETER)["Parameter"]["Value"]
            clock.set_clock(OffsetClock(float(offset)))
        except Exception:  # noqa: S110 - no local clock published: the system clock it is
            pass
