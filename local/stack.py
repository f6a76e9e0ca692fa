"""The local stack: AWS emulator, API, website, outbox, queue pump and schedule runner.

    iop run [--api-port 8000] [--web-port 8080] [--aws-port 4566] [--state-dir .local]

Everything runs in this process on 127.0.0.1. The emulator (moto's server) is provisioned from
``infra/merge-template.json``; functions run in-process with the environment the template gives
them; their AWS clients reach the emulator over HTTP through ``AWS_ENDPOINT_URL``.

The functions' JSON logs go whole to ``<state dir>/functions.log``; the console shows one line per
thing that happened, ids only (local/console.py).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from local import state as state_mod
from local.console import Console
from local.faults import Faults, InjectedCrash, guarded
from local.outbox import Outbox
from local.provision import Wiring, provision
from local.pump import Pump

STAGE = "local"
REGION = "us-east-1"
CLOCK_PARAMETER = "/virtual-iop/local/clock-offset-seconds"
BACKLOG = 128  # pending connections each local HTTP server holds
LOG_FILE = "functions.log"  # in the state directory: every JSON log record of the functions


def route_logging_handler(app: Any) -> type:
    """chalice's local request handler, logging the route a request matched, never its path.

    A path carries whatever the client typed (an id, a fuzzer's string, a member id pasted into
    the address bar) and a query string carries signed-link tokens; API Gateway's access logs here
    are ``$context.resourcePath``. The line is ``127.0.0.1 "GET /staff/intakes/{intake_id}" 401``.
    """
    from chalice.local import ChaliceRequestHandler, RouteMatcher

    matcher = RouteMatcher(list(app.routes))

    class RouteLoggingHandler(ChaliceRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            try:
                route = matcher.match_route(self.path).route
            except ValueError:
                route = "(no route)"
            method = self.command if self.command in METHODS else "(other)"
            self.log_message('"%s %s" %s', method, route, getattr(code, "value", code))

        def log_error(self, format: str, *args: Any) -> None:
            # http.server's own errors quote the raw request line; log_request still logs the status.
            return

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.client_address[0]} {format % args}\n")

    return RouteLoggingHandler


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def serialized_moto_server(host: str, port: int) -> Any:
    """moto's threaded server, answering one request at a time.

    DynamoDB makes each conditional write atomic; moto does not across threads, so two functions
    running at once (the API, the pump, an ``iop invoke``) could both win the same condition here
    and never in AWS. Holding one lock around each request keeps the send ledgers' promise locally.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            inner = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def app(environ: Any, start_response: Any) -> list[bytes]:
                with lock:
                    return list(inner(environ, start_response))

            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address=host, port=port, verbose=False)


@dataclass
class Ports:
    api: int = 8000
    web: int = 8080
    aws: int = 4566
    host: str = "127.0.0.1"


def local_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION") or REGION
    os.environ.pop("AWS_PROFILE", None)


def api_fault_scope(faults: Faults) -> Any:
    """Chalice middleware: API requests run in the fault scope; a crash answers 502 as API Gateway would."""
    from chalice.app import Response

    def middleware(event: Any, get_response: Any) -> Any:
        with faults.scope():
            try:
                return get_response(event)
            except InjectedCrash:
                return Response(status_code=502, body={"message": "Internal server error"},
                                headers={"Content-Type": "application/json"})

    return middleware


