"""Spotting in long videos: the curve functions, the block features, the face follower, the stage."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mertool.evaluation.spotting import Interval, iou
from mertool.motion import spot_features as SF
from mertool.motion import spotting as SP

# ------------------------------------------------------------------------------------------------
# curve functions (hand-computed)


def test_histogram_difference_is_zero_for_steady_and_linear_features():
    steady = np.tile(np.array([0.2, 0.8]), (10, 3, 1))
    assert np.allclose(SP.histogram_difference(steady, 2), 0)
    # a linear drift of the histograms: the mean of t-k and t+k equals t away from the ends
    t = np.linspace(0, 1, 12)[:, None, None]
    linear = np.concatenate([0.2 + 0.1 * t, 0.8 - 0.1 * t], axis=2).repeat(2, axis=1)
    assert np.allclose(SP.histogram_difference(linear, 3)[3:-3], 0)


def test_chi_squared_by_hand():
    assert SP.chi_squared(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(2.0)
    assert SP.chi_squared(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(
        0.25**2 / 0.75 + 0.25**2 / 1.25
    )


def test_top_mean_and_contrast():
    v = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert SP.top_mean(v, 1 / 3) == pytest.approx([5.5])
    assert SP.top_mean(v, 0.0) == pytest.approx([6.0])  # at least one block
    f = np.array([0, 0, 1, 4, 1, 0, 0], float)
    c = SP.contrast(f, 2)
    # C(3) = 4 - (F(1) + F(5)) / 2 = 4; C(2) = 1 - (F(0) + F(4)) / 2 = 0.5
    assert c[3] == pytest.approx(4.0) and c[2] == pytest.approx(0.5)
    assert (c >= 0).all()


def test_thresholds():
    c = np.array([0.0, 1.0, 1.0, 1.0, 9.0])
    assert SP.threshold(c, "megc", p=0.5) == pytest.approx(2.4 + 0.5 * (9 - 2.4))
    assert SP.threshold(c, "robust", z=2) == pytest.approx(1.0 + 2 * 1.4826 * 0.0 + 0, abs=1e-9)
    both = SP.threshold(c, "both", p=0.1, z=2)
    assert both >= SP.threshold(c, "megc", p=0.1)
    with pytest.raises(ValueError, match="not one of"):
        SP.threshold(c, "mean")


def test_local_peaks_keep_the_largest_apart():
    c = np.array([0, 5, 4, 0, 0, 0, 3, 0, 6, 0], float)
    assert SP.local_peaks(c, 1.0, min_distance=3) == [1, 8]  # 6 and 5 first; 4 and 3 too close
    assert SP.local_peaks(c, 5.5, min_distance=1) == [8]


def test_interval_around_follows_the_curve_and_is_bounded():
    f = np.zeros(40)
    f[18:23] = [1, 3, 5, 3, 1]
    lo, hi = SP.interval_around(f, 20, k=2, fall=0.5)
    assert (lo, hi) == (19, 21)  # f > 2.5 on 19..21
    wide = np.zeros(100)
    wide[10:31] = 5
    lo, hi = SP.interval_around(wide, 20, k=2, fall=0.5, reach=4)
    assert (lo, hi) == (16, 24)  # the plateau is longer than reach: cut at 4 frames each side


def test_spot_curve_finds_one_bump_and_respects_gaps():
    f = np.random.default_rng(0).normal(0, 0.01, 200)
    f[100:107] += np.array([0.2, 0.6, 1.0, 1.2, 1.0, 0.6, 0.2])
    spots, c, level = SP.spot_curve(f, 3, half=4, interval="fixed")
    assert len(spots) == 1 and spots[0].apex == 103 and (spots[0].onset, spots[0].offset) == (99, 107)
    valid = np.ones(200, bool)
    valid[104] = False
    spots, _, _ = SP.spot_curve(f, 3, valid=valid)
    assert all(abs(s.apex - 103) > 2 * 3 for s in spots)  # no window touching the gap spots
    spots, _, _ = SP.spot_curve(f, 3, rule="both", z=4.0, valid=valid)
    assert spots == []  # and noise alone stays under the robust threshold


def test_merge_kinds():
    micro = [SP.Spot(10, 12, 14, 1.0), SP.Spot(50, 52, 54, 1.0), SP.Spot(80, 82, 84, 1.0)]
    macro = [
        SP.Spot(8, 12, 18, 2.0, "macro"),  # short and holds a micro spot: it is that micro-expression
        SP.Spot(40, 60, 79, 2.0, "macro"),  # long: a macro-expression; the micro spot inside goes
    ]
    merged = SP.merge_kinds(micro, macro, max_micro=10)
    assert [(s.onset, s.kind) for s in merged] == [(10, "micro"), (40, "macro"), (80, "micro")]


# ------------------------------------------------------------------------------------------------
# block features


def test_block_grid_tiles_the_face():
    blocks = SF.block_grid(10, 3)
    assert len(blocks) == 9
    cover = np.zeros((10, 10), int)
    for x0, y0, x1, y1 in blocks:
        cover[y0:y1, x0:x1] += 1
    assert (cover == 1).all()
    v = np.arange(100, dtype=float).reshape(10, 10)
    assert SF.block_means(v, blocks)[0] == pytest.approx(v[0:3, 0:3].mean())


def _blob_video(n=40, apex=20, amp=3.0, size=64):
    """A textured face-sized square whose centre patch moves right by ``amp`` px around ``apex``."""
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur((rng.random((size, size)) * 255).astype(np.float32), (0, 0), 1.5)
    frames = []
    for t in range(n):
        a = max(0.0, 1 - abs(t - apex) / 4)
        mx = np.tile(np.arange(size, dtype=np.float32), (size, 1))
        my = np.tile(np.arange(size, dtype=np.float32)[:, None], (1, size))
        w = np.exp(-(((mx - 40) ** 2 + (my - 40) ** 2) / (2 * 5.0**2)))
        frames.append(cv2.remap(base, mx - amp * a * w, my, cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.mark.parametrize("method", SF.METHODS)
def test_block_difference_peaks_at_a_local_movement(method):
    faces = _blob_video()
    blocks = SF.block_grid(64, 4)
    d = SF.block_difference(method, faces, blocks, 3)
    f = SP.top_mean(d, 0.2)
    assert abs(int(np.argmax(f)) - 20) <= 3  # inside the movement (frames 17-23)
    moving = int(np.argmax(d.max(axis=0)))
    centre = (blocks[moving, :2] + blocks[moving, 2:]) / 2
    assert np.abs(centre - 40).max() <= 16  # a block at the movement (centred on 40, 40)


# ------------------------------------------------------------------------------------------------
# a rendered long video: follow, spot, evaluate


@pytest.fixture(scope="module")
def long_frames(tmp_path_factory):
    """A 9 s, 30 fps synthetic long video (2 micro-expressions, a blink, a head turn, a light
    change) as a folder of JPEG frames, with its events."""
    from mertool.synth.generate import order_sources
    from mertool.synth.long_video import LongSynthConfig, plan_video, render_video
    from mertool.synth.sources import select_sources
    from mertool.synth.subjects import make_subject

    cfg = LongSynthConfig(duration_s=9.0, seed=11, micro=2, macro=0, blinks=1, head_turns=1, light_changes=1)
    src = order_sources(select_sources(("astronaut",), None), cfg.seed)
    subject = make_subject(0, src[0], cfg.size, np.random.default_rng(5))
    plan = plan_video(cfg, subject, 0, 15, 1, 30.0)
    folder = tmp_path_factory.mktemp("long") / "video"
    folder.mkdir()
    for i, frame in enumerate(render_video(plan, subject, cfg.seed)):
        cv2.imwrite(str(folder / f"img{i + 1:04d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder, plan


def test_follow_video_registers_every_frame(long_frames):
    from mertool.face.detectors import get_detector
    from mertool.face.sources import folder_sample, read_frame
    from mertool.face.video import follow_video

    folder, plan = long_frames
    sample = folder_sample(folder)
    frames = [(n, str(p), read_frame(p)) for n, p in zip(sample.frame_numbers, sample.frames)]
    frames[30] = (frames[30][0], frames[30][1], None)  # an unreadable frame: a gap, not the end
    faces = follow_video(iter(frames), get_detector("dlib-hog"), 128)
    assert faces.valid.sum() == len(frames) - 1 and not faces.valid[30]
    assert faces.gaps == [(31, 31, f"cannot read {frames[30][1]}")]
    # registered: still frames far from any event differ by little more than the sensor noise
    quiet = [
        t
        for t in range(5, len(frames) - 5)
        if all(abs(t - e.onset) > 40 and abs(t - e.offset) > 40 for e in plan.events)
    ]
    if quiet:
        t = quiet[0]
        a, b = (cv2.GaussianBlur(faces.faces[i].astype(np.float32), (0, 0), 1) for i in (t, t + 3))
        assert np.abs(a - b)[32:96, 32:96].mean() < 2.0


def test_spot_cli_finds_the_micro_expressions_not_the_distractors(long_frames, tmp_path):
    from mertool.cli.app import app

    folder, plan = long_frames
    out = tmp_path / "spots.h5"
    res = CliRunner().invoke(app, ["spot", str(folder), "--fps", "30", "-o", str(out), "--kind", "micro"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.with_suffix(".json").read_text())
    spotted = [Interval("v", i["onset"] - 1, i["offset"] - 1, "micro") for i in doc["videos"][0]["intervals"]]
    micro = [Interval("v", e.onset, e.offset) for e in plan.events if e.kind == "micro"]
    distractors = [e for e in plan.events if e.kind not in ("micro", "macro")]
    hits = sum(any(iou(s, m) >= 0.5 for s in spotted) for m in micro)
    assert hits >= 1  # loose: the benchmark (make bench-video) measures F1 on longer videos
    for e in distractors:
        assert not any(s.onset <= e.offset and s.offset >= e.onset for s in spotted), (e, spotted)
    assert out.with_suffix(".csv").read_text().startswith("video,kind,onset,apex,offset")
    # the intervals file is a detect-faces sample file: the flow stage reads it as is
    from mertool.store import SampleFile

    with SampleFile(out) as sf:
        assert sf.stage == "detect-faces" and len(list(sf.records())) == len(spotted)


def test_spot_rejects_a_frames_folder_without_fps(long_frames):
    from mertool.cli.app import app

    folder, _ = long_frames
    res = CliRunner().invoke(app, ["spot", str(folder)])
    assert res.exit_code != 0 and "--fps" in res.output


def test_spot_a_folder_without_a_face_names_the_video(tmp_path):
    from mertool.cli.app import app

    folder = tmp_path / "noface"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"img{i + 1:03d}.jpg"), np.full((120, 160, 3), 128, np.uint8))
    res = CliRunner().invoke(app, ["spot", str(folder), "--fps", "30", "-o", str(tmp_path / "s.json")])
    # every video failed: a non-zero exit naming it, as analyze does; the JSON is still written
    assert res.exit_code != 0 and "noface" in res.output, res.output
    doc = json.loads((tmp_path / "s.json").read_text())
    assert "no face in any of its 6 frames" in doc["videos"][0]["error"]


def test_synth_long_then_spot_evaluate_end_to_end(tmp_path):
    """synth writes a CAS(ME)^2 long-video release; spot reads it as shipped and scores itself
    against its annotation by the MEGC protocol."""
    from mertool.cli.app import app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "synth", str(tmp_path / "long"), "--layout", "casme2sq-long", "--subjects", "1", "--duration", "10",
            "--micro", "3", "--macro", "1", "--blinks", "1", "--head-turns", "0", "--light-changes", "1",
            "--seed", "21", "--photos", "grace_hopper",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "long" / "long_truth.json").read_text())
    kinds = sorted(e["kind"] for v in truth["videos"] for e in v["events"])
    assert kinds == ["blink", "light", "macro", "micro", "micro", "micro"]
    out = tmp_path / "spots.json"
    res = runner.invoke(app, ["spot", str(tmp_path / "long"), "--evaluate", "-o", str(out)])
    assert res.exit_code == 0, res.output
    scores = json.loads(out.read_text())["scores"]
    assert scores["micro"]["tp"] + scores["micro"]["fn"] == 3  # every annotated micro-expression was read
    assert scores["macro"]["tp"] + scores["macro"]["fn"] == 1
    assert scores["micro"]["tp"] >= 1  # loose; make bench-video measures F1 on more videos


# ------------------------------------------------------------------------------------------------
# the displacement from the neutral face: extents and one spot per movement (hand-computed)


def test_extent_runs_from_the_highest_point_to_where_the_displacement_falls():
    d = np.full(30, 0.1)
    d[10:21] = [0.2, 0.5, 1.0, 1.1, 1.1, 1.1, 1.0, 0.6, 0.3, 0.15, 0.1]
    # base 0.1 (the median), peak 1.1 at 13 (the first of the hold), level 0.1 + 0.2 * 1.0 = 0.3
    assert SP.extent(d, 12, 2, fall=0.2) == (13, 11, 17)  # d > 0.3 on 11..17 (d[18] = 0.3 is not)
    # search 0: the apex itself, level 0.1 + 0.2 * 0.9 = 0.28, which d[18] = 0.3 passes
    assert SP.extent(d, 12, 0, fall=0.2) == (12, 11, 18)
    assert SP.extent(d, 12, 2, fall=0.2, reach=1) == (13, 12, 14)
    valid = np.ones(30, bool)
    valid[15] = False
    assert SP.extent(d, 12, 2, fall=0.2, valid=valid) == (13, 11, 14)  # a lost face ends it
    assert SP.extent(d, 12, 2, fall=0.2, base=0.0) == (13, 11, 18)  # level 0.22: d[10] = 0.2 is under


def test_run_peaks_one_per_run_above_the_level():
    d = np.array([0, 2, 3, 2, 0, 0, 5, 0, 1, 4, 4, 1], float)
    assert SP.run_peaks(d, 1.5) == [2, 6, 9]
    valid = np.ones(12, bool)
    valid[2] = False
    assert SP.run_peaks(d, 1.5, valid) == [1, 3, 6, 9]  # the lost frame splits the first run
    assert SP.run_peaks(d, 9.0) == []


def test_merge_movements_keeps_the_highest_of_one_movement():
    spots = [
        SP.Spot(10, 12, 14, 1.0),  # a micro spot on the rise of the macro movement below
        SP.Spot(10, 30, 60, 2.0, "macro"),
        SP.Spot(12, 20, 58, 0.5),  # the same movement from the other pass
        SP.Spot(70, 72, 74, 1.0, "macro"),  # short: micro
        SP.Spot(59, 62, 66, 1.0),  # overlaps 58..60 = 2 frames, under half of its 8: another movement
    ]
    merged = SP.merge_movements(spots, [0.5, 1.0, 0.9, 0.3, 0.4], max_micro=15)
    assert [(s.onset, s.offset, s.kind) for s in merged] == [
        (10, 60, "macro"),
        (59, 66, "micro"),
        (70, 74, "micro"),
    ]


def test_normalise_exposure_removes_a_gain_and_offset():
    face = (np.random.default_rng(2).random((16, 16)) * 100 + 50).astype(np.uint8)
    brighter = (face.astype(np.float32) * 1.1 + 8).clip(0, 255).astype(np.uint8)
    a, b = SF.normalise_exposure(face), SF.normalise_exposure(brighter)
    assert abs(float(a.mean()) - 128) < 1 and abs(float(a.std()) - 40) < 1
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_neutral_displacement_is_zero_at_rest_and_holds_with_the_expression():
    faces = _blob_video(n=60, apex=30, amp=4.0)
    faces[26:35] = faces[30]  # hold the apex for 9 frames
    blocks = SF.block_grid(64, 4)
    d = SP.top_mean(SF.neutral_displacement(faces, blocks, 20), 0.2)
    assert d[:20].max() < 0.3 and d[45:].max() < 0.3  # at rest (away from the movement)
    assert d[26:35].min() > 0.5  # the whole hold is displaced, not only its edges
    valid = np.ones(60, bool)
    valid[30] = False
    assert SP.top_mean(SF.neutral_displacement(faces, blocks, 20, valid=valid), 0.2)[30] == 0.0


def test_synth_long_with_too_many_events_writes_nothing(tmp_path):
    from mertool.cli.app import app

    out = tmp_path / "long"
    res = CliRunner().invoke(
        app, ["synth", str(out), "--layout", "samm-long", "--subjects", "1", "--duration", "3"]
    )
    assert res.exit_code != 0 and "raise --duration" in res.output
    assert not out.exists() or not any(out.iterdir())  # no partial folder left behind
