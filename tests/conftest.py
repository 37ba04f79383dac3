"""Shared fixtures. Tests never need the internet, a GPU or a real dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def _fuzz_profiles() -> None:
    """The hypothesis budget of the fuzz tests, one place for all of them (profiles are global):
    ``ci`` (default) is small, derandomised and never shrinks (a failing example is printed as
    found); ``HYPOTHESIS_PROFILE=long`` (``make fuzz-long``) runs hundreds of examples, shrinks
    failures and keeps them in .cache/hypothesis."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    settings.register_profile(
        "ci",
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile(
        "long",
        max_examples=400,
        deadline=None,
        database=DirectoryBasedExampleDatabase(str(Path(__file__).parents[1] / ".cache" / "hypothesis")),
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_fuzz_profiles()
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


# --- synthetic micro-expression data (mertool synth) ---------------------------------------------

#: The tiny set the ``synth_casme2`` fixture writes; tests may compare against these numbers.
SYNTH_TINY = {"subjects": 2, "clips_per_subject": 3, "size": (256, 192), "duration_ms": (100.0, 140.0)}


@pytest.fixture(scope="session")
def synth_casme2(tmp_path_factory):
    """A tiny synthetic CASME II-layout dataset with ground truth, generated once per session.

    2 subjects x 3 clips (one positive, one negative, one surprise each under megc2019),
    256x192 frames at 200 fps, 20-28 frames per clip; a few seconds to make. Read-only: copy
    it before changing anything. Returns a :class:`types.SimpleNamespace` with

    ``root``          the OUT_DIR it was written to
    ``dataset_root``  ``root/CASME2``: what stages and ``open_dataset`` read
    ``truth``         ``root/synth_truth.h5`` (``mertool.synth.truth.truth_table`` / ``load_clip``)
    ``ids``           the sample ids, sorted (``casme2/sub01/EP..``), as the CASME II reader names them
    ``result``        the :class:`mertool.synth.SynthResult`
    """
    from types import SimpleNamespace

    from mertool.synth import SynthConfig, generate
    from mertool.synth.truth import truth_table

    root = tmp_path_factory.mktemp("synth") / "synth"
    result = generate(root, SynthConfig(layout="casme2", seed=0, **SYNTH_TINY), progress=False)
    return SimpleNamespace(
        root=root,
        dataset_root=result.dataset_root,
        truth=result.truth,
        ids=sorted(truth_table(result.truth)),
        result=result,
    )


@pytest.fixture
def torch_one_thread():
    """One intra-op torch thread for the test, restored after: tiny tensors run fastest that way,
    and parallel test runs on 2 cores do not oversubscribe (models tests use it)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
