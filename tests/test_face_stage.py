"""The detect-faces / crop-rois / show commands on small trees of real-face clips."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest
from fixtures.face_clips import FACE_CASME2_ROWS, build_face_casme2, face_frame, write_clip

from mertool.errors import SampleError
from mertool.store import SampleFile, SampleWriter
from mertool.store import schema as S

RAW = "CASME2_RAW_selected"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Three face clips (sub01/EP01_01 frames 1-8, sub01/EP02_02f 20-27, sub02/EP03_01 5-10 with apex '/')."""
    return build_face_casme2(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def faces_h5(tree, tmp_path_factory):
    from mertool.stages.detect_faces import run

    out = tmp_path_factory.mktemp("faces") / "faces.h5"
    run(tree, out, workers=1)
    return out


def test_detect_faces_writes_the_schema_arrays(faces_h5, tree):
    with SampleFile(faces_h5) as sf:
        assert sf.ids() == ["casme2/sub01/EP01_01", "casme2/sub01/EP02_02f", "casme2/sub02/EP03_01"]
        rec = sf.record("casme2/sub01/EP02_02f")
        assert (
            rec.ok
            and rec.attrs["onset"] == 20
            and rec.attrs["apex"] == 23
            and rec.attrs["subject"] == "sub01"
        )
        assert (
            rec.attrs[S.A_FACE_SIZE] == 128
            and rec.attrs[S.A_COLOR] == "rgb"
            and rec.attrs[S.A_DETECTOR] == "dlib-hog"
        )
        assert list(rec.array(S.D_FRAME_NUMBERS)) == list(range(20, 28))
        assert rec.array(S.D_FRAME_PATHS)[0].endswith(f"{RAW}/sub01/EP02_02f/img20.jpg")
        assert rec.array(S.D_FRAMES).shape == (8, 128, 128, 3) and rec.array(S.D_FRAMES).dtype == np.uint8
        assert rec.array(S.D_BOXES).shape == (8, 4) and rec.array(S.D_LANDMARKS).shape == (8, 68, 2)
        assert rec.array(S.D_ALIGN_MATRIX).shape == (2, 3) and not rec.array(S.D_REDETECTED).any()
        # aligned landmarks sit where the alignment puts the eyes
        eyes = rec.array(S.D_LANDMARKS_ALIGNED)[:, 36:48].mean(axis=1)
        assert np.abs(eyes - [64, 0.34 * 128]).max() < 2.0
        inputs = sf.provenance["inputs"]
        assert {i["kind"] for i in inputs} == {"annotation", "dataset-root"}
        assert sf.provenance["params"]["detector"] == "dlib-hog"


def _damaged_tree(parent):
    rows = FACE_CASME2_ROWS[:2] + (
        (3, "EP04_01", 1, 3, 6, "fear"),
        (3, "EP05_01", 1, 3, 6, "fear"),
        (4, "EP06_01", 1, 3, 6, "sadness"),
        (4, "EP07_01", 1, 3, 6, "sadness"),
    )
    root = build_face_casme2(parent, rows)
    clips = root / RAW
    garbage = b"\xff\xd8" + np.random.default_rng(0).bytes(3000) + b"\xff\xd9"  # JPEG markers, corrupt data
    (clips / "sub03" / "EP04_01" / "img3.jpg").write_bytes(garbage)
    good = (clips / "sub03" / "EP05_01" / "img4.jpg").read_bytes()
    (clips / "sub03" / "EP05_01" / "img4.jpg").write_bytes(good[: len(good) // 2])  # truncated
    cv2.imwrite(
        str(clips / "sub04" / "EP06_01" / "img5.jpg"), cv2.resize(face_frame(), (300, 220))
    )  # other size
    for n in range(1, 7):  # no face at all
        cv2.imwrite(
            str(clips / "sub04" / "EP07_01" / f"img{n}.jpg"), np.full((240, 320, 3), 100 + n, np.uint8)
        )
    return root


def test_bad_clips_fail_with_the_file_named_and_the_rest_go_on(tmp_path, cli):
    root = _damaged_tree(tmp_path)
    out = tmp_path / "faces.h5"
    res = cli("detect-faces", root, "-o", out, "-j", "1")
    assert res.exit_code == 0, res.stderr
    assert "2 sample(s) done" in res.stderr and "4 failed" in res.stderr
    with SampleFile(out) as sf:
        errors = {r.id: r.attrs.get("error") for r in sf.records() if not r.ok}
        assert {r.id for r in sf.records() if r.ok} == {"casme2/sub01/EP01_01", "casme2/sub01/EP02_02f"}
    assert (
        "cannot decode image" in errors["casme2/sub03/EP04_01"]
        and "EP04_01/img3.jpg" in errors["casme2/sub03/EP04_01"]
    )
    assert (
        "truncated JPEG" in errors["casme2/sub03/EP05_01"]
        and "EP05_01/img4.jpg" in errors["casme2/sub03/EP05_01"]
    )
    err = errors["casme2/sub04/EP06_01"]
    assert "frame of another size" in err and "EP06_01/img5.jpg is 300x220" in err and "320x240" in err
    err = errors["casme2/sub04/EP07_01"]
    assert "no face found by the dlib-hog detector in the first frame" in err and "EP07_01/img1.jpg" in err
    for sid in errors:  # every failure is listed in the summary at the end
        assert sid in res.stderr

    fail = cli("detect-faces", root, "-o", tmp_path / "stop.h5", "-j", "1", "--on-error", "fail")
    assert fail.exit_code != 0
    assert "casme2/sub03/EP04_01" in fail.stderr and "img3.jpg" in fail.stderr
    assert not (tmp_path / "stop.h5").exists() and (tmp_path / ".stop.h5.partial").exists()


def test_resume_skips_clips_already_done(tmp_path, cli):
    root = build_face_casme2(tmp_path)
    out = tmp_path / "faces.h5"
    assert cli("detect-faces", root, "-o", out, "-j", "1", "--limit", "1").exit_code == 0
    # the first clip's frames vanish: were it processed again, it would fail
    for f in (root / RAW / "sub01" / "EP01_01").iterdir():
        f.unlink()
    (root / RAW / "sub01" / "EP01_01" / "img1.jpg").write_bytes(b"gone")
    res = cli("detect-faces", root, "-o", out, "-j", "1", "--resume")
    assert res.exit_code == 0, res.stderr
    assert "1 already done (resumed)" in res.stderr and "2 sample(s) done" in res.stderr
    with SampleFile(out) as sf:
        assert len(sf) == 3 and all(r.ok for r in sf.records())


def test_shell_pipe_detect_faces_into_crop_rois(synth_casme2, tmp_path, mertool_bin):
    out = tmp_path / "rois.h5"
    root = synth_casme2.dataset_root
    cmd = f"'{mertool_bin}' detect-faces '{root}' | '{mertool_bin}' crop-rois -o '{out}'"
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex", "crop-rois"]
        assert sf.ids() == synth_casme2.ids and all(r.ok for r in sf.records())
        for rec in sf.records():
            assert not rec.has(S.D_FRAMES)  # the per-frame array is dropped by default
            onset, apex = rec.attrs["onset"], rec.attrs["apex"]
            numbers = list(rec.array(S.D_CROP_FRAME_NUMBERS))
            assert numbers[0] == onset and numbers[2] == apex and onset <= numbers[1] <= apex
            assert rec.attrs[S.A_CROP_FRAMES] == ["onset", "middle", "apex"]
            assert rec.array("crops/face").shape == (3, 128, 128, 3)
            assert rec.array("crops/rois15").shape == (3, 15, 64, 64, 3)
            assert rec.array("crops/au5").shape == (3, 5, 64, 64, 3)
            assert rec.array("crops/dc3").shape == (3, 3, 64, 64, 3)
            assert rec.array("roi_boxes/rois15").shape == (3, 15, 4)
            assert rec.attrs[S.A_ROI_NAMES_JSON]["au5"] == ["eye_brow", "mouth", "chin", "cheek", "nose"]
            # the aligned eyes sit where the alignment puts them, in every frame of every clip
            eyes = rec.array(S.D_LANDMARKS_ALIGNED)[:, 36:48].mean(axis=1)
            assert np.abs(eyes - [64, 0.34 * 128]).max() < 3.0


def test_crop_rois_on_a_faces_file_spots_a_missing_apex_first(faces_h5, tmp_path, cli):
    """The chain runs spot-apex with the label where there is one, D&C-RoIs where not."""
    res = cli("crop-rois", faces_h5, "-o", tmp_path / "rois.h5")
    assert res.exit_code == 0, res.stderr
    assert "running spot-apex" in res.stderr
    with SampleFile(tmp_path / "rois.h5") as sf:
        odd = sf.record("casme2/sub02/EP03_01")  # its apex is written '/' in the sheet
        assert (
            odd.ok
            and "apex" not in odd.attrs
            and odd.attrs[S.A_APEX_SPOTTED] in list(odd.array(S.D_FRAME_NUMBERS))
        )
        assert odd.attrs[S.A_APEX_METHOD] == "dc-rois"
        rec = sf.record("casme2/sub01/EP01_01")
        assert rec.attrs[S.A_APEX_SPOTTED] == rec.attrs["apex"] == 4 and rec.attrs[S.A_APEX_METHOD] == "label"
        # onset, nearest (1+4)/2 (tie: earlier), apex
        assert list(rec.array(S.D_CROP_FRAME_NUMBERS)) == [1, 2, 4]


def test_crop_rois_without_an_apex_fails_the_sample_with_advice(faces_h5, tmp_path):
    """The stage itself, given a clip with no apex at all, marks it failed and says what to do."""
    from mertool.stages.crop_rois import run

    run(faces_h5, tmp_path / "rois.h5")
    with SampleFile(tmp_path / "rois.h5") as sf:
        odd = sf.record("casme2/sub02/EP03_01")
        assert not odd.ok and "no apex: run mertool spot-apex first" in odd.attrs[S.A_ERROR]
        assert sf.record("casme2/sub01/EP01_01").ok
    with pytest.raises(SampleError, match="casme2/sub02/EP03_01"):
        run(faces_h5, tmp_path / "stop.h5", on_error="fail")


def test_crop_rois_prefers_the_spotted_apex_and_resizes(faces_h5, tmp_path, cli):
    spotted = tmp_path / "apex.h5"
    with SampleFile(faces_h5) as src, SampleWriter(spotted, S.STAGE_APEX, source=src) as w:
        for rec in src.records():
            w.write(rec, attrs={S.A_APEX_SPOTTED: int(rec.array(S.D_FRAME_NUMBERS)[-1])})
    out = tmp_path / "rois.h5"
    res = cli(
        "crop-rois",
        spotted,
        "-o",
        out,
        "--regions",
        "face,dc3",
        "--size",
        "96",
        "--roi-size",
        "32",
        "--frames",
        "onset,apex",
        "--keep-frames",
    )
    assert res.exit_code == 0, res.stderr
    with SampleFile(out) as sf:
        for rec in sf.records():  # SMIC-like clip without an apex label works once spotted
            assert rec.ok, rec.attrs.get("error")
            numbers = rec.array(S.D_FRAME_NUMBERS)
            assert list(rec.array(S.D_CROP_FRAME_NUMBERS)) == [numbers[0], numbers[-1]]
            assert rec.array("crops/face").shape == (2, 96, 96, 3) and rec.array("crops/dc3").shape == (
                2,
                3,
                32,
                32,
                3,
            )
            assert not rec.has("crops/rois15") and rec.has(S.D_FRAMES)
            boxes = rec.array("roi_boxes/dc3")
            np.testing.assert_array_equal(boxes[0], boxes[1])  # placed once per clip
            # the dc3 eye boxes hold the aligned eye landmarks of the onset frame
            eyes = rec.array(S.D_LANDMARKS_ALIGNED)[0, 36:42]
            b = boxes[0, 0]
            assert np.all(
                (eyes[:, 0] > b[0]) & (eyes[:, 0] < b[2]) & (eyes[:, 1] > b[1]) & (eyes[:, 1] < b[3])
            )

    bad = cli("crop-rois", faces_h5, "-o", tmp_path / "x.h5", "--regions", "rois16")
    assert bad.exit_code == 2 and "unknown region set" in bad.stderr


def test_crop_rois_takes_a_dataset_root(tree, tmp_path, cli):
    out = tmp_path / "rois.h5"
    res = cli("crop-rois", tree, "-o", out, "--regions", "au5", "-j", "1", "--on-error", "skip")
    assert res.exit_code == 0, res.stderr
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex", "crop-rois"]
        assert sf.record("casme2/sub01/EP01_01").array("crops/au5").shape == (3, 5, 64, 64, 3)


def test_detect_faces_again_on_its_own_output_in_gray(faces_h5, tmp_path, cli):
    out = tmp_path / "gray.h5"
    res = cli(
        "detect-faces", faces_h5, "-o", out, "--size", "64", "--color", "gray", "--align", "frame", "-j", "1"
    )
    assert res.exit_code == 0, res.stderr
    with SampleFile(out) as sf:
        rec = sf.record("casme2/sub01/EP01_01")
        assert rec.array(S.D_FRAMES).shape == (8, 64, 64) and rec.attrs[S.A_COLOR] == "gray"
        assert rec.array(S.D_ALIGN_MATRIX).shape == (8, 2, 3)
        assert sf.stages_done == ["detect-faces", "detect-faces"]
    rois = tmp_path / "rois.h5"  # per-frame alignment and gray frames go on through crop-rois
    assert cli("crop-rois", out, "-o", rois, "--regions", "face,au5").exit_code == 0
    with SampleFile(rois) as sf:
        rec = sf.record("casme2/sub01/EP02_02f")
        assert rec.array("crops/face").shape == (3, 64, 64) and rec.array("crops/au5").shape == (3, 5, 64, 64)


def test_a_video_file_is_one_sample(tmp_path, cli):
    video = tmp_path / "me.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    for i in range(6):
        writer.write(face_frame(0.5 * i, i, 0, 1.0))
    writer.release()
    out = tmp_path / "v.h5"
    res = cli("detect-faces", video, "-o", out)
    assert res.exit_code == 0, res.stderr
    with SampleFile(out) as sf:
        rec = sf.record("video/me/me")
        assert rec.ok and rec.attrs["fps"] == pytest.approx(25.0)
        assert list(rec.array(S.D_FRAME_NUMBERS)) == list(range(6))
        assert rec.array(S.D_FRAME_PATHS)[2] == f"{video}#2"
        assert rec.array(S.D_FRAMES).shape == (6, 128, 128, 3)
    assert cli("show", out, "video/me/me", "-o", tmp_path / "v.png").exit_code == 0


def test_a_folder_of_frames_is_one_sample(tmp_path, cli):
    write_clip(tmp_path / "mine", range(100, 106), "frame_{:04d}.png")
    write_clip(tmp_path / "plain", ["a", "b", "c"], "{}.png")  # no numbers in the names: taken in name order
    for folder in ("mine", "plain"):
        res = cli("detect-faces", tmp_path / folder, "-o", tmp_path / f"{folder}.h5")
        assert res.exit_code == 0, res.stderr
    with SampleFile(tmp_path / "mine.h5") as sf:
        rec = sf.record("frames/mine/mine")
        assert list(rec.array(S.D_FRAME_NUMBERS)) == list(range(100, 106)) and rec.attrs["subject"] == "mine"
        assert sf.provenance["inputs"][0]["kind"] == "frames-folder"
    with SampleFile(tmp_path / "plain.h5") as sf:
        rec = sf.record("frames/plain/plain")
        assert list(rec.array(S.D_FRAME_NUMBERS)) == [1, 2, 3] and rec.array(S.D_FRAME_PATHS)[2].endswith(
            "c.png"
        )


def test_two_worker_processes_give_the_same_result(tree, faces_h5, tmp_path):
    from mertool.stages.detect_faces import run

    out = tmp_path / "two.h5"
    summary = run(tree, out, workers=2)
    assert summary.done == 3 and not summary.failed
    with SampleFile(out) as a, SampleFile(faces_h5) as b:
        for sid in a.ids():
            np.testing.assert_array_equal(
                a.record(sid).array(S.D_LANDMARKS), b.record(sid).array(S.D_LANDMARKS)
            )
            np.testing.assert_array_equal(a.record(sid).array(S.D_FRAMES), b.record(sid).array(S.D_FRAMES))


def test_show_draws_the_panels_the_file_has(faces_h5, tmp_path, cli):
    png = tmp_path / "s.png"
    res = cli("show", faces_h5, "casme2/sub01/EP01_01", "-o", png)
    assert res.exit_code == 0, res.stderr
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 600 and img.shape[1] > 600
    res = cli("show", faces_h5, "casme2/sub01/EP01_01", "-o", png, "--panels", "crops")
    assert res.exit_code == 2 and "needs crops/face" in res.stderr
    res = cli("show", faces_h5, "casme2/sub09/EP99", "-o", png)
    assert res.exit_code == 2 and "no sample" in res.stderr
    listing = cli("show", faces_h5, "x", "-o", png, "--list")
    assert "aligned" in listing.stdout and "rois" in listing.stdout


def _laplacian_var(img: np.ndarray) -> float:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_crops_come_from_the_source_frames_when_they_can(tree, tmp_path, cli):
    faces64 = tmp_path / "faces64.h5"  # small aligned frames: enlarging them to 256 shows
    assert cli("detect-faces", tree, "-o", faces64, "--size", "64", "-j", "1").exit_code == 0
    out = {}
    for how in ("source", "frames"):
        out[how] = tmp_path / f"{how}.h5"
        res = cli(
            "crop-rois", faces64, "-o", out[how], "--regions", "face,dc3", "--from", how, "--size", "256"
        )
        assert res.exit_code == 0, res.stderr
    with SampleFile(out["source"]) as a, SampleFile(out["frames"]) as b:
        fa = a.record("casme2/sub01/EP01_01").array("crops/face")
        fb = b.record("casme2/sub01/EP01_01").array("crops/face")
        assert fa.shape == fb.shape == (3, 256, 256, 3)
        # the same face in the same place (the enlarged 64-pixel frame is only blurrier) ...
        ga, gb = (cv2.cvtColor(x[0], cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (fa, fb))
        (dx, dy), _ = cv2.phaseCorrelate(ga, gb)
        assert abs(dx) < 0.25 and abs(dy) < 0.25
        # ... and cut once from the source pixels, it is sharper than the enlarged aligned frame
        assert _laplacian_var(fa[0]) > 2.0 * _laplacian_var(fb[0])


def test_moved_source_frames_fall_back_to_the_stored_frames(faces_h5, tmp_path, cli):
    import shutil

    moved = tmp_path / "faces.h5"
    shutil.copyfile(faces_h5, moved)
    with SampleFile(moved) as src, SampleWriter(tmp_path / "elsewhere.h5", S.STAGE_FACES, source=src) as w:
        for rec in src.records():  # as if the file had been copied to a machine without the dataset
            paths = [p.replace("CASME2_RAW_selected", "not_here") for p in rec.array(S.D_FRAME_PATHS)]
            w.write(rec, arrays={S.D_FRAME_PATHS: paths})
    res = cli("crop-rois", tmp_path / "elsewhere.h5", "-o", tmp_path / "auto.h5", "--regions", "face")
    assert res.exit_code == 0, res.stderr
    assert "cut from the stored aligned frames" in res.stderr
    res = cli("crop-rois", tmp_path / "elsewhere.h5", "-o", tmp_path / "src.h5", "--from", "source")
    assert "source frame files are not readable" in res.stderr
    with SampleFile(tmp_path / "src.h5") as sf:
        assert not any(r.ok for r in sf.records())
