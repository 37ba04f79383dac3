"""The hand-crafted baselines: LBP-TOP, Bi-WOOF, HOOF/MDMO features (checked against values
computed independently here) and their SVM models through eval-loso, train and predict."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from helpers_training import write_flow_file

from mertool.errors import MertoolError
from mertool.features.bi_woof import bi_woof
from mertool.features.grid import block_labels, orientation_bins
from mertool.features.hoof import hoof, mdmo
from mertool.features.lbp_top import lbp_top, n_codes
from mertool.store import SampleWriter
from mertool.store import schema as S

CLASSES = ("negative", "positive", "surprise")

# ------------------------------------------------------------------------------------------------
# the features, against values computed independently


def _reference_lbp_top(vol, rows, cols, points, radius, method):
    """LBP-TOP the slow, obvious way: scikit-image on each plane image separately, then one
    histogram per block and plane over the centre pixels, each summing to 1."""
    from skimage.feature import local_binary_pattern

    t, h, w = vol.shape
    m = math.ceil(radius)
    img = vol  # uint8, as the model passes it
    xy = np.stack([local_binary_pattern(img[i], points, radius, method) for i in range(t)])
    xt = np.stack([local_binary_pattern(img[:, y, :], points, radius, method) for y in range(h)], axis=1)
    yt = np.stack([local_binary_pattern(img[:, :, x], points, radius, method) for x in range(w)], axis=2)
    k = n_codes(points, method)
    ys = np.round(np.linspace(0, h, rows + 1)).astype(int)
    xs = np.round(np.linspace(0, w, cols + 1)).astype(int)
    out = []
    for i in range(rows):
        for j in range(cols):
            for codes in (xy, xt, yt):
                hist = np.zeros(k)
                for tt in range(m, t - m):
                    for y in range(max(ys[i], m), min(ys[i + 1], h - m)):
                        for x in range(max(xs[j], m), min(xs[j + 1], w - m)):
                            hist[int(codes[tt, y, x])] += 1
                out.append(hist / hist.sum())
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("points", "radius", "method", "blocks"),
    [(8, 1.0, "nri_uniform", (2, 3)), (8, 1.0, "uniform", 2), (4, 2.0, "nri_uniform", 1)],
)
def test_lbp_top_equals_scikit_image_plane_by_plane(points, radius, method, blocks):
    vol = np.random.default_rng(3).integers(0, 256, (7, 13, 11)).astype(np.uint8)
    rows, cols = (blocks, blocks) if isinstance(blocks, int) else blocks
    got = lbp_top(vol, blocks, points, radius, method)
    want = _reference_lbp_top(vol, rows, cols, points, radius, method)
    assert got.shape == (rows * cols * 3 * n_codes(points, method),) and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


def test_lbp_top_counts_and_errors():
    vol = np.random.default_rng(0).integers(0, 256, (5, 10, 10)).astype(np.uint8)
    counts = lbp_top(vol, 2, normalize="none").reshape(4, 3, 59)
    # every centre pixel (3 x 8 x 8) votes once per plane; blocks hold 4x4, 4x4, ... of the 8x8 centre
    assert counts.sum() == 3 * 3 * 8 * 8 and (counts.sum(axis=2) == 3 * 16).all()
    assert n_codes(8, "nri_uniform") == 59 and n_codes(8, "uniform") == 10
    with pytest.raises(MertoolError, match="at least 3 frames"):
        lbp_top(vol[:2])
    with pytest.raises(MertoolError, match="unknown LBP method"):
        lbp_top(vol, method="ror")


def test_orientation_bins_layout():
    # C = 8 over [-pi, pi): left -> 0 (theta = pi wraps), up (v < 0) -> 2, right -> 4, down -> 6
    u = np.array([-1.0, 0.0, 1.0, 0.0, 1.0, -1.0])
    v = np.array([0.0, -1.0, 0.0, 1.0, 1.0, 1e-9])
    assert orientation_bins(u, v, 8).tolist() == [0, 2, 4, 6, 5, 7]
    assert orientation_bins(u, v, 4).tolist() == [0, 1, 2, 3, 2, 3]
    assert block_labels(4, 6, (2, 3)).tolist() == [[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 4, 4, 5, 5]] * 2


def test_bi_woof_constant_flow_lands_in_the_known_bin_with_the_strain_weight():
    flow = np.zeros((8, 8, 2))
    flow[..., 0] = 2.0  # everything moves right: bin 4 of 8
    strain = np.zeros((8, 8))
    strain[:4, :4], strain[:4, 4:], strain[4:, 4:] = 0.2, 0.4, 0.8  # block 2 (bottom left) does not strain
    feat = bi_woof(flow, strain, blocks=2, bins=8).reshape(4, 8)
    want = np.zeros((4, 8))
    want[:, 4] = np.array([0.2, 0.4, 0.0, 0.8]) / math.sqrt(0.2**2 + 0.4**2 + 0.8**2)
    np.testing.assert_allclose(feat, want, atol=1e-12)
    # locally weighted by magnitude: a block half right (|2|) and half up (|1|) -> 2/3 and 1/3
    flow[:, 4:] = 0.0
    flow[:, 4:, 1] = -1.0
    feat = bi_woof(flow, np.ones((8, 8)), blocks=(1, 1), bins=8)
    want = np.zeros(8)
    want[[4, 2]] = [2 / 3, 1 / 3]
    np.testing.assert_allclose(feat, want / np.linalg.norm(want), atol=1e-12)
    assert not bi_woof(np.zeros((8, 8, 2)), np.ones((8, 8))).any()  # nothing moves: all zero


def test_hoof_and_mdmo_known_values():
    flow = np.zeros((4, 4, 2))
    flow[:, :2, 1] = 3.0  # left half moves down (bin 6), 8 pixels of magnitude 3
    flow[:, 2:, 0] = -1.0  # right half moves left (bin 0), 8 pixels of magnitude 1
    h = hoof(flow, blocks=(1, 2), bins=8, normalize=False).reshape(2, 8)
    assert h[0, 6] == pytest.approx(24.0) and h[1, 0] == pytest.approx(8.0) and h.sum() == pytest.approx(32.0)
    h = hoof(flow, blocks=1, bins=8).reshape(8)
    assert h[6] == pytest.approx(0.75) and h[0] == pytest.approx(0.25)
    # MDMO: the main direction is the bin with most pixels; the block is its pixels' mean flow
    flow = np.zeros((2, 3, 2))
    flow[0, :, 0] = [1.0, 2.0, 3.0]  # three pixels right
    flow[1, :, 1] = [-9.0, -9.0, 0.0]  # two up, one (0, 0): bin 4, like "right"
    assert mdmo(flow, blocks=1, bins=8).tolist() == pytest.approx([1.5, 0.0])  # (1+2+3+0)/4, 0


def test_clip_volume_interpolates_between_onset_and_offset():
    from mertool.training.data import clip_volume

    frames = (np.arange(12)[:, None, None] * 10 * np.ones((1, 3, 4))).astype(np.uint8)
    numbers = np.arange(100, 112)
    vol = clip_volume(frames, numbers, onset=102, offset=106, length=9)
    assert vol.shape == (9, 3, 4) and vol.dtype == np.float32
    np.testing.assert_allclose(vol[:, 0, 0], 10 * np.linspace(2, 6, 9) / 255, atol=1e-6)
    np.testing.assert_allclose(
        clip_volume(frames, numbers, None, None, 12)[:, 1, 1], 10 * np.arange(12) / 255
    )
    with pytest.raises(ValueError, match="fewer than 2 frames"):
        clip_volume(frames, numbers, 105, 105, 4)


def test_clip_input_names_and_stage():
    from mertool.models.registry import clip_input_frames, clip_input_name, model_spec
    from mertool.training.data import required_stage

    assert clip_input_name(10) == "clip" and clip_input_name(16) == "clip16"
    assert clip_input_frames("clip") == 10 and clip_input_frames("clip16") == 16
    assert clip_input_frames("clips") is None and clip_input_frames("face") is None
    assert model_spec("lbp-top-svm").input_names({"frames": 16}) == ("clip16",)
    assert required_stage(["clip"]) == S.STAGE_FACES and required_stage(["flow"]) == S.STAGE_FLOW
    with pytest.raises(MertoolError, match="at least 3 frames"):
        from mertool.models import build_model

        build_model("lbp-top-svm", 3, frames=2)


# ------------------------------------------------------------------------------------------------
# the models


def write_clip_file(path, subjects: int = 4, per_class: int = 2, size: int = 24, seed: int = 0):
    """A detect-faces-stage file of gray clips (12 frames, numbers 100..111, onset 101, offset
    110) whose texture moves right (negative), down (positive) or stays (surprise), plus noise."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    with SampleWriter(path, stage=S.STAGE_FACES, params={"test": True}) as w:
        for s in range(subjects):
            for label in range(3):
                for c in range(per_class):
                    tex = gaussian_filter(rng.normal(0, 1, (size, size)), 1.0)
                    tex = 128 + 60 * tex / tex.std()
                    frames = []
                    for f in range(12):
                        shift = (0, f) if label == 0 else ((f, 0) if label == 1 else (0, 0))
                        img = np.roll(tex, shift, axis=(0, 1)) + rng.normal(0, 2, (size, size))
                        frames.append(np.clip(img, 0, 255).astype(np.uint8))
                    subj = f"s{s + 1:02d}"
                    w.write(
                        f"synth/{subj}/c{label}{c}",
                        arrays={S.D_FRAMES: np.stack(frames), S.D_FRAME_NUMBERS: np.arange(100, 112)},
                        attrs={
                            S.A_DATASET: "synth",
                            S.A_SUBJECT: subj,
                            S.A_ONSET: 101,
                            S.A_OFFSET: 110,
                            S.A_EMOTION: CLASSES[label],
                            S.A_LABEL_MAP: "megc2019",
                            S.A_LABEL: CLASSES[label],
                            S.A_LABELS_JSON: {"megc2019": CLASSES[label]},
                        },
                    )
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("handcrafted")
    return {
        "flow": write_flow_file(d / "flow.h5", subjects=4, per_class=2, size=24),
        "clip": write_clip_file(d / "clip.h5"),
    }


