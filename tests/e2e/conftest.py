"""The local stack, booted once per test session in a subprocess (``iop run``) on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    running = start_stack(base / "state", base / "stack.log")
    yield running
    stop_stack(running)
