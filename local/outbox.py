"""The local outbox: every SMS and email the emulator accepted, stamped with the local clock.

The emulator records sends without our clock's time, so the outbox collects new sends right
after each function invocation (and on every read) and stamps them with the clock's time then;
``on_sent`` hears of each new send by channel and message id (the stack's console line).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_string, policy
from pathlib import Path
from typing import Any

from local.provision import ACCOUNT_ID


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Outbox:
    def __init__(self, clock: Callable[[], datetime], region: str = "us-east-1",
                 path: Path | None = None, on_sent: Callable[[str, str], None] | None = None) -> None:
        self.clock = clock
        self.on_sent = on_sent or (lambda _channel, _message_id: None)
        self.region = region
        self.path = path
        self.lock = threading.Lock()
        self.sms: list[dict[str, str]] = []
        self.email: list[dict[str, Any]] = []
        self._seen_sms: set[str] = set()
        self._seen_email: set[str] = set()
        if path and path.exists():
            saved = json.loads(path.read_text())
            self.sms, self.email = saved.get("sms", []), saved.get("email", [])
        # Sends the emulator holds from before a restart are not new: it starts empty.

    def _backends(self) -> tuple[Any, Any]:
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        return sns_backends[ACCOUNT_ID][self.region], ses_backends[ACCOUNT_ID][self.region]

    def collect(self) -> int:
        """Stamp and keep every send the emulator holds that the outbox has not seen."""
        sns, ses = self._backends()
        added = 0
        new: list[tuple[str, str]] = []
        with self.lock:
            at = _iso(self.clock())
            for message_id, (phone, text) in list(sns.sms_messages.items()):
                if message_id in self._seen_sms:
                    continue
                self._seen_sms.add(message_id)
                self.sms.append({"to": phone, "body": text, "at": at})
                new.append(("sms", str(message_id)))
                added += 1
            for message in list(ses.sent_messages):
                message_id = getattr(message, "id", None)
                if message_id is None or message_id in self._seen_email:
                    continue
                self._seen_email.add(message_id)
                new.append(("email", str(message_id)))
                for item in _emails(message, at):
                    self.email.append(item)
                    added += 1
            if added and self.path:
                self.path.write_text(json.dumps({"sms": self.sms, "email": self.email}))
        for channel, message_id in new:
            self.on_sent(channel, message_id)
        return added

    def snapshot(self) -> dict[str, Any]:
        self.collect()
        with self.lock:
            return {"sms": list(self.sms), "email": list(self.email)}


def _emails(message: Any, at: str) -> list[dict[str, Any]]:
    if hasattr(message, "raw_data"):
        parsed = message_from_string(message.raw_data, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        attachments = [part.get_filename() for part in parsed.iter_attachments()]  # type: ignore[attr-defined]
        to = list(message.destinations) if isinstance(message.destinations, list) else \
            message.destinations.get("ToAddresses", [])
        # the emulator lists a raw message's recipient twice: one email per address
        return [{"to": addr, "subject": str(parsed.get("Subject", "")), "text": text, "at": at,
                 "attachments": [a for a in attachments if a]} for addr in dict.fromkeys(to)]
    if hasattr(message, "subject"):
        to = message.destinations.get("ToAddresses", []) if isinstance(message.destinations, dict) else []
        return [{"to": addr, "subject": message.subject, "text": message.body, "at": at, "attachments": []}
                for addr in to]
    return []
