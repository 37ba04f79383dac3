"""mertool synth: faces HOG finds, apex = largest displacement, few-pixel localised motion,
determinism, motion-only class cues, the datasets' own layouts, and the ground-truth file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mertool.synth import SynthConfig, generate
from mertool.synth import truth as T

#: Bounds of the largest displacement at apex, in source pixels ("a few pixels").
PEAK_MIN_PX, PEAK_MAX_PX = 1.5, 6.0
SMALL = {"size": (256, 192), "duration_ms": (100.0, 140.0)}


def _clips(truth_path, names=(T.D_DISPLACEMENT, T.D_MASK, T.D_PROFILE, T.D_LANDMARKS, "frame_numbers")):
    return {sid: T.load_clip(truth_path, sid, names) for sid in T.truth_table(truth_path)}


@pytest.fixture(scope="module")
def clips(synth_casme2):
    return _clips(synth_casme2.truth)


# ------------------------------------------------------------------------------------------------
# the three "done when" checks


def test_every_generated_frame_has_a_face_dlib_hog_finds(synth_casme2):
    from mertool.datasets.frames import read_image
    from mertool.face.landmarks import detect_hog

    n = 0
    for sid in synth_casme2.ids:
        clip = T.load_clip(synth_casme2.truth, sid, ("frame_paths", T.D_LANDMARKS))
        centre = clip[T.D_LANDMARKS].mean(axis=0)
        for path in clip["frame_paths"]:
            found = detect_hog(read_image(path, sid), upsample=0)
            assert found, f"{sid}: no face in {path}"
            x0, y0, x1, y1 = found[0][0]
            assert x0 <= centre[0] <= x1 and y0 <= centre[1] <= y1, (
                f"{sid}: HOG box misses the face in {path}"
            )
            n += 1
    assert n >= 6 * 20  # 6 clips of 20-28 frames


def test_labelled_apex_is_the_frame_of_largest_displacement(synth_casme2, clips):
    from mertool.datasets.tables import read_rows

    rows = read_rows(synth_casme2.dataset_root / "CASME2-coding-20140508.xlsx")
    sheet_apex = {(f"sub{r[0]:02d}", r[1]): r[4] for r in rows[1:]}
    table = T.truth_table(synth_casme2.truth)
    for sid, clip in clips.items():
        attrs = table[sid]
        mags = (
            np.sqrt((clip[T.D_DISPLACEMENT] ** 2).sum(axis=-1))
            .reshape(len(clip["frame_numbers"]), -1)
            .max(axis=1)
        )
        apex_index = list(clip["frame_numbers"]).index(attrs["apex"])
        assert int(np.argmax(mags)) == apex_index, sid
        assert mags[apex_index] > mags[:apex_index].max()  # strictly rising up to the apex
        assert int(np.argmax(clip[T.D_PROFILE])) == apex_index and clip[T.D_PROFILE][apex_index] == 1.0
        assert attrs["true_apex"] == attrs["apex"] == sheet_apex[(attrs["subject"], attrs["clip"])]
        # the clip starts and ends still, and the movement lies strictly inside it
        assert mags[0] == 0 and mags[-1] == 0
        assert (
            attrs["onset"] <= attrs["motion_start"] < attrs["apex"] < attrs["motion_end"] <= attrs["offset"]
        )
        # under 500 ms at 200 fps
        assert (attrs["offset"] - attrs["onset"] + 1) / attrs["fps"] < 0.5


def test_apex_displacement_is_a_few_pixels_and_localised_to_the_action_units(synth_casme2, clips):
    import cv2

    table = T.truth_table(synth_casme2.truth)
    for sid, clip in clips.items():
        disp = clip[T.D_DISPLACEMENT]
        apex = int(np.argmax(clip[T.D_PROFILE]))
        mag = np.sqrt((disp[apex] ** 2).sum(axis=-1))
        mask = clip[T.D_MASK]
        lms = clip[T.D_LANDMARKS]
        assert PEAK_MIN_PX <= mag.max() <= PEAK_MAX_PX, f"{sid}: peak {mag.max():.2f} px"
        assert abs(mag.max() - table[sid]["peak_px"]) < 0.02
        energy_inside = (mag[mask] ** 2).sum() / (mag**2).sum()
        assert energy_inside > 0.95, f"{sid}: {energy_inside:.3f} of the energy inside the AU regions"
        assert mag[~mask].max() < 0.25 * mag.max()  # what leaks out of the regions is small
        # the regions are a part of the face (the forehead included: 1.3 x the landmarks' box;
        # a jaw drop moves the whole chin), and nothing moves off the face
        (fx0, fy0), (fx1, fy1) = lms.min(axis=0), lms.max(axis=0)
        face_area = (fx1 - fx0) * (fy1 - fy0) * 1.3
        limit = 0.6 if table[sid]["pattern"] == "surprise" else 0.35
        assert mask.sum() < limit * face_area, (
            f"{sid}: AU regions cover {mask.sum() / face_area:.2f} of the face"
        )
        # exactly zero farther than half an inter-ocular distance from the regions
        d = np.linalg.norm(lms[42:48].mean(0) - lms[36:42].mean(0))
        near = cv2.dilate(
            mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(d) | 1,) * 2)
        )
        assert mag[near == 0].max() == 0.0, f"{sid}: motion far from the action units"
        h, w = mag.shape
        ys, xs = np.mgrid[0:h, 0:w]
        fw, fh = fx1 - fx0, fy1 - fy0
        far = (xs < fx0 - 0.2 * fw) | (xs > fx1 + 0.2 * fw) | (ys < fy0 - 0.5 * fh) | (ys > fy1 + 0.5 * fh)
        assert mag[far].max() == 0.0, f"{sid}: motion off the face"


def _motion_down_face(disp: np.ndarray, lms: np.ndarray, points: list[int], radius: float = 0.08) -> float:
    """Mean displacement (px) down the face (perpendicular to the eye line) within ``radius``
    inter-ocular distances of the given landmarks."""
    eye_line = lms[42:48].mean(0) - lms[36:42].mean(0)
    d = float(np.linalg.norm(eye_line))
    ey = np.array([-eye_line[1], eye_line[0]]) / d
    h, w = disp.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    near = np.zeros((h, w), bool)
    for x, y in lms[points]:
        near |= (xs - x) ** 2 + (ys - y) ** 2 <= (radius * d) ** 2
    return float(disp[near].mean(axis=0) @ ey)


def test_each_class_moves_its_own_facial_regions(synth_casme2, clips):
    """Brows move for surprise and disgust, never for happiness or repression; the mouth
    corners rise for happiness and fall for repression (face axes: y points down the face)."""
    table = T.truth_table(synth_casme2.truth)
    seen = set()
    for sid, clip in clips.items():
        pattern = table[sid]["pattern"]
        seen.add(pattern)
        lms = clip[T.D_LANDMARKS]
        disp = clip[T.D_DISPLACEMENT][int(np.argmax(clip[T.D_PROFILE]))].astype(np.float64)
        brows = _motion_down_face(disp, lms, [19, 20, 21, 22, 23, 24])
        corners = _motion_down_face(disp, lms, [48, 54])
        if pattern == "surprise":
            assert brows < -0.3, sid  # raised
        elif pattern == "disgust":
            assert brows > 0.3, sid  # lowered
        elif pattern == "happiness":
            assert abs(brows) < 0.02 and corners < -0.2, sid
        elif pattern == "repression":
            assert abs(brows) < 0.02 and corners > 0.2, sid
    assert {"happiness", "surprise"} <= seen and seen & {"disgust", "repression"}


def test_class_changes_only_the_motion_never_the_appearance(tmp_path):
    """Same seed key, two classes: the onset frames are byte-identical and the apex frames differ
    only where the two expressions move."""
    from mertool.synth.generate import _rng, plan_clip, subject_rng
    from mertool.synth.layouts import Casme2Layout
    from mertool.synth.sources import load_sources
    from mertool.synth.subjects import make_subject

    config = SynthConfig(**SMALL)
    layout = Casme2Layout()
    subject = make_subject(0, load_sources()[0], config.size, subject_rng(0, layout, 0))
    made = {}
    for pattern in ("happiness", "surprise", "repression"):
        clip = plan_clip(layout, subject, pattern, 200.0, config, _rng(0, 1, 0, 0, 2))
        frames = list(clip.frames(subject, _rng(0, 1, 0, 0, 4)))
        made[pattern] = (clip, frames)
    happy, surprise, _ = (made[p] for p in ("happiness", "surprise", "repression"))
    assert happy[0].timecourse == surprise[0].timecourse and happy[0].peak_px == surprise[0].peak_px
    assert np.array_equal(happy[1][0], surprise[1][0])  # onset: same bytes whatever the class
    apex = happy[0].timecourse.apex
    differs = np.abs(happy[1][apex].astype(int) - surprise[1][apex].astype(int)).max(axis=-1) > 0
    moving = np.zeros_like(differs)
    for clip, _ in made.values():
        moving |= np.sqrt((clip.field**2).sum(-1)) > 0
    assert differs.any() and not (differs & ~moving).any()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    def make(name, seed, clips=2):
        out = tmp_path / name
        generate(out, SynthConfig(subjects=1, clips_per_subject=clips, seed=seed, **SMALL), progress=False)
        files = sorted(p for p in (out / "CASME2").rglob("*") if p.is_file())
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in files}, out

    a, out_a = make("a", 3)
    b, _ = make("b", 3)
    c, _ = make("c", 4)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)  # frames and the xlsx, byte for byte
    xlsx = "CASME2/CASME2-coding-20140508.xlsx"
    assert xlsx in a and a[xlsx] != c[xlsx]
    more, _ = make("d", 3, clips=3)  # one more clip leaves the first two as they were
    assert all(more[k] == a[k] for k in a if k != xlsx) and len(more) > len(a)
    with T.SampleFile(out_a / T.DEFAULT_NAME) as sf:
        assert sf.stage == T.STAGE and json.loads(json.dumps(sf.provenance["params"]))["seed"] == 3
        assert all(i["kind"] == "photo" and len(i["sha256"]) == 64 for i in sf.provenance["inputs"])


# ------------------------------------------------------------------------------------------------
# layouts and annotation files


def test_casme2_annotation_has_the_real_header_and_frames_start_at_the_onset(synth_casme2):
    import openpyxl

    wb = openpyxl.load_workbook(synth_casme2.dataset_root / "CASME2-coding-20140508.xlsx")
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == (
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
    )
    assert len(rows) == 1 + 6
    for subject, clip, _, onset, apex, offset, _, aus, emotion in rows[1:]:
        assert isinstance(subject, int) and emotion in {"happiness", "surprise", "disgust", "repression"}
        assert onset > 1 and onset < apex < offset and aus
        folder = synth_casme2.dataset_root / "CASME2_RAW_selected" / f"sub{subject:02d}" / clip
        numbers = sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg"))
        assert numbers == list(range(onset, offset + 1))


def test_samm_smic_and_megc2019_layouts_read_back(tmp_path):
    import openpyxl

    from mertool.datasets import open_dataset

    result = generate(
        tmp_path / "megc",
        SynthConfig(layout="megc2019", subjects=1, clips_per_subject=3, **SMALL),
        progress=False,
    )
    samm = result.roots["samm"]
    rows = list(
        openpyxl.load_workbook(samm / "SAMM_Micro_FACS_Codes_v2.xlsx")
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert all(r[0] is None or isinstance(r[0], str) for r in rows[:13])  # the notes block
    assert rows[13] == (
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    )
    assert [r[0] for r in rows[14:]] == [6, 6, 6] and {r[9] for r in rows[14:]} <= {
        "Happiness",
        "Surprise",
        "Anger",
        "Contempt",
        "Disgust",
    }
    frame = next((samm / "006").rglob("*.jpg"))
    assert frame.name.startswith("006_")
    from mertool.datasets.frames import read_image

    gray = read_image(frame)
    assert np.array_equal(gray[..., 0], gray[..., 1])  # SAMM is greyscale
    smic = result.roots["smic"] / "SMIC_all_raw" / "HS" / "s1"
    assert sorted(p.name for p in (smic / "micro").iterdir()) == ["negative", "positive", "surprise"]
    assert next(smic.glob("micro/positive/s1_po_01/image*.bmp")).stem[5:].isdigit()
    assert (smic / "non_micro" / "s1_n1").is_dir()  # present in the real tree; readers skip it
    assert not list(result.roots["smic"].rglob("*.xls*"))  # SMIC ships no annotation file

    read = open_dataset(result.dataset_root)
    table = T.truth_table(result.truth)
    assert read.name == "megc2019" and {s.id for s in read.samples} == set(table)
    assert read.class_counts("megc2019") == {"negative": 3, "positive": 3, "surprise": 3}
    for s in read.samples:
        t = table[s.id]
        assert (s.onset, s.offset, s.subject) == (t["onset"], t["offset"], t["subject"])
        assert s.apex == t.get("apex") and (s.apex is None) == (s.dataset == "smic")
        assert s.labels["megc2019"] == t["label"]


def test_casme2_tree_reads_through_open_dataset_with_the_truth_ids(synth_casme2):
    from mertool.datasets import open_dataset

    read = open_dataset(synth_casme2.dataset_root)
    table = T.truth_table(synth_casme2.truth)
    assert read.name == "casme2" and not read.quirks
    assert sorted(s.id for s in read.samples) == synth_casme2.ids
    assert read.class_counts("megc2019") == {"negative": 2, "positive": 2, "surprise": 2}
    for s in read.samples:
        t = table[s.id]
        assert (s.onset, s.apex, s.offset) == (t["onset"], t["apex"], t["offset"])
        assert list(s.aus) == t["aus"] and s.emotion == t["emotion"] and s.fps == 200.0
        assert s.labels["megc2019"] == t["label"]


# ------------------------------------------------------------------------------------------------
# ground truth: the flow is exact, and usable in crop coordinates


def _warp_residual(onset: np.ndarray, apex: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Mean |apex(x + flow(x)) - onset(x)| over ``mask``, grey levels."""
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(apex.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_CUBIC)
    return float(np.abs(back - onset.astype(np.float32))[mask].mean())


