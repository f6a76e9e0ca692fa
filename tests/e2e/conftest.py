"""The local stack, booted once per test session in a subprocess (``iop run``) on free ports.

The stack's code runs in another process, so the PHI guard (tests/phi_guard.py) cannot hook it:
when the session ends, the guard scans what the stack wrote to its log and every SMS body, email
subject and staff email text in ``/_local/outbox``, and fails the session's last test with each
synthetic PHI value it finds (the log line, or the message's recipient and time).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import phi_guard
from tests.e2e.harness import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    running = start_stack(base / "state", base / "stack.log")
    yield running
    try:
        outbox = running.outbox()
    finally:
        stop_stack(running)
    leaks = phi_guard.scan_stack(running.logs(), outbox)
    if leaks:
        pytest.fail(f"PHI guard: {len(leaks)} synthetic PHI value(s) in the local stack's output\n"
                    + "\n".join(str(leak) for leak in leaks), pytrace=False)
