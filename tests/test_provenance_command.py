"""The command line in a file's provenance is the one its caller gives: the CLI passes its own,
the table runner passes each step's line; nothing below the CLI reads ``sys.argv``."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mertool.store import SampleFile, SampleWriter
from mertool.store.provenance import command_line, make_provenance


def test_make_provenance_records_only_the_given_command(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/bin/pytest", "-k", "x"])
    assert (
        make_provenance("flow", command="mertool flow a.h5 -o b.h5")["command"] == "mertool flow a.h5 -o b.h5"
    )
    assert make_provenance("flow")["command"] is None  # not pytest's command line


def test_command_line_quotes_and_names_the_program():
    assert (
        command_line(["/opt/venv/bin/mertool", "eval-loso", "my file.h5"]) == "mertool eval-loso 'my file.h5'"
    )


@pytest.mark.parametrize("command", ["mertool crop-rois faces.h5 -o rois.h5", None])
def test_sample_file_keeps_the_command(tmp_path, monkeypatch, command):
    monkeypatch.setattr(sys, "argv", ["pytest"])
    with SampleWriter(tmp_path / "a.h5", "crop-rois", command=command) as w:
        w.write("s/1", arrays={"crops/face": np.zeros((1, 4, 4, 3), np.uint8)}, attrs={"subject": "1"})
    with SampleFile(tmp_path / "a.h5") as sf:
        assert sf.provenance["command"] == command


def test_stage_runner_passes_the_command_down(tmp_path, monkeypatch):
    """A stage run through the table runner's call records the step's line, not sys.argv."""
    from mertool.tables import commands

    seen = {}

    class Spec:
        requires = ()

        @staticmethod
        def run(source, output, **kwargs):
            seen.update(kwargs, source=source, output=output)

    monkeypatch.setattr("mertool.stages.chain.stage", lambda name: Spec)
    commands.run_command(["detect-faces", "root", "--size", "224", "-o", "f.h5"], "mertool detect-faces root")
    assert seen == {"size": 224, "command": "mertool detect-faces root", "source": "root", "output": "f.h5"}