RUNS = [
    ("bi-woof-svm", "flow", []),
    ("hoof-svm", "flow", []),
    ("hoof-svm", "flow", ["--opt", "variant=mdmo"]),
    ("lbp-top-svm", "clip", ["--opt", "blocks=2"]),
]


@pytest.mark.parametrize(("arch", "data", "extra"), RUNS, ids=[f"{a}{''.join(e[1:])}" for a, _, e in RUNS])
def test_eval_loso_through_the_cli_is_well_above_chance(files, tmp_path, cli, arch, data, extra):
    out = tmp_path / "run"
    args = ["eval-loso", files[data], "--arch", arch, *extra, "--input-size", "24", "--label-map", "megc2019"]
    r = cli(
        *args, "--val-subjects", "1", "--workers", "1", "--threads", "1", "--no-plots", "-o", out, "--json"
    )
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["n_samples"] == 24 and summary["n_folds_complete"] == 4
    assert summary["uf1"] >= 0.8, summary["uf1"]  # chance is 1/3
    fold = json.loads(next(out.glob("folds/*/predictions.json")).read_text())
    # closed form: one record, every training subject fits (no validation split, nothing selected)
    assert fold["epochs_run"] == 1 and fold["selected_on"] == "closed form"
    assert fold["n_train"] == 18 and fold["n_val"] == 0 and fold["selection_ids"] == []
    assert fold["history"][0]["fitted"] == "LinearSVC" and fold["history"][0]["val_subjects_ignored"] == 1


