"""Fixtures shared by the integration tests at this level."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def iop(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``iop("dlq", "list")``: the ``iop`` command in process, on moto (the ``aws`` fixture has
    configured the stage, so ``configure`` is skipped); returns (exit code, stdout, stderr)."""
    from iop import cli, common

    monkeypatch.setattr(common, "configure", lambda: None)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