def test_true_flow_warps_the_apex_frame_back_onto_the_onset_frame(synth_casme2):
    from mertool.datasets.frames import read_image

    for sid in synth_casme2.ids:
        clip = T.load_clip(synth_casme2.truth, sid, (T.D_FLOW, T.D_MASK, "frame_paths", "frame_numbers"))
        attrs = clip["attrs"]
        onset = read_image(clip["frame_paths"][0], sid).astype(np.float32)
        apex = read_image(clip["frame_paths"][list(clip["frame_numbers"]).index(attrs["apex"])], sid)
        flow, mask = clip[T.D_FLOW], clip[T.D_MASK]
        exact, none, wrong_sign = (_warp_residual(onset, apex, f, mask) for f in (flow, 0 * flow, -flow))
        assert exact < 0.7 * none and exact < wrong_sign, (sid, exact, none, wrong_sign)
        # the flow to any frame: zero at the onset, the stored onset -> apex flow at the apex
        assert not T.flow_to_frame(synth_casme2.truth, sid, attrs["onset"]).any()
        to_apex = T.flow_to_frame(synth_casme2.truth, sid, attrs["apex"])
        assert np.abs(to_apex - flow).max() < 2 * T.DISPLACEMENT_STEP


def test_inverse_warp_is_accurate_for_steep_fields():
    import cv2

    from mertool.synth.action_units import max_jacobian
    from mertool.synth.render import source_coordinates

    h, w = 80, 96
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xs - 48) ** 2 + (ys - 40) ** 2) / (2 * 5.0**2))
    field = np.stack([3.0 * bump, -5.0 * bump], axis=-1).astype(np.float32)
    assert 0.6 < max_jacobian(field) < 0.9  # steeper than any expression the generator accepts
    mx, my = source_coordinates(field, 1.0, np.array([[1, 0, 0.3], [0, 1, -0.2]], np.float32))
    d = cv2.remap(field, mx, my, cv2.INTER_LINEAR)
    # forward map of the found source point lands back on the pixel (head drift 0.3, -0.2)
    err = np.hypot(mx + d[..., 0] + 0.3 - xs, my + d[..., 1] - 0.2 - ys)
    assert err.max() < 0.03  # cv2.remap resolves coordinates to 1/32 px