class LocalStack:
    def __init__(self, ports: Ports, state_dir: Path, seed: bool = True, faults: Faults | None = None) -> None:
        self.faults = faults  # local/faults.py: injected AWS failures in the functions' calls (iop run --faults)
        self.ports = ports
        self.state_dir = state_dir
        self.seed = seed
        self.aws_url = f"http://{ports.host}:{ports.aws}"
        self.api_url = f"http://{ports.host}:{ports.api}"
        self.web_url = f"http://{ports.host}:{ports.web}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[Any] = []
        self._dirty = threading.Event()
        self.console: Console | None = None

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.console = console = Console(sys.stdout, self.state_dir / LOG_FILE, self.now).install()
        try:
            self._start(console)
        except BaseException:
            self._remove_console()  # a stack that did not start gives standard output back
            raise

    def _remove_console(self) -> None:
        if self.console is not None:
            self.console.uninstall()
            self.console = None

    def _start(self, console: Console) -> None:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        from functions.core import aws, clock, models, secrets, settings
        from local.clock import OffsetClock

        local_credentials()
        from local import emulator

        emulator.install()  # moto's transactions and Queries at DynamoDB's costs (local/emulator.py)
        self.moto = serialized_moto_server(self.ports.host, self.ports.aws)
        self.moto.start()
        self.clients = {s: boto3.session.Session(region_name=REGION).client(s, endpoint_url=self.aws_url)
                        for s in ("dynamodb", "dynamodbstreams", "sqs", "sns", "ses", "secretsmanager", "ssm")}
        self.wiring: Wiring = provision(self.aws_url, stage=STAGE, region=REGION, parameters={
            "AllowedOrigins": self.web_url, "PublicBaseUrl": self.web_url})
        env = dict(self.wiring.env)
        env.update({"IOP_STAFF_AUTH": "local", "IOP_API_BASE_URL": self.api_url,
                    "POWERTOOLS_METRICS_NAMESPACE": "VirtualIOP", "POWERTOOLS_DEV": "false"})
        os.environ.update(env)
        self.env = env
        # The emulator's stand-in for the SES identity a clinic verifies before deploying.
        sender = env["IOP_SENDER_EMAIL"]
        self.clients["ses"].verify_domain_identity(Domain=sender.split("@", 1)[1])
        self.clients["ses"].verify_email_identity(EmailAddress=sender)

        settings.reset_settings()
        aws.reset_clients()
        models.unbind_models()
        secrets.forget_secrets()

        saved = self._load_state()
        self.clock = OffsetClock(float(saved.get("clock_offset_seconds", 0.0)))
        clock.set_clock(self.clock)
        self._publish_clock()
        self.settings = settings.get_settings()

        self._outbox = Outbox(self.clock.now, REGION, self.state_dir / "outbox.json", on_sent=console.sent)
        from local.runtime import invoke

        self.pump = Pump(self.wiring, self.clients["sqs"], guarded(self.faults, invoke), self.clock.now,
                         self._after_invoke,
                         streams=self.clients["dynamodbstreams"], note=console.note)
        self.pump.restore(saved.get("pump", {}))
        if saved.get("aws"):
            state_mod.restore(saved["aws"], self.clients)
        self._start_api()
        self._start_web()
        if not saved.get("aws") and self.seed:
            from local.seed import seed_demo

            seed_demo(self)
        if self.faults is not None:  # after provisioning and seeding: only the running functions see them
            self.faults.install()
        self._spawn(self._background, "pump")
        self.save()

    def _after_invoke(self) -> None:
        self._outbox.collect()
        self._dirty.set()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_api(self) -> None:
        from chalice.config import Config
        from chalice.local import create_local_server

        from app import app

        # No API Gateway here: staff routes check local bearer tokens themselves (functions/core/auth.py).
        for methods in app.routes.values():
            for entry in methods.values():
                entry.authorizer = None
        if self.faults is not None:
            app.register_middleware(api_fault_scope(self.faults), "http")
        config = Config.create(chalice_stage="dev", app_name="virtual-iop", chalice_app=app,
                               lambda_timeout=10, lambda_memory_size=1024)
        server = create_local_server(app, config, self.ports.host, self.ports.api)
        server.server.RequestHandlerClass = functools.partial(route_logging_handler(app), app_object=app, config=config)
        # socketserver listens with a backlog of 5: a burst of clients beyond that got connection
        # resets (tests/bench/load.py at 32 clients); API Gateway queues them. Listening again sets it.
        server.server.socket.listen(BACKLOG)
        self._servers.append(server.server)
        self._spawn(server.server.serve_forever, "api")

    def _start_web(self) -> None:
        from local.web import make_server

        server = make_server(self, self.ports.host, self.ports.web)
        self._servers.append(server)
        self._spawn(server.serve_forever, "web")

    def _background(self) -> None:
        last_save = time.monotonic()
        while not self._stop.wait(0.5):
            try:
                self.pump.run_schedules()
                self.pump.drain()
            except Exception:
                self.pump.errors += 1
            if self._dirty.is_set() and time.monotonic() - last_save > 5:
                self.save()
                last_save = time.monotonic()

    # ------------------------------------------------------------------ controls (local/web.py)
    @property
    def clinic_name(self) -> str:
        return self.settings.clinic_name

    @property
    def clinic_phone(self) -> str:
        return self.settings.clinic_phone

    def now(self) -> datetime:
        return self.clock.now() if hasattr(self, "clock") else datetime.now(UTC)  # the clock is set in start()

    def set_clock(self, when: datetime) -> datetime:
        result = self.clock.set(when)
        self._publish_clock()
        self.save()
        return result

    def advance_clock(self, seconds: float) -> datetime:
        result = self.clock.advance(seconds)
        self._publish_clock()
        self.save()
        return result

    def _publish_clock(self) -> None:
        """Other processes (``iop invoke``) read the local clock from the emulator's SSM."""
        self.clients["ssm"].put_parameter(Name=CLOCK_PARAMETER, Value=str(self.clock.offset_seconds),
                                          Type="String", Overwrite=True)

    def tick(self) -> int:
        count = self.pump.tick()
        self.save()
        return count

    def outbox(self) -> dict[str, Any]:
        return self._outbox.snapshot()

    def fault_report(self) -> dict[str, Any]:
        if self.faults is None:
            return {"enabled": False, "calls": 0, "injected": 0, "by_kind": {}, "by_operation": {}}
        return {"enabled": self.faults.enabled, **self.faults.report()}

    def set_faults(self, enabled: bool) -> dict[str, Any]:
        if self.faults is not None:
            self.faults.enabled = enabled
        return self.fault_report()

    def inbound_sms(self, sender: str, body: str) -> str:
        """Publish a two-way SMS to the inbound topic, as AWS End User Messaging does, and deliver it."""
        import uuid

        message = {
            "originationNumber": sender,
            "destinationNumber": self.settings.sms_origination_number or "+15555550199",
            "messageKeyword": "KEYWORD_" + ("0" * 12),
            "messageBody": body,
            "inboundMessageId": str(uuid.uuid4()),
            "previousPublishedMessageId": None,
        }
        response = self.clients["sns"].publish(TopicArn=self.wiring.inbound_sms_topic_arn,
                                               Message=json.dumps(message))
        self.pump.drain()
        self.save()
        return str(response["MessageId"])

    # ------------------------------------------------------------------ state
    def _state_path(self) -> Path:
        return self.state_dir / "state.json"

    def _load_state(self) -> dict[str, Any]:
        path = self._state_path()
        if not path.exists():
            return {}
        try:
            return dict(json.loads(path.read_text()))
        except ValueError:
            return {}

    def save(self) -> None:
        with self.pump.lock if hasattr(self, "pump") else threading.Lock():
            data = {
                "clock_offset_seconds": self.clock.offset_seconds,
                "pump": self.pump.state() if hasattr(self, "pump") else {},
                "aws": state_mod.snapshot(self.wiring, self.clients, REGION),
            }
            state_mod.write_atomic(self._state_path(), data)
        self._dirty.clear()

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        self._stop.set()
        if self.faults is not None:
            self.faults.uninstall()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        try:
            self.save()
        finally:
            self.moto.stop()
            self._remove_console()

    def addresses(self) -> str:
        return "\n".join([
            f"  API            {self.api_url}  (GET /health)",
            f"  Website        {self.web_url}/",
            f"  Outbox         {self.web_url}/outbox",
            f"  Local control  {self.web_url}/_local/{{outbox,clock,tick,sms,faults}}",
            f"  AWS emulator   {self.aws_url}",
            f"  State          {self.state_dir}",
        ])
