"""Shared fixtures. Tests never need the internet, a GPU or a real dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("YOLO_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
MERTOOL = str(Path(sys.executable).with_name("mertool"))


@pytest.fixture
def cli():
    """Invoke the mertool app through typer's runner: ``cli("inspect", path)`` -> Result."""
    from typer.testing import CliRunner

    from mertool.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def mertool_bin() -> str:
    """Path of the installed console script, for tests that go through a real shell."""
    return MERTOOL


@pytest.fixture
def torch_one_thread():
    """One intra-op torch thread for the test, restored after: tiny tensors run fastest that way,
    and parallel test runs on 2 cores do not oversubscribe (models tests use it)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
