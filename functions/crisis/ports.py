"""How the crisis workflow reaches the outside: SMS, email, the crisis queue, alarm metrics and
the key that signs acknowledgement links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.errors import DomainError
from functions.core.log import get_logger
from functions.core.messaging import EmailPort, SmsPort
from functions.core.queues import QueuePort
from functions.core.settings import get_settings

logger = get_logger("crisis")

#: The crisis queue's message types.
EVENT_TYPES = frozenset({"case_opened", "signal_added", "ack_due", "acknowledged"})


class AlarmPort(Protocol):
    def alarm(self, metric: str) -> None:
        """Emit one alarm metric (a count of 1); never PHI in its name or dimensions."""
        ...


class EmfAlarms:
    """Alarm metrics as CloudWatch Embedded Metric Format lines (Powertools), flushed at once."""

    def alarm(self, metric: str) -> None:
        from functions.core.metrics import count

        count(metric)


@dataclass
class Ports:
    sms: SmsPort
    email: EmailPort
    queue: QueuePort
    alarms: AlarmPort


def default_ports() -> Ports:
    from functions.core.messaging import SesEmail, SnsSms
    from functions.core.queues import SqsPublisher

    return Ports(SnsSms(), SesEmail(), SqsPublisher(), EmfAlarms())


def publish(queue: QueuePort, body: dict[str, Any], delay_seconds: int = 0) -> bool:
    """Queue a crisis event; False (logged) when the queue is unreachable: every path that
    publishes also leaves the case due, so the sweep delivers it within a minute."""
    try:
        queue.publish(
            get_settings().crisis_queue_url, body, delay_seconds=delay_seconds, dedup_id=str(body.get("event_id") or "")
        )
    except DomainError as exc:
        logger.warning(
            "crisis event not queued; the sweep will pick the case up",
            extra={"case_id": body.get("case_id"), "type": body.get("type"), "error": type(exc).__name__},
        )
        return False
    return True


def signing_key() -> str:
    from functions.core.secrets import get_secret

    return get_secret(get_settings().signing_secret_id)


def link_base() -> str:
    settings = get_settings()
    return settings.api_base_url or settings.public_base_url
