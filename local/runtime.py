"""Run the packaged functions in this process, as Lambda would: by Chalice name, with an event."""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass, field
from typing import Any

# Chalice name -> the Handler string chalice package writes into the template.
HANDLERS = {
    "api_handler": "app.app",
    "check_insurance": "functions.insurance.handler.check_insurance",
    "dispatch_reminders": "functions.reminders.handler.dispatch_reminders",
    "handle_inbound_sms": "functions.inbound.handler.handle_inbound_sms",
    "escalate_crisis": "functions.crisis.handler.escalate_crisis",
    "relay_outbox": "functions.intake.handler.relay_outbox",
}


class UnknownFunction(ValueError):
    pass


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_ms: int = 30_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def handler(name: str) -> Any:
    if name not in HANDLERS:
        raise UnknownFunction(f"unknown function {name!r}; one of: {', '.join(HANDLERS)}")
    module_name, attr = HANDLERS[name].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), attr)


def invoke(name: str, event: dict[str, Any]) -> Any:
    fn = handler(name)
    context = LambdaContext(function_name=f"virtual-iop-local-{name}")
    return fn(event, context)
