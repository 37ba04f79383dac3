"""The HDF5 store: round trips, provenance, atomic writes, resume, foreign files, pipes."""

from __future__ import annotations

import subprocess

import h5py
import numpy as np
import pytest

from mertool.errors import StoreError
from mertool.store import SampleFile, SampleWriter, open_input
from mertool.store import schema as S


def _write(path, n=3, stage="detect-faces", **kw):
    with SampleWriter(path, stage, params={"size": 8}, **kw) as w:
        for i in range(n):
            w.write(
                f"casme2/sub0{i}/EP0{i}",
                arrays={"frames": np.full((4, 8, 8), i, np.uint8), "frame_numbers": np.arange(4)},
                attrs={"subject": f"sub0{i}", "onset": 1, "apex": None, "aus": ["4", "L10"], "fps": 200.0},
            )
    return path


def test_round_trip_attrs_arrays_and_provenance(tmp_path):
    path = _write(tmp_path / "a.h5")
    with SampleFile(path) as sf:
        assert sf.ids() == ["casme2/sub00/EP00", "casme2/sub01/EP01", "casme2/sub02/EP02"]
        rec = sf.record("casme2/sub01/EP01")
        assert rec.ok and rec.attrs["subject"] == "sub01" and rec.attrs["aus"] == ["4", "L10"]
        assert "apex" not in rec.attrs  # missing stays missing, never a sentinel
        assert rec.array("frames").shape == (4, 8, 8) and int(rec.array("frames")[0, 0, 0]) == 1
        assert sf.complete and sf.stage == "detect-faces"
        assert sf.provenance["params"] == {"size": 8}
        assert sf.provenance["created"] and sf.provenance["mertool_version"]


def test_copy_forward_builds_history_and_hashes_input(tmp_path):
    first = _write(tmp_path / "a.h5")
    with SampleFile(first) as src, SampleWriter(tmp_path / "b.h5", "spot-apex", source=src) as w:
        for rec in src.records():
            w.write(
                rec,
                attrs={S.A_APEX_SPOTTED: 2},
                arrays={"apex_curve": np.zeros(4, np.float32)},
                drop=("frame_numbers",),
            )
    with SampleFile(tmp_path / "b.h5") as sf:
        rec = sf.record("casme2/sub02/EP02")
        assert rec.has("frames") and rec.has("apex_curve") and not rec.has("frame_numbers")
        assert rec.attrs[S.A_APEX_SPOTTED] == 2 and rec.attrs["subject"] == "sub02"
        assert sf.stages_done == ["detect-faces", "spot-apex"]
        from mertool.store import sha256_file

        assert sf.provenance["inputs"][0]["sha256"] == sha256_file(first)


def test_interrupted_write_leaves_no_target_and_resume_continues(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(KeyboardInterrupt):
        with SampleWriter(target, "flow") as w:
            w.write("d/s/a", arrays={"x": np.ones(3)})
            raise KeyboardInterrupt
    assert not target.exists()
    partial = tmp_path / ".out.h5.partial"
    assert partial.exists()
    with SampleWriter(target, "flow", resume=True) as w:
        assert w.is_done("d/s/a") and not w.is_done("d/s/b")
        w.write("d/s/b", arrays={"x": np.ones(3)})
    assert not partial.exists()
    with SampleFile(target) as sf:
        assert sf.ids() == ["d/s/a", "d/s/b"]


def test_failed_samples_are_recorded_with_reason(tmp_path):
    with SampleWriter(tmp_path / "f.h5", "detect-faces") as w:
        w.write_failed("d/s/a", "no face found in frame img1.jpg")
    with SampleFile(tmp_path / "f.h5") as sf:
        rec = sf.record("d/s/a")
        assert not rec.ok and "img1.jpg" in rec.attrs["error"]
        assert list(sf.records(ok_only=True)) == []


@pytest.mark.parametrize("kind", ["foreign", "text", "empty", "truncated", "version"])
def test_bad_files_are_rejected_clearly(tmp_path, kind):
    path = tmp_path / "bad.h5"
    if kind == "foreign":
        with h5py.File(path, "w") as f:
            f["x"] = 1
        expect = "not a mertool sample file"
    elif kind == "text":
        path.write_text("hello")
        expect = "not an HDF5 file"
    elif kind == "empty":
        path.write_bytes(b"")
        expect = "empty"
    elif kind == "truncated":
        _write(path, n=5)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        expect = "truncated"
    else:
        _write(path)
        with h5py.File(path, "a") as f:
            f.attrs["format_version"] = 99
        expect = "format version 99"
    with pytest.raises(StoreError, match=expect):
        SampleFile(path)


def test_inspect_cli_and_json(tmp_path, cli):
    path = _write(tmp_path / "a.h5")
    res = cli("inspect", path, "--json")
    assert res.exit_code == 0
    import json

    info = json.loads(res.stdout)
    assert info["totals"]["samples"] == 3 and info["stages"] == ["detect-faces"]
    assert info["samples"][0]["arrays"]["frames"]["shape"] == [4, 8, 8]
    bad = cli("inspect", tmp_path / "missing.h5")
    assert bad.exit_code == 2 and "no such file" in bad.stderr


def test_inspect_reads_stdin_through_a_real_shell(tmp_path, mertool_bin):
    path = _write(tmp_path / "a.h5")
    out = subprocess.run(
        f"'{mertool_bin}' inspect - --json < '{path}'", shell=True, capture_output=True, text=True, check=True
    )
    assert '"samples": 3' in out.stdout


def test_open_input_refuses_terminal_stdin(monkeypatch):
    import mertool.store.pipes as pipes

    monkeypatch.setattr(pipes, "stdin_is_terminal", lambda: True)
    with pytest.raises(StoreError, match="stdin is a terminal"):
        with open_input("-"):
            pytest.fail("a terminal on stdin must not be read as HDF5")


def test_output_refuses_terminal(monkeypatch):
    import mertool.store.pipes as pipes

    monkeypatch.setattr(pipes, "stdout_is_terminal", lambda: True)
    with pytest.raises(StoreError, match="terminal"):
        pipes.output_target(None)
    assert pipes.output_target("x.h5").name == "x.h5"
