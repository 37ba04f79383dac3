"""mertool analyze: spot, recognise with a model (PyTorch and onnxruntime), timeline files, MP4."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from helpers_training import TINY, write_flow_file
from typer.testing import CliRunner

from mertool.cli.app import app


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    """An 8 s, 30 fps synthetic long video (2 micro-expressions, a blink) as JPEG frames."""
    from mertool.synth.generate import order_sources
    from mertool.synth.long_video import LongSynthConfig, plan_video, render_video
    from mertool.synth.sources import select_sources
    from mertool.synth.subjects import make_subject

    cfg = LongSynthConfig(duration_s=8.0, seed=31, micro=2, macro=0, blinks=1, head_turns=0, light_changes=0)
    src = order_sources(select_sources(("zidane",), None), cfg.seed)
    subject = make_subject(0, src[0], cfg.size, np.random.default_rng(2))
    plan = plan_video(cfg, subject, 0, 15, 1, 30.0)
    folder = tmp_path_factory.mktemp("video") / "frames"
    folder.mkdir()
    for i, frame in enumerate(render_video(plan, subject, cfg.seed)):
        cv2.imwrite(str(folder / f"img{i + 1:04d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny model file on flow-stage inputs (flow + apex) and its ONNX export."""
    from mertool.training import export as E

    d = tmp_path_factory.mktemp("model")
    flow = write_flow_file(d / "flow.h5", subjects=3, per_class=2, size=16)
    pt = d / "tiny.pt"
    r = CliRunner().invoke(
        app, ["train", str(flow), "--arch", TINY, "--epochs", "1", "--input-size", "16", "-o", str(pt)]
    )
    assert r.exit_code == 0, r.output
    onnx = d / "tiny.onnx"
    E.export_onnx(pt, onnx)
    return pt, onnx


def _run(*args):
    r = CliRunner().invoke(app, ["analyze", *map(str, args)])
    assert r.exit_code == 0, r.output
    return r


def test_analyze_writes_the_timeline_and_a_playable_mp4(frames_dir, models, tmp_path):
    pt, _ = models
    out = tmp_path / "out"
    _run(frames_dir, "--fps", "30", "--model", pt, "-o", out)
    timeline = json.loads((out / "timeline.json").read_text())
    assert timeline["frames"] == 240 and timeline["duration_s"] == pytest.approx(8.0)
    micro = [r for r in timeline["intervals"] if r["kind"] == "micro"]
    assert micro, "the two micro-expressions of the video: at least one spotted"
    for row, probs in zip(timeline["intervals"], timeline["probabilities"]):
        assert row["start_frame"] <= row["apex_frame"] <= row["end_frame"]
        assert row["start_s"] == pytest.approx((row["start_frame"] - 1) / 30, abs=1e-3)
        if row["kind"] == "micro":
            assert row["label"] in timeline["classes"] and 0 < row["confidence"] <= 1
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
            assert probs[row["label"]] == pytest.approx(row["confidence"], abs=1e-6)
    rows = list(csv.DictReader((out / "timeline.csv").open()))
    assert [r["start_frame"] for r in rows] == [str(r["start_frame"]) for r in timeline["intervals"]]
    png = cv2.imread(str(out / "timeline.png"))
    assert png is not None and png.shape[1] > 600
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 240
    ok, frame = cap.read()
    assert ok and frame.shape[:2] == (240, 320)
    cap.release()
    assert not list(out.glob(".*partial*"))


def test_onnx_runtime_gives_the_same_labels(frames_dir, models, tmp_path):
    pt, onnx = models
    _run(frames_dir, "--fps", "30", "--model", pt, "-o", tmp_path / "a", "--no-video")
    _run(frames_dir, "--fps", "30", "--model", onnx, "--runtime", "onnx", "-o", tmp_path / "b", "--no-video")
    a = json.loads((tmp_path / "a" / "timeline.json").read_text())
    b = json.loads((tmp_path / "b" / "timeline.json").read_text())
    assert [r["label"] for r in a["intervals"]] == [r["label"] for r in b["intervals"]]
    for pa, pb in zip(a["probabilities"], b["probabilities"]):
        if pa is not None:
            assert max(abs(pa[k] - pb[k]) for k in pa) < 1e-4
    assert not (tmp_path / "a" / "annotated.mp4").exists()


def test_without_a_model_it_spots_only(frames_dir, tmp_path):
    _run(frames_dir, "--fps", "30", "-o", tmp_path, "--no-video")
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert timeline["model"] is None and all(r["label"] is None for r in timeline["intervals"])


def test_a_model_for_other_inputs_is_refused_before_any_frame(frames_dir, tmp_path, monkeypatch):
    import mertool.face.video as FV

    def never(*a, **k):
        raise AssertionError("a frame was read")

    monkeypatch.setattr(FV, "follow_video", never)
    missing = CliRunner().invoke(
        app, ["analyze", str(frames_dir), "--fps", "30", "--model", str(tmp_path / "x.pt")]
    )
    assert missing.exit_code != 0 and "no such model file" in missing.output
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a model")
    r = CliRunner().invoke(app, ["analyze", str(frames_dir), "--fps", "30", "--model", str(bogus)])
    assert r.exit_code != 0 and "bogus.pt" in r.output


def test_webcam_that_is_not_there_says_so(tmp_path):
    r = CliRunner().invoke(app, ["analyze", "--webcam", "9", "--seconds", "1", "-o", str(tmp_path)])
    assert r.exit_code != 0 and "camera 9 cannot be opened" in r.output