def test_flow_in_crop_follows_the_alignment():
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    same = np.array([[0.5, 0, -10], [0, 0.5, -5]], np.float32)
    crop = T.flow_in_crop(flow, same, same, 24)
    assert crop.shape == (24, 24, 2) and np.allclose(crop[..., 0], 1.0) and np.allclose(crop[..., 1], -0.5)
    shifted = same.copy()
    shifted[0, 2] += 3  # the apex crop sits 3 px further right: the face seems to move 3 px more
    assert np.allclose(T.flow_in_crop(flow, same, shifted, 24)[..., 0], 4.0)
    mask = np.zeros((60, 80), bool)
    mask[20:40, 30:50] = True
    assert T.mask_in_crop(mask, same, 24).sum() == 100
    assert T.endpoint_error(crop, crop) == 0.0


def test_timecourse_is_under_500ms_with_a_unique_apex():
    from mertool.synth.timecourse import draw_timecourse

    rng = np.random.default_rng(0)
    for fps in (25.0, 100.0, 200.0, 500.0):
        for _ in range(50):
            tc = draw_timecourse(fps, rng)
            p = tc.profile()
            assert tc.n_frames / fps <= 0.5 and p[0] == 0 and p[-1] == 0
            assert np.argmax(p) == tc.apex and (p == 1).sum() == 1 and (p[: tc.start + 1] == 0).all()


