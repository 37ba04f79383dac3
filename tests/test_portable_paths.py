"""Sample files that work anywhere: the dataset root stored absolutely, frame paths relative to it,
--data-root / MERTOOL_DATA_ROOT for data that moved, and --retry-failed after --resume."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mertool.errors import MertoolError
from mertool.store import SampleFile, SampleWriter
from mertool.store import paths as P
from mertool.store import schema as S

# ------------------------------------------------------------------------------------------------
# the rule itself (pure functions)


def test_frame_paths_are_stored_relative_to_an_absolute_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert P.relative_frame_paths(["data/sub01/img1.jpg", "/elsewhere/img2.jpg"], "data") == [
        "sub01/img1.jpg",
        "/elsewhere/img2.jpg",  # outside the root: absolute
    ]
    assert P.absolute_root("data/") == str(tmp_path / "data")
    # the video label follows the same rule
    assert P.relative_frame_paths(["clips/a.mp4#12"], "clips") == ["a.mp4#12"]


def test_resolution_joins_the_root_and_applies_the_first_matching_mapping():
    stored = ["sub01/img1.jpg", "/abs/img2.jpg"]
    assert P.resolve_frame_paths(stored, "/data/CASME2") == ["/data/CASME2/sub01/img1.jpg", "/abs/img2.jpg"]
    maps = P.parse_root_maps(["/data=/mnt/data", "/data/CASME2=/never"])
    assert P.resolve_frame_paths(stored, "/data/CASME2", maps)[0] == "/mnt/data/CASME2/sub01/img1.jpg"
    # whole path components only: /data2 is not under /data
    assert P.remap("/data2/x.jpg", maps) == "/data2/x.jpg"
    # a mapping of a folder below the root works too
    below = P.parse_root_maps(["/data/CASME2/sub01=/fast/sub01"])
    assert P.resolve_frame_paths(stored, "/data/CASME2", below)[0] == "/fast/sub01/img1.jpg"
    # older files (no data_root): paths as stored, mappings still apply
    assert P.resolve_frame_paths(["demo/img1.jpg"], None) == ["demo/img1.jpg"]
    assert P.resolve_frame_paths(["demo/img1.jpg"], None, P.parse_root_maps(["demo=/new"])) == [
        "/new/img1.jpg"
    ]


def test_environment_mappings_are_semicolon_separated_and_come_after_the_command_line(monkeypatch):
    env = {P.ENV_DATA_ROOT: " /a=/x ; ;/b=/y"}
    maps = P.env_root_maps(env)
    assert [(m.old, m.new, m.origin) for m in maps] == [
        ("/a", "/x", P.ENV_DATA_ROOT),
        ("/b", "/y", P.ENV_DATA_ROOT),
    ]
    with pytest.raises(MertoolError, match="expected OLD=NEW"):
        P.env_root_maps({P.ENV_DATA_ROOT: "/a"})
    monkeypatch.setenv(P.ENV_DATA_ROOT, "/a=/from-env")
    with P.data_roots([f"/a={os.getcwd()}"]):
        active = P.active_root_maps()
        assert P.remap("/a/img.jpg", active) == os.path.join(os.getcwd(), "img.jpg")
    assert P.remap("/a/img.jpg", P.active_root_maps()) == "/from-env/img.jpg"


def test_a_data_root_option_is_checked():
    with pytest.raises(MertoolError, match="expected OLD=NEW"):
        with P.data_roots(["/only/old"]):
            pass
    with pytest.raises(MertoolError, match="is not a folder"):
        with P.data_roots(["/old=/no/such/folder/here"]):
            pass


# ------------------------------------------------------------------------------------------------
# real files: detect-faces and crop-rois on the tiny synthetic CASME II


@pytest.fixture(scope="module")
def run_a(synth_casme2, tmp_path_factory):
    """detect-faces then crop-rois (aligned frames dropped), run in folder ``a`` with the dataset
    given relative to it, as a new user would: ``a/s/CASME2``, ``a/faces.h5``, ``a/rois.h5``."""
    from mertool.stages.chain import prepared_input, requirements
    from mertool.stages.crop_rois import run as crop
    from mertool.stages.detect_faces import run as detect

    a = tmp_path_factory.mktemp("a")
    shutil.copytree(synth_casme2.root, a / "s")
    cwd = os.getcwd()
    os.chdir(a)
    try:
        detect(Path("s/CASME2"), Path("faces.h5"), workers=1)
        with prepared_input("faces.h5", requirements(S.STAGE_ROIS)) as faces_apex:
            crop(faces_apex, Path("rois.h5"), regions="face")
    finally:
        os.chdir(cwd)
    return a


def test_detect_faces_stores_the_root_absolute_and_frames_relative_to_it(run_a):
    with SampleFile(run_a / "rois.h5") as sf:
        rec = sf.record(sf.ids()[0])
        assert rec.get(S.A_DATA_ROOT) == str(run_a / "s" / "CASME2")
        stored = sf.group(rec.id)[S.D_FRAME_PATHS][0].decode()
        assert stored.startswith("CASME2_RAW_selected/") and not os.path.isabs(stored)
        assert not rec.has(S.D_FRAMES)  # crop-rois dropped them: source frames are the only way back
        assert all(os.path.isabs(p) and os.path.isfile(p) for p in rec.frame_paths())
        from mertool.store.describe import describe

        assert describe(sf)["data_roots"] == [str(run_a / "s" / "CASME2")]


def test_the_same_file_works_from_another_folder(run_a, tmp_path, monkeypatch, cli):
    b = tmp_path / "b"
    b.mkdir()
    monkeypatch.chdir(b)
    with SampleFile(run_a / "rois.h5") as sf:
        assert all(Path(p).is_file() for r in sf.records() for p in r.array(S.D_FRAME_PATHS))
    res = cli("crop-rois", run_a / "rois.h5", "--regions", "face", "--size", "96", "-o", "again.h5")
    assert res.exit_code == 0, res.stderr
    assert "6 sample(s) done" in res.stderr and "failed" not in res.stderr
    with SampleFile(b / "again.h5") as sf:
        assert len(sf) == 6 and all(r.ok for r in sf.records())
        assert sf.record(sf.ids()[0]).array("crops/face").shape[1] == 96


def _moved(run_a: Path, tmp_path: Path) -> tuple[Path, str]:
    """The dataset copied to ``tmp_path/c`` and a copy of rois.h5 whose root is a folder that no
    longer exists: as if the dataset had moved (or the file went to another machine)."""
    new = tmp_path / "c"
    shutil.copytree(run_a / "s", new)
    gone = str(tmp_path / "gone" / "s")
    with (
        SampleFile(run_a / "rois.h5") as src,
        SampleWriter(tmp_path / "moved.h5", S.STAGE_ROIS, source=src) as w,
    ):
        for rec in src.records():
            w.write(rec, attrs={S.A_DATA_ROOT: f"{gone}/CASME2"})
    return new, gone


def test_a_moved_dataset_fails_clearly_then_works_with_data_root(run_a, tmp_path, monkeypatch, cli):
    monkeypatch.delenv(P.ENV_DATA_ROOT, raising=False)
    new, gone = _moved(run_a, tmp_path)
    res = cli("crop-rois", tmp_path / "moved.h5", "--regions", "face", "-o", tmp_path / "x.h5")
    assert res.exit_code == 0 and "6 failed" in res.stderr
    with SampleFile(tmp_path / "x.h5") as sf:
        rec = sf.record(sf.ids()[0])
        error = rec.get(S.A_ERROR)
    # names the frame file, the sample file, the stored root and the option that fixes it
    assert f"{gone}/CASME2/CASME2_RAW_selected/" in error and "moved.h5" in error
    assert f"--data-root {gone}/CASME2=NEW_PATH" in error and P.ENV_DATA_ROOT in error
    assert rec.id in res.stderr

    res = cli(
        "crop-rois",
        tmp_path / "moved.h5",
        "--regions",
        "face",
        "-o",
        tmp_path / "y.h5",
        "--data-root",
        f"{gone}={new}",
    )
    assert res.exit_code == 0, res.stderr
    assert "6 sample(s) done" in res.stderr and "failed" not in res.stderr
    with SampleFile(tmp_path / "y.h5") as sf:
        assert all(r.ok and r.has("crops/face") for r in sf.records())
        # the file keeps its own root; the mapping is a matter of where it is read
        assert sf.record(sf.ids()[0]).get(S.A_DATA_ROOT) == f"{gone}/CASME2"

    # --from source refuses to fall back, and names the missing file
    res = cli("crop-rois", tmp_path / "moved.h5", "--from", "source", "-o", tmp_path / "z.h5")
    assert "source frame files are not readable" in res.stderr and "--data-root" in res.stderr


def test_a_moved_dataset_works_with_the_environment_variable(run_a, tmp_path, monkeypatch, cli):
    new, gone = _moved(run_a, tmp_path)
    monkeypatch.setenv(P.ENV_DATA_ROOT, f"/unrelated=/tmp;{gone}={new}")
    monkeypatch.chdir(tmp_path)
    res = cli("crop-rois", tmp_path / "moved.h5", "--regions", "face", "-o", "env.h5")
    assert res.exit_code == 0, res.stderr
    assert "6 sample(s) done" in res.stderr and "failed" not in res.stderr
    with SampleFile(tmp_path / "moved.h5") as sf:
        assert sf.record(sf.ids()[0]).frame_paths()[0].startswith(f"{new}/CASME2/")


def test_detect_faces_on_a_moved_file_records_where_the_frames_were_found(run_a, tmp_path, cli):
    new, gone = _moved(run_a, tmp_path)
    out = tmp_path / "refaces.h5"
    res = cli(
        "detect-faces",
        tmp_path / "moved.h5",
        "-o",
        out,
        "-j",
        "1",
        "--limit",
        "2",
        "--data-root",
        f"{gone}={new}",
    )
    assert res.exit_code == 0, res.stderr
    assert "2 sample(s) done" in res.stderr
    with SampleFile(out, data_roots=()) as sf:
        rec = sf.record(sf.ids()[0])
        assert rec.ok and rec.get(S.A_DATA_ROOT) == str(new / "CASME2")
        assert all(Path(p).is_file() for p in rec.frame_paths())


def test_an_old_style_file_with_paths_relative_to_the_working_folder_is_still_read(
    run_a, tmp_path, monkeypatch, cli
):
    """Files of earlier versions: no data_root, frame paths relative to the folder the stage ran in."""
    old = tmp_path / "old.h5"
    with SampleFile(run_a / "rois.h5") as src, SampleWriter(old, S.STAGE_ROIS, source=src) as w:
        for rec in src.records():
            rel = [os.path.relpath(p, run_a) for p in rec.frame_paths()]
            w.write(rec, arrays={S.D_FRAME_PATHS: rel}, attrs={S.A_DATA_ROOT: None})
    with SampleFile(old) as sf:
        rec = sf.record(sf.ids()[0])
        assert rec.get(S.A_DATA_ROOT) is None and rec.data_root is None
        assert rec.frame_paths()[0].startswith("s/CASME2/")  # as stored: relative to the folder

    monkeypatch.chdir(run_a)  # where it was made: works as it always did
    res = cli("crop-rois", old, "--regions", "face", "-o", tmp_path / "from_a.h5")
    assert res.exit_code == 0 and "6 sample(s) done" in res.stderr and "failed" not in res.stderr

    monkeypatch.chdir(tmp_path)  # elsewhere: a mapping of the relative prefix finds the frames
    res = cli("crop-rois", old, "--regions", "face", "-o", "elsewhere.h5", "--data-root", f"s={run_a / 's'}")
    assert res.exit_code == 0 and "6 sample(s) done" in res.stderr and "failed" not in res.stderr


def test_retry_failed_redoes_samples_once_the_cause_is_fixed(run_a, tmp_path, cli):
    data = tmp_path / "s"
    shutil.copytree(run_a / "s", data)
    rois = tmp_path / "rois.h5"
    with SampleFile(run_a / "rois.h5") as src, SampleWriter(rois, S.STAGE_ROIS, source=src) as w:
        for rec in src.records():
            w.write(rec, attrs={S.A_DATA_ROOT: str(data / "CASME2")})
        sid = src.ids()[1]
        frame = Path(src.record(sid).frame_paths()[0].replace(str(run_a / "s"), str(data)))
    hidden = frame.with_name(frame.name + ".away")
    frame.rename(hidden)  # one frame unreadable: that sample fails
    out = tmp_path / "out.h5"
    res = cli("crop-rois", rois, "--regions", "face", "-o", out)
    assert "5 sample(s) done" in res.stderr and "1 failed" in res.stderr and frame.name in res.stderr

    hidden.rename(frame)  # the cause fixed
    res = cli("crop-rois", rois, "--regions", "face", "-o", out, "--resume")
    assert "6 already done (resumed)" in res.stderr and "--retry-failed" in res.stderr
    with SampleFile(out) as sf:
        assert not sf.record(sid).ok  # --resume alone keeps the failure

    res = cli("crop-rois", rois, "--regions", "face", "-o", out, "--resume", "--retry-failed")
    assert res.exit_code == 0, res.stderr
    assert "1 sample(s) done" in res.stderr and "5 already done (resumed)" in res.stderr
    with SampleFile(out) as sf:
        assert len(sf) == 6 and all(r.ok for r in sf.records())
        assert sf.record(sid).get(S.A_ERROR) is None


def test_retry_failed_implies_resume_and_needs_an_output_file(tmp_path):
    from mertool.store import open_output

    with SampleWriter(tmp_path / "f.h5", "flow") as w:
        w.write("a")
        w.write_failed("b", "broken")
    for retry, done in ((False, {"a", "b"}), (True, {"a"})):
        w = SampleWriter(tmp_path / "f.h5", "flow", resume=True, retry_failed=retry)
        assert {s for s in ("a", "b") if w.is_done(s)} == done
        w.abort()
    w = SampleWriter(tmp_path / "f.h5", "flow", retry_failed=True)  # no resume=True needed
    assert w.resumed and w.is_done("a") and not w.is_done("b")
    w.abort()
    with pytest.raises(MertoolError, match="--retry-failed needs -o FILE"):
        with open_output("-", "flow", retry_failed=True):
            pass