def test_a_face_lost_for_a_second_is_a_gap_and_the_rest_is_analysed(frames_dir, tmp_path):
    import shutil

    folder = tmp_path / "occluded"
    shutil.copytree(frames_dir, folder)
    for n in range(101, 131):  # one second without a face (a hand in front of it)
        cv2.imwrite(str(folder / f"img{n:04d}.jpg"), np.full((240, 320, 3), 90, np.uint8))
    r = _run(folder, "--fps", "30", "-o", tmp_path / "out", "--no-video")
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    (gap,) = timeline["gaps"]
    assert gap["first"] <= 101 and gap["last"] >= 130 and gap["last"] - gap["first"] < 40
    assert "no face" in r.output.replace("\n", " ")
    for row in timeline["intervals"]:  # nothing spotted across the gap
        assert row["end_frame"] < gap["first"] or row["start_frame"] > gap["last"]
    assert timeline["frames"] == 240


def test_a_second_person_in_view_the_main_face_by_default_the_other_with_face_1(frames_dir, tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    files = sorted(frames_dir.glob("*.jpg"))[:60]
    for f in files:
        big = cv2.imread(str(f))
        small = cv2.resize(big, (240, 180))  # the same person, further away, on the right
        canvas = np.full((240, 560, 3), 128, np.uint8)
        canvas[:, :320] = big
        canvas[30:210, 320:560] = small
        cv2.imwrite(str(folder / f.name), canvas)
    for face, side in ((0, "left"), (1, "right")):
        out = tmp_path / f"face{face}"
        _run(folder, "--fps", "30", "-o", out, "--face", face)
        first = json.loads((out / "timeline.json").read_text())
        assert first["faces_in_first_frame"] == 2
        cap = cv2.VideoCapture(str(out / "annotated.mp4"))
        ok, frame = cap.read()
        cap.release()
        assert ok
        # the drawn box: the green/coloured rectangle lies on the followed person's side
        diff = np.abs(frame.astype(int) - cv2.imread(str(folder / files[0].name)).astype(int)).sum(axis=2)
        ys, xs = np.nonzero(diff > 150)
        xs = xs[ys > 40]  # below the time stamp
        assert len(xs) and ((xs.mean() < 320) if side == "left" else (xs.mean() > 320)), (face, xs.mean())


def test_a_video_opencv_cannot_open_is_named(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    r = CliRunner().invoke(app, ["analyze", str(bad), "--fps", "30", "-o", str(tmp_path / "out")])
    assert r.exit_code != 0 and "broken.mp4" in r.output


def test_a_video_without_a_face_fails_naming_it(tmp_path):
    folder = tmp_path / "empty_room"
    folder.mkdir()
    for i in range(10):
        cv2.imwrite(str(folder / f"img{i + 1:03d}.jpg"), np.full((240, 320, 3), 100, np.uint8))
    r = CliRunner().invoke(app, ["analyze", str(folder), "--fps", "30", "-o", str(tmp_path / "out")])
    assert r.exit_code != 0 and "empty_room" in r.output and "no face in any of its 10 frames" in r.output


def test_frame_times_constant_and_variable_rate():
    from mertool.face.sources import frame_times

    t, why = frame_times([0.0, 33.3, 66.7, 100.0, 133.3], 30.0)
    assert why is None and t == pytest.approx(np.arange(5) / 30)
    t, why = frame_times([0.0, 0.0, 0.0, 0.0], 30.0)  # no timestamps: the nominal rate
    assert why is None and t[-1] == pytest.approx(0.1)
    # a phone's recording: 30 fps nominal, a stretch at 15 fps
    ms = [0, 33.3, 66.7, 133.3, 200.0, 266.7, 300.0]
    t, why = frame_times(ms, 30.0)
    assert t == pytest.approx(np.array(ms) / 1000) and "variable frame rate: 3 of 6" in why


def test_a_video_file_and_a_variable_frame_rate(frames_dir, tmp_path):
    """A real MP4 (constant rate: seconds are index / fps, no note); then the same frames with
    timestamps of a variable-rate recording: seconds follow the timestamps and a note says why."""
    from mertool.face.sources import read_frame
    from mertool.stages.spot import SpotOptions, spot_video

    files = sorted(frames_dir.glob("*.jpg"))
    mp4 = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    for f in files:
        w.write(cv2.imread(str(f)))
    w.release()
    _run(mp4, "-o", tmp_path / "mp4", "--no-video")
    timeline = json.loads((tmp_path / "mp4" / "timeline.json").read_text())
    assert timeline["frames"] == 240 and timeline["fps"] == pytest.approx(30.0)
    assert timeline["frame_rate_note"] is None
    for row in timeline["intervals"]:
        assert row["start_s"] == pytest.approx(row["start_frame"] / 30, abs=1e-3)

    steps = np.where(np.arange(240) % 2 == 0, 1000 / 30, 2000 / 30)  # every other frame twice as long
    times = list(np.concatenate([[0.0], np.cumsum(steps[:-1])]))
    frames = ((i, str(f), read_frame(f)) for i, f in enumerate(files))
    video, _ = spot_video(frames, 30.0, "vfr", SpotOptions(), times_ms=times)
    assert "variable frame rate" in video.frame_rate_note and video.intervals
    for iv in video.intervals:
        assert iv["onset_s"] == pytest.approx(times[iv["onset"]] / 1000, abs=1e-3)