@pytest.mark.parametrize(("arch", "data", "extra"), [RUNS[0], RUNS[3]], ids=["bi-woof-svm", "lbp-top-svm"])
def test_train_then_predict_gives_the_same_predictions(files, tmp_path, cli, arch, data, extra):
    from mertool.training.checkpoint import load_model
    from mertool.training.config import resolve_config
    from mertool.training.data import BatchSet, load_table
    from mertool.training.loop import evaluate
    from mertool.training.trainer import train_file

    model = tmp_path / "m.pt"
    r = cli(
        "train", files[data], "--arch", arch, *extra, "--input-size", "24", "--norm", "dataset", "-o", model
    )
    assert r.exit_code == 0, r.stderr
    mf = load_model(model)
    assert mf.preprocessing["normalization"]["mode"] == "none"  # features see raw inputs
    assert mf.meta["selected_on"] == "closed form" and len(mf.meta["history"]) == 1
    r = cli("predict", model, files[data], "--json")
    assert r.exit_code == 0, r.stderr
    got = {p["id"]: p for p in json.loads(r.stdout)["predictions"]}
    assert len(got) == 24
    # the model as trained in process (same seed) gives the same labels and probabilities
    opts = dict(kv.split("=") for kv in extra[1::2])
    cfg = resolve_config(
        None, {"arch": arch, "options": {k: int(v) for k, v in opts.items()}, "input_size": 24}
    )
    trained, table = train_file(files[data], cfg, tmp_path / "again.pt")
    ev = evaluate(trained.model, BatchSet(table, np.arange(len(table)), trained.normalizer), 64, "cpu")
    for row, probs in zip(ev["rows"], ev["probs"]):
        p = got[table.ids[row]]
        assert p["label"] == table.classes[int(probs.argmax())]
        assert p["probs"]["surprise"] == pytest.approx(float(probs[2]), abs=1e-6)
    # and the file's weights reproduce them too
    table2 = load_table(files[data], mf.preprocessing["inputs"], 24, classes=mf.classes, progress=False)
    ev2 = evaluate(mf.build(), BatchSet(table2, np.arange(len(table2)), trained.normalizer), 64, "cpu")
    np.testing.assert_allclose(ev2["probs"], ev["probs"], atol=1e-6)


