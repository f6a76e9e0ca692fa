"""The local website server: the intake site, the outbox page and the local control routes.

    GET  /                 the intake site (web/), config.js pointing at the local API
    GET  /outbox           every SMS and email sent, newest first
    GET  /_local/outbox    {"sms": [...], "email": [...]}, oldest first
    POST /_local/clock     {"now": ISO 8601} or {"advance_seconds": N} -> {"now": ...}
    POST /_local/tick      run due schedules, then deliver queued messages until idle
    POST /_local/sms       {"from": "+1...", "body": "..."}: an inbound SMS, through the SNS topic
    GET  /_local/faults    what `iop run --faults` injected so far (calls, by kind, by operation)
    POST /_local/faults    {"enabled": false|true}: stop or resume injecting (the chaos run's recovery)
Bad input gets a 400 with a one-line reason.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
MAX_BODY = 64 * 1024


class Controls(Protocol):
    api_url: str
    clinic_name: str
    clinic_phone: str

    def outbox(self) -> dict[str, Any]: ...
    def set_clock(self, when: datetime) -> datetime: ...
    def advance_clock(self, seconds: float) -> datetime: ...
    def now(self) -> datetime: ...
    def tick(self) -> int: ...
    def inbound_sms(self, sender: str, body: str) -> str: ...
    def fault_report(self) -> dict[str, Any]: ...
    def set_faults(self, enabled: bool) -> dict[str, Any]: ...


class BadRequest(ValueError):
    pass


def csp(api_url: str) -> str:
    return ("default-src 'self'; connect-src 'self' " + api_url + "; style-src 'self'; script-src 'self'; "
            "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def make_handler(controls: Controls) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "virtual-iop-local"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", csp(controls.api_url))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise BadRequest("body too large")
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                data = json.loads(raw)
            except ValueError:
                raise BadRequest("body is not JSON") from None
            if not isinstance(data, dict):
                raise BadRequest("body must be a JSON object")
            return data

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/_local/outbox":
                return self._json(200, controls.outbox())
            if path == "/_local/clock":
                return self._json(200, {"now": controls.now().isoformat()})
            if path == "/_local/faults":
                return self._json(200, controls.fault_report())
            if path == "/config.js":
                config = {"apiBase": controls.api_url, "clinicName": controls.clinic_name,
                          "clinicPhone": controls.clinic_phone}
                return self._send(200, f"window.IOP_CONFIG = {json.dumps(config)};\n".encode(),
                                  "text/javascript")
            if path in ("/", ""):
                path = "/index.html"
            elif path in ("/outbox", "/outbox/"):
                path = "/outbox.html"
            target = (WEB_ROOT / path.lstrip("/")).resolve()
            if WEB_ROOT.resolve() not in target.parents or not target.is_file():
                return self._json(404, {"error": "not found"})
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            return self._send(200, target.read_bytes(), content_type)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                body = self._body()
                if path == "/_local/clock":
                    if "now" in body:
                        raw = body["now"]
                        try:
                            when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
                        except ValueError:
                            raise BadRequest("now: not an ISO 8601 time") from None
                        if when.tzinfo is None:
                            raise BadRequest("now: needs a UTC offset or Z")
                        result = controls.set_clock(when)
                    elif "advance_seconds" in body:
                        seconds = body["advance_seconds"]
                        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                            raise BadRequest("advance_seconds: must be a number >= 0")
                        result = controls.advance_clock(float(seconds))
                    else:
                        raise BadRequest("give now or advance_seconds")
                    return self._json(200, {"now": result.isoformat()})
                if path == "/_local/tick":
                    return self._json(200, {"invocations": controls.tick()})
                if path == "/_local/faults":
                    if not isinstance(body.get("enabled"), bool):
                        raise BadRequest("enabled: must be true or false")
                    return self._json(200, controls.set_faults(body["enabled"]))
                if path == "/_local/sms":
                    sender, text = body.get("from"), body.get("body")
                    if not isinstance(sender, str) or not sender.startswith("+") or not sender[1:].isdigit():
                        raise BadRequest("from: must be an E.164 number like +15555550123")
                    if not isinstance(text, str) or not text.strip() or len(text) > 1600:
                        raise BadRequest("body: must be 1 to 1600 characters of text")
                    return self._json(202, {"message_id": controls.inbound_sms(sender, text)})
            except BadRequest as exc:
                return self._json(400, {"errors": [{"field": "", "message": str(exc)}]})
            return self._json(404, {"error": "not found"})

    return Handler


def make_server(controls: Controls, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(controls))
    server.socket.listen(128)  # socketserver's backlog of 5 resets bursts of clients (local/stack.py)
    server.daemon_threads = True
    return server
