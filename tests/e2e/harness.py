"""Helpers to boot the local stack in a subprocess (``iop run``) on free ports and talk to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Http:
    status: int
    body: Any
    headers: dict[str, str]


def request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
            raw: bytes | None = None) -> Http:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            status, hdrs = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        text, status, hdrs = exc.read().decode(), exc.code, dict(exc.headers)
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Http(status, parsed, hdrs)


@dataclass
class Stack:
    api: str
    web: str
    aws: str
    state_dir: Path
    process: subprocess.Popen[str]
    log_path: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "AWS_ENDPOINT_URL": self.aws, "IOP_STAGE": "local",
                "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}

    def iop(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "iop", *args], cwd=ROOT, env=self.env(),
                              capture_output=True, text=True, timeout=120, check=False)

    def tick(self) -> int:
        return int(request("POST", self.web + "/_local/tick").body["invocations"])

    def outbox(self) -> dict[str, Any]:
        return dict(request("GET", self.web + "/_local/outbox").body)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                     region_name="us-east-1").client(service, endpoint_url=self.aws)

    def logs(self) -> str:
        """The stack's console and its functions' JSON log file (``<state dir>/functions.log``)."""
        functions_log = self.state_dir / "functions.log"
        return self.log_path.read_text() + (functions_log.read_text() if functions_log.exists() else "")


def start_stack(state_dir: Path, log_path: Path, ports: tuple[int, int, int] | None = None,
                seed: bool = True, extra_args: tuple[str, ...] = ()) -> Stack:
    """Boot ``iop run``; ``seed=False`` leaves out the demo data (tests that assert the outbox exactly)."""
    api, web, aws = ports or (free_port(), free_port(), free_port())
    log = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "iop", "run", "--api-port", str(api), "--web-port", str(web),
         "--aws-port", str(aws), "--state-dir", str(state_dir), *([] if seed else ["--no-seed"]), *extra_args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IOP_"))},
    )
    stack = Stack(f"http://127.0.0.1:{api}", f"http://127.0.0.1:{web}", f"http://127.0.0.1:{aws}",
                  state_dir, process, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("local stack exited:\n" + log_path.read_text())
        try:
            if request("GET", stack.api + "/health").status == 200 and \
                    request("GET", stack.web + "/_local/outbox").status == 200 and \
                    "local stack is up" in log_path.read_text():
                return stack
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("local stack did not come up:\n" + log_path.read_text())


def stop_stack(stack: Stack) -> int:
    """Ctrl-C, as an engineer would; a stack that does not stop fails with its threads' stacks."""
    stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stack.process.send_signal(signal.SIGUSR1)  # faulthandler: dump every thread (iop/cli.py)
        time.sleep(2)
        stack.process.kill()
        stack.process.wait()
        raise AssertionError("the local stack did not stop within 60 s:\n" + stack.logs()[-20000:]) from None