def test_svm_fit_matches_scikit_learn_and_handles_absent_classes():
    from sklearn.svm import LinearSVC

    from mertool.models import build_model

    rng = np.random.default_rng(1)
    flows = rng.normal(0, 1, (30, 3, 12, 12)).astype(np.float32)
    flows[:, 2] = np.abs(flows[:, 2])
    labels = np.array([0, 2] * 15)
    flows[labels == 2, 0] += 1.5  # class 2 moves right
    model = build_model("hoof-svm", 3, blocks=2, class_weight="none")
    record = model.fit_arrays({"flow": flows}, labels, seed=0)
    assert record["classes_seen"] == [0, 2] and record["train_acc"] > 0.9
    import torch

    logits = model({"flow": torch.from_numpy(flows)})["logits"].detach().numpy()
    assert (logits[:, 1] < -1e3).all()  # class 1 was never seen: never predicted
    feats = model.features(flows)
    z = (feats - feats.mean(0)) / np.where(feats.std(0) > 1e-12, feats.std(0), 1.0)
    svm = LinearSVC(C=1.0, dual="auto", max_iter=20000, random_state=0).fit(z, labels)
    assert (np.array([0, 1, 2])[logits.argmax(1)] == svm.predict(z)).all()
    np.testing.assert_allclose(logits[:, 2], svm.decision_function(z), atol=1e-4)


def test_closed_form_models_refuse_augmentation(files):
    from mertool.training.config import resolve_config
    from mertool.training.data import load_table
    from mertool.training.trainer import train_on_rows

    table = load_table(files["flow"], ("flow",), 24, "megc2019", progress=False)
    cfg = resolve_config(None, {"arch": "bi-woof-svm", "augment": "hflip"})
    with pytest.raises(MertoolError, match="no --augment"):
        train_on_rows(table, np.arange(len(table)), [str(s) for s in table.subjects], cfg, 0)


def test_clip_input_needs_the_aligned_frames(files):
    from mertool.training.data import load_table

    with pytest.raises(MertoolError, match="no aligned frames"):
        load_table(files["flow"], ("clip",), 24, "megc2019", progress=False)


def test_tracing_is_refused_rather_than_freezing_the_features():
    import torch

    from mertool.models import build_model

    model = build_model("bi-woof-svm", 3, blocks=2).eval()
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(MertoolError, match="cannot be traced"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace's deprecation note
        torch.jit.trace(lambda f: model({"flow": f})["logits"], (x,))
