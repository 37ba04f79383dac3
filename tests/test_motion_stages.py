"""The spot-apex and flow stages and their commands, on a small detect-faces file made here.

The file holds aligned faces cut from skimage's astronaut photo, with a smooth displacement at the
mouth corners (or the brows) that rises to an apex and falls back, the 68 landmarks found by dlib,
and the bad cases the stages must report per clip: a one-frame clip, a clip without a labelled
apex, a clip whose labelled apex equals its onset.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from mertool.store import SampleFile, SampleWriter
from mertool.store import schema as S

SIZE = 96
T = 24


@cache
def aligned_astronaut() -> tuple[np.ndarray, np.ndarray]:
    """(face (SIZE, SIZE, 3) uint8, landmarks (68, 2) float32 in aligned pixels)."""
    import cv2
    from skimage import data

    from mertool.face.landmarks import detect_hog, landmarks68

    img = data.astronaut()
    lm = landmarks68(img, detect_hog(img)[0][0])
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    k = SIZE / (max(x1 - x0, y1 - y0) * 1.3)
    a = np.array([[k, 0, SIZE / 2 - k * (x0 + x1) / 2], [0, k, SIZE / 2 - k * (y0 + y1) / 2]], np.float32)
    face = cv2.warpAffine(img, a, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    return face, (lm @ a[:, :2].T + a[:, 2]).astype(np.float32)


def moving_clip(apex_index: int, region: str = "mouth", amp: float = 1.5, seed: int = 0):
    """(frames (T, SIZE, SIZE, 3) uint8, landmarks (T, 68, 2), true apex displacement (SIZE, SIZE, 2))."""
    import cv2

    face, lm = aligned_astronaut()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    field = np.zeros((SIZE, SIZE, 2), np.float32)
    anchors = (
        [(lm[48], (-1, -0.6)), (lm[54], (1, -0.6))]
        if region == "mouth"
        else [(lm[19], (0, -1)), (lm[24], (0, -1))]
    )
    for (px, py), (dx, dy) in anchors:
        g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 4.0**2))
        field[..., 0] += dx * g
        field[..., 1] += dy * g
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(T):
        a = np.float32(0.0 if t == 0 else amp * np.exp(-(((t - apex_index) / 3.0) ** 2)))
        warped = cv2.remap(
            face,
            xx - a * field[..., 0],
            yy - a * field[..., 1],
            cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REFLECT,
        )
        frames.append(np.clip(warped + rng.normal(0, 0.8, warped.shape), 0, 255).astype(np.uint8))
    return np.stack(frames), np.repeat(lm[None], T, axis=0), amp * field


def write_faces_file(path, clips: dict[str, dict]) -> None:
    with SampleWriter(path, S.STAGE_FACES, params={"size": SIZE}) as w:
        for sid, c in clips.items():
            n = len(c["frames"])
            numbers = np.arange(c.get("first", 1), c.get("first", 1) + n, dtype=np.int32)
            attrs = {"dataset": sid.split("/")[0], "subject": sid.split("/")[1], "clip": sid.split("/")[2]}
            attrs.update({k: c.get(k) for k in ("onset", "apex", "offset", "fps")})
            attrs.update({S.A_FACE_SIZE: SIZE, S.A_COLOR: "rgb"})
            w.write(
                sid,
                arrays={
                    S.D_FRAMES: c["frames"],
                    S.D_FRAME_NUMBERS: numbers,
                    S.D_LANDMARKS_ALIGNED: c["landmarks"],
                    S.D_ALIGN_MATRIX: np.eye(2, 3, dtype=np.float32),
                },
                attrs=attrs,
            )


@pytest.fixture(scope="module")
def faces_file(tmp_path_factory):
    """Three good clips (mouth apex at frame 15, brow apex at 9, mouth apex at 18) and the bad ones."""
    path = tmp_path_factory.mktemp("motion") / "faces.h5"
    clips = {}
    for name, (apex_i, region) in {"c1": (14, "mouth"), "c2": (8, "brow"), "c3": (17, "mouth")}.items():
        frames, lm, _ = moving_clip(apex_i, region, seed=len(clips))
        clips[f"toy/s01/{name}"] = {
            "frames": frames,
            "landmarks": lm,
            "onset": 1,
            "apex": apex_i + 1,
            "offset": T,
            "fps": 200.0,
        }
    frames, lm, _ = moving_clip(12)
    clips["toy/s02/no_apex"] = {"frames": frames, "landmarks": lm, "onset": 1, "offset": T, "fps": 100.0}
    clips["toy/s02/one_frame"] = {
        "frames": frames[:1],
        "landmarks": lm[:1],
        "onset": 1,
        "apex": 1,
        "fps": 100.0,
    }
    clips["toy/s02/onset_is_apex"] = {"frames": frames, "landmarks": lm, "onset": 1, "apex": 1, "offset": T}
    write_faces_file(path, clips)
    return path


GOOD = ["toy/s01/c1", "toy/s01/c2", "toy/s01/c3"]


def test_spot_apex_stage_finds_the_apex_and_reports_bad_clips(faces_file, tmp_path):
    from mertool.stages.spot_apex import run

    out = tmp_path / "apex.h5"
    report = run(faces_file, out, workers=1)
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex"]
        for sid in GOOD:
            rec = sf.record(sid)
            assert rec.ok and rec.get(S.A_APEX_METHOD) == "dc-rois"
            assert abs(rec.get(S.A_APEX_SPOTTED) - rec.get(S.A_APEX)) <= 3
            curve = rec.array(S.D_APEX_CURVE)
            assert curve.shape == (T,) and curve.dtype == np.float32 and curve[0] == 0.0
            assert rec.has(S.D_FRAMES) and rec.has(S.D_LANDMARKS_ALIGNED)  # copied forward
        assert sf.record("toy/s02/no_apex").ok  # dc-rois needs no label
        one = sf.record("toy/s02/one_frame")
        assert not one.ok and "1 frame" in one.get(S.A_ERROR)
    failed = dict(report.failed)
    assert set(failed) == {"toy/s02/one_frame"}
    summary = report.summary()
    assert set(summary) == {"dc-rois", "flow-peak", "middle"}
    # four labelled clips: the three good ones, and onset_is_apex whose label (frame 1) is wrong
    assert summary["dc-rois"]["n"] == 4 and summary["dc-rois"]["within_5"] == 0.75
    good = [r for r in report.rows if r["id"] in GOOD]
    assert all(abs(r["spotted"]["flow-peak"] - r["apex"]) <= 1 for r in good)
    assert summary["dc-rois"]["mean_ms"] == pytest.approx(
        np.mean([abs(r["error_frames"]) / r["fps"] * 1000 for r in report.rows if r["apex"] and r["fps"]])
    )


def test_label_method_without_a_label_fails_per_clip_or_falls_back(faces_file, tmp_path):
    from mertool.stages.spot_apex import run

    report = run(faces_file, tmp_path / "a.h5", method="label", compare=(), workers=1)
    failed = dict(report.failed)
    assert "no labelled apex" in failed["toy/s02/no_apex"] and "toy/s01/c1" not in failed
    report = run(faces_file, tmp_path / "b.h5", method="label", fallback="dc-rois", compare=(), workers=1)
    assert "toy/s02/no_apex" not in dict(report.failed)
    with SampleFile(tmp_path / "b.h5") as sf:
        rec = sf.record("toy/s02/no_apex")
        assert rec.get(S.A_APEX_METHOD) == "dc-rois" and abs(rec.get(S.A_APEX_SPOTTED) - 13) <= 3
        assert any("no labelled apex" in w for w in rec.get(S.A_WARNINGS))
        assert sf.record("toy/s01/c1").get(S.A_APEX_SPOTTED) == 15
        assert not sf.record("toy/s01/c1").has(S.D_APEX_CURVE)


def test_on_error_fail_stops_and_keeps_the_partial_file(faces_file, tmp_path, cli):
    out = tmp_path / "a.h5"
    r = cli("spot-apex", faces_file, "-o", out, "--method", "label", "--on-error", "fail", "--workers", "1")
    assert r.exit_code != 0 and "stopped at toy/s02/no_apex" in r.stderr
    assert not out.exists() and (tmp_path / ".a.h5.partial").exists()
    r = cli("spot-apex", faces_file, "-o", out, "--method", "label", "--resume", "--workers", "1")
    assert r.exit_code == 0, r.stderr
    with SampleFile(out) as sf:
        assert len(sf) == 6 and not sf.record("toy/s02/no_apex").ok


def test_spot_apex_cli_table_and_json(faces_file, tmp_path, cli):
    out = tmp_path / "a.h5"
    r = cli("spot-apex", faces_file, "-o", out, "--workers", "1")
    assert r.exit_code == 0, r.stderr
    assert "toy/s01/c1" in r.stderr and "apex error" in r.stderr and "1 failed" in r.stderr
    r = cli(
        "spot-apex", faces_file, "-o", tmp_path / "b.h5", "--json", "--workers", "1", "--compare", "middle"
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["method"] == "dc-rois" and set(doc["apex_error"]) == {"dc-rois", "middle"}
    assert {c["id"] for c in doc["clips"]} == set(GOOD) | {"toy/s02/no_apex", "toy/s02/onset_is_apex"}
    assert doc["failed"][0]["id"] == "toy/s02/one_frame"


def test_spot_apex_workers_run_in_spawned_processes(faces_file, tmp_path):
    from mertool.stages.spot_apex import run

    a = run(faces_file, tmp_path / "a.h5", workers=1, compare=())
    b = run(faces_file, tmp_path / "b.h5", workers=2, compare=())
    assert [r["apex_spotted"] for r in a.rows] == [r["apex_spotted"] for r in b.rows]


@pytest.fixture(scope="module")
def apex_file(faces_file, tmp_path_factory):
    from mertool.stages.spot_apex import run

    out = tmp_path_factory.mktemp("apex") / "apex.h5"
    run(faces_file, out, workers=1, compare=())
    return out


def test_flow_stage_writes_the_schema_arrays(apex_file, tmp_path):
    from mertool.stages.flow import run

    out = tmp_path / "flow.h5"
    report = run(apex_file, out, workers=1)
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex", "flow"]
        rec = sf.record("toy/s01/c1")
        assert rec.ok
        flow, strain, diff = rec.array(S.D_FLOW), rec.array(S.D_STRAIN), rec.array(S.D_DIFF)
        assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
        assert strain.shape == (SIZE, SIZE) and strain.dtype == np.float32
        assert diff.shape == (SIZE, SIZE, 3) and 0.0 <= diff.min() and diff.max() <= 1.0
        assert rec.array(S.D_ONSET_IMAGE).dtype == np.uint8 and rec.array(S.D_APEX_IMAGE).shape == (
            SIZE,
            SIZE,
            3,
        )
        params = rec.get(S.A_FLOW_PARAMS_JSON)
        assert rec.get(S.A_FLOW_METHOD) == "tvl1" and rec.get(S.A_NORMALIZATION) == "none"
        assert params["preset"] == "micro" and params["apex_from"] == "apex_spotted"
        assert params["onset_frame"] == 1 and params["apex_frame"] == rec.get(S.A_APEX_SPOTTED)
        assert params["params"]["warps"] == 3
        # the flow at the mouth corner points outwards and up, as the displacement does
        _, lm = aligned_astronaut()
        x, y = (int(round(v)) for v in lm[54])
        assert flow[y, x, 0] > 0.3 and flow[y, x, 1] < 0
        # and the mouth moves more than the forehead
        assert (
            np.linalg.norm(flow[y - 3 : y + 4, x - 3 : x + 4], axis=-1).mean()
            > 5 * np.linalg.norm(flow[5:15, 40:56], axis=-1).mean()
        )
        assert not sf.record("toy/s02/one_frame").ok  # failed earlier: copied forward as failed
    assert "toy/s02/onset_is_apex" not in dict(report.failed)  # spotted apex differs from onset


def test_flow_from_labels_reports_missing_apex_and_onset_equal_apex(faces_file, tmp_path):
    from mertool.motion.optical_flow import preset
    from mertool.stages.flow import FlowOptions, run

    out = tmp_path / "flow.h5"
    report = run(faces_file, out, workers=1, options=FlowOptions("dis", preset("dis"), size=64))
    failed = dict(report.failed)
    assert "no apex" in failed["toy/s02/no_apex"] and "spot-apex" in failed["toy/s02/no_apex"]
    assert "onset equals apex" in failed["toy/s02/onset_is_apex"]
    assert "onset equals apex" in failed["toy/s02/one_frame"]
    assert report.done == 3
    with SampleFile(out) as sf:
        rec = sf.record("toy/s01/c2")
        assert rec.array(S.D_FLOW).shape == (64, 64, 2) and rec.get(S.A_FLOW_METHOD) == "dis"
        assert rec.get(S.A_FLOW_PARAMS_JSON)["apex_from"] == "apex"


def test_wrong_sized_pair_is_a_per_clip_failure():
    from mertool.stages.flow import FlowOptions, _flow_task

    sid, result, _ = _flow_task(
        ("x", np.zeros((64, 64), np.uint8), np.zeros((64, 48), np.uint8), FlowOptions())
    )
    assert sid == "x" and isinstance(result, str) and "frame sizes differ" in result


def test_flow_normalisation_is_recorded(apex_file, tmp_path):
    from mertool.motion.optical_flow import preset
    from mertool.stages.flow import FlowOptions, run

    run(apex_file, tmp_path / "raw.h5", workers=1, options=FlowOptions("dis", preset("dis")))
    run(
        apex_file,
        tmp_path / "mm.h5",
        workers=1,
        options=FlowOptions("dis", preset("dis"), normalization="minmax"),
    )
    run(
        apex_file,
        tmp_path / "ds.h5",
        workers=1,
        options=FlowOptions("dis", preset("dis"), normalization="dataset"),
    )
    with (
        SampleFile(tmp_path / "raw.h5") as raw,
        SampleFile(tmp_path / "mm.h5") as mm,
        SampleFile(tmp_path / "ds.h5") as ds,
    ):
        r, m = raw.record("toy/s01/c1"), mm.record("toy/s01/c1")
        f = m.array(S.D_FLOW)
        assert m.get(S.A_NORMALIZATION) == "minmax" and f.min() == 0.0 and f.max() == pytest.approx(1.0)
        rec_params = m.get(S.A_FLOW_PARAMS_JSON)["normalization"]
        lo, hi = rec_params["flow"]["min"], rec_params["flow"]["max"]
        restored = f * (np.array(hi) - np.array(lo)) + np.array(lo)
        np.testing.assert_allclose(restored, r.array(S.D_FLOW), atol=1e-4)  # raw values recoverable
        d = ds.record("toy/s01/c1")
        assert d.get(S.A_NORMALIZATION) == "dataset"
        stats = d.get(S.A_FLOW_PARAMS_JSON)["normalization"]
        assert stats["over"] == "toy" and stats["n_samples"] == 5
        pooled = np.concatenate([ds.record(s).array(S.D_STRAIN).ravel() for s in ds.ids() if ds.record(s).ok])
        assert abs(pooled.mean()) < 1e-3 and pooled.std() == pytest.approx(1.0, rel=1e-3)


def test_flow_cli_json_and_parallel_workers(apex_file, tmp_path, cli):
    r = cli("flow", apex_file, "-o", tmp_path / "f.h5", "--preset", "dis", "--workers", "2", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["done"] == 5 and doc["processes"] == 2 and doc["cv2_threads"] >= 1
    assert doc["failed_in_earlier_stage"][0]["id"] == "toy/s02/one_frame"
    r = cli("flow", apex_file, "-o", tmp_path / "g.h5", "--method", "dis", "--preset", "micro")
    assert r.exit_code != 0 and "contradicts" in r.stderr
    r = cli("flow", apex_file, "-o", tmp_path / "g.h5", "--preset", "dis", "--tvl1-warps", "2")
    assert r.exit_code != 0 and "TV-L1" in r.stderr


def test_flow_cli_tvl1_overrides_are_recorded(apex_file, tmp_path, cli):
    out = tmp_path / "f.h5"
    r = cli(
        "flow",
        apex_file,
        "-o",
        out,
        "--tvl1-warps",
        "2",
        "--tvl1-scales",
        "3",
        "--size",
        "64",
        "--workers",
        "1",
    )
    assert r.exit_code == 0, r.stderr
    with SampleFile(out) as sf:
        p = sf.record("toy/s01/c3").get(S.A_FLOW_PARAMS_JSON)
        assert p["preset"] == "micro+overrides" and p["params"]["warps"] == 2 and p["params"]["nscales"] == 3
        assert sf.provenance["params"]["size"] == 64


def test_flow_on_error_fail_stops(faces_file, tmp_path, cli):
    r = cli(
        "flow", faces_file, "-o", tmp_path / "f.h5", "--preset", "dis", "--on-error", "fail", "--workers", "1"
    )
    assert r.exit_code != 0 and "stopped at toy/s02/" in r.stderr


def test_flow_takes_the_face_crops_of_crop_rois_when_present(tmp_path):
    from mertool.motion.optical_flow import preset
    from mertool.stages.flow import FlowOptions, run

    frames, _, _ = moving_clip(10)
    crops = frames[[0, 5, 10]]
    crops[:, :8] = 0  # mark the crops so the test can tell them from the frames
    with SampleWriter(tmp_path / "rois.h5", S.STAGE_ROIS) as w:
        w.write(
            "toy/s01/c1",
            arrays={
                f"{S.CROPS_GROUP}/face": crops,
                S.D_CROP_FRAME_NUMBERS: np.array([1, 6, 11], np.int32),
                S.D_FRAMES: frames,
                S.D_FRAME_NUMBERS: np.arange(1, T + 1, dtype=np.int32),
            },
            attrs={"onset": 1, "apex": 11, S.A_CROP_FRAMES: ["onset", "middle", "apex"]},
        )
        w.write(
            "toy/s01/c2",
            arrays={f"{S.CROPS_GROUP}/face": crops, S.D_CROP_FRAME_NUMBERS: np.array([1, 6, 11], np.int32)},
            attrs={"onset": 1, "apex": 9},
        )
    report = run(
        tmp_path / "rois.h5", tmp_path / "flow.h5", workers=1, options=FlowOptions("dis", preset("dis"))
    )
    assert report.rows[0]["frames_from"] == "crops/face"
    with SampleFile(tmp_path / "flow.h5") as sf:
        assert np.all(sf.record("toy/s01/c1").array(S.D_ONSET_IMAGE)[:8] == 0)
    assert "apex frame 9 is not among the clip's frames" in dict(report.failed)["toy/s01/c2"]