def test_sources_are_the_bundled_photos_with_landmarks():
    from mertool.synth.sources import load_sources

    sources = load_sources()
    names = {s.name for s in sources}
    assert {"astronaut", "grace_hopper", "astronaut~mirror"} <= names
    for s in sources:
        x0, y0, x1, y1 = s.box
        inside = (s.landmarks[:, 0] >= x0 - 0.2 * (x1 - x0)) & (s.landmarks[:, 0] <= x1 + 0.2 * (x1 - x0))
        assert s.landmarks.shape == (68, 2) and inside.all()


# ------------------------------------------------------------------------------------------------
# CLI


def test_cli_writes_the_tree_and_refuses_to_overwrite(cli, tmp_path):
    out = tmp_path / "out"
    args = ("synth", out, "--subjects", "1", "--clips-per-subject", "3", "--size", "256x192", "--seed", "2")
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["clips"] == 3 and summary["dataset_root"] == str(out / "CASME2")
    assert (out / "CASME2" / "CASME2-coding-20140508.xlsx").is_file() and (out / "synth_truth.h5").is_file()
    again = cli(*args)
    message = " ".join(again.stderr.split())
    assert again.exit_code == 2 and "already exists" in message and "--overwrite" in message
    assert cli(*args, "--overwrite").exit_code == 0
    bad = cli("synth", tmp_path / "x", "--size", "100x80")
    assert bad.exit_code == 2 and "too small" in bad.stderr
    assert not (tmp_path / "x" / "CASME2").exists()
    real = tmp_path / "real" / "CASME2"  # someone's own data: --overwrite must not touch it
    real.mkdir(parents=True)
    (real / "keep.txt").write_text("mine")
    refused = cli("synth", tmp_path / "real", "--overwrite")
    assert refused.exit_code == 2 and "not written by mertool synth" in " ".join(refused.stderr.split())
    assert (real / "keep.txt").read_text() == "mine"
