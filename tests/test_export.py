"""mertool export MODEL.pt --onnx, predict --runtime onnx and ClipPredictor on a .onnx: the graph,
its metadata, the check against PyTorch, the same probabilities as PyTorch, clear refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from helpers_training import TINY, write_flow_file
from typer.testing import CliRunner

from mertool.errors import MertoolError
from mertool.training import export as E

#: predict's probabilities on onnxruntime equal PyTorch's within this (the export's own check
#: bounds the logits by E.TOLERANCE = 1e-4; a softmax moves by less than its inputs do)
PROB_TOLERANCE = 1e-4


def _train(flow_file, out, arch: str, *extra: str):
    from mertool.cli.app import app

    args = [
        "train",
        flow_file,
        "--arch",
        arch,
        "--epochs",
        "2",
        "--input-size",
        "16",
        "--lr",
        "0.05",
        "-o",
        out,
    ]
    r = CliRunner().invoke(app, [str(a) for a in [*args, *extra]], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory):
    return write_flow_file(
        tmp_path_factory.mktemp("flow") / "flow.h5", subjects=4, per_class=2, size=16, failed=1, unlabelled=1
    )


@pytest.fixture(scope="module")
def model_pt(flow_file, tmp_path_factory):
    return _train(flow_file, tmp_path_factory.mktemp("model") / "tiny.pt", TINY)


@pytest.fixture(scope="module")
def model_onnx(model_pt, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    E.export_onnx(model_pt, out)
    return out


def _predict(cli, *args):
    r = cli("predict", *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _max_prob_diff(a: dict, b: dict) -> float:
    assert [p["id"] for p in a["predictions"]] == [p["id"] for p in b["predictions"]]
    return max(
        abs(p["probs"][c] - q["probs"][c])
        for p, q in zip(a["predictions"], b["predictions"])
        for c in p["probs"]
    )


# ------------------------------------------------------------------------------------------------
# the file


def test_export_cli_writes_a_checked_graph_with_the_model_files_metadata(model_pt, tmp_path, cli):
    import onnx

    from mertool.training.checkpoint import load_model

    out = tmp_path / "deploy" / "tiny.onnx"
    r = cli("export", model_pt, "--onnx", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["output"] == str(out) and out.is_file() and res["bytes"] == out.stat().st_size
    assert 0 <= res["max_abs_diff"] <= res["tolerance"] == E.TOLERANCE
    assert res["inputs"] == {"flow": ["batch", 3, 16, 16], "apex": ["batch", 1, 16, 16]}

    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    dims = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input
    }
    assert dims == {"flow": ["batch", 3, 16, 16], "apex": ["batch", 1, 16, 16]}
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["mertool"])
    mf = load_model(model_pt)
    # everything predict needs, exactly as the model file has it
    assert meta["preprocessing"] == json.loads(json.dumps(mf.preprocessing))
    for key in ("arch", "classes", "label_map", "num_classes", "options"):
        assert meta[key] == json.loads(json.dumps(mf.meta[key]))
    assert meta["onnx"]["format"] == "mertool-onnx" and meta["onnx"]["inputs"] == ["flow", "apex"]
    assert meta["onnx"]["check"]["max_abs_diff"] == res["max_abs_diff"]

    # human output: the path, the check and its tolerance
    r = cli("export", model_pt, "--onnx", "-o", tmp_path / "again.onnx")
    assert r.exit_code == 0, r.stderr
    assert "wrote" in r.stdout and "tolerance 0.0001" in r.stderr


def test_export_default_name_and_flags(model_pt, tmp_path, cli):
    pt = tmp_path / "m.pt"
    shutil.copy(model_pt, pt)
    r = cli("export", pt, "--onnx")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "m.onnx").is_file()
    r = cli("export", pt)  # no format named
    assert r.exit_code != 0 and "--onnx" in r.stderr
    r = cli("export", tmp_path / "m.onnx", "--onnx")
    assert r.exit_code != 0 and "already ONNX" in r.stderr
    r = cli("export", tmp_path / "missing.pt", "--onnx")
    assert r.exit_code != 0 and "no such model file" in r.stderr


def test_the_graph_takes_any_batch_and_matches_pytorch(model_pt, model_onnx):
    from mertool.training.checkpoint import load_model

    onnx_file = E.load_onnx(model_onnx)
    runner = onnx_file.runner(threads=1)
    model = load_model(model_pt).build()
    rng = np.random.default_rng(7)
    for batch in (1, 5, 17):
        x = {
            "flow": rng.standard_normal((batch, 3, 16, 16)).astype(np.float32),
            "apex": rng.standard_normal((batch, 1, 16, 16)).astype(np.float32),
        }
        with torch.inference_mode():
            ref = model({k: torch.from_numpy(v) for k, v in x.items()})["logits"].numpy()
        got = runner.run(x)
        assert got.shape == (batch, 3)
        assert np.max(np.abs(got - ref)) <= E.TOLERANCE


def test_a_failed_check_stops_the_export_and_writes_nothing(model_pt, tmp_path, monkeypatch):
    monkeypatch.setattr(E, "max_abs_difference", lambda *a, **k: 0.25)
    out = tmp_path / "bad.onnx"
    with pytest.raises(MertoolError, match=r"differs from PyTorch by up to 0\.25 .*tolerance 0\.0001"):
        E.export_onnx(model_pt, out)
    assert not out.exists()
    monkeypatch.setattr(E, "max_abs_difference", lambda *a, **k: float("nan"))
    with pytest.raises(MertoolError, match="differs from PyTorch"):
        E.export_onnx(model_pt, out)


# ------------------------------------------------------------------------------------------------
# predict --runtime onnx


def test_predict_on_onnxruntime_gives_pytorchs_probabilities(flow_file, model_pt, model_onnx, tmp_path, cli):
    torch_res = _predict(cli, model_pt, flow_file)
    on_the_fly = _predict(cli, model_pt, flow_file, "--runtime", "onnx")
    # the .onnx alone: no .pt beside it
    alone = tmp_path / "elsewhere" / "model.onnx"
    alone.parent.mkdir()
    shutil.copy(model_onnx, alone)
    from_file = _predict(cli, alone, flow_file)
    assert torch_res["runtime"] == "torch" and on_the_fly["runtime"] == "onnx" == from_file["runtime"]
    for res in (on_the_fly, from_file):
        assert _max_prob_diff(torch_res, res) <= PROB_TOLERANCE
        assert [p["label"] for p in res["predictions"]] == [p["label"] for p in torch_res["predictions"]]
        assert res["skipped"] == torch_res["skipped"] and res["accuracy"] == torch_res["accuracy"]
        assert res["classes"] == torch_res["classes"] and res["label_map"] == torch_res["label_map"]
    assert from_file["arch"] == TINY and from_file["options"] == torch_res["options"]
    # the table says where it ran
    r = cli("predict", alone, flow_file)
    assert r.exit_code == 0, r.stderr
    assert "onnxruntime" in r.stdout


def test_an_onnx_file_runs_on_onnxruntime_only(flow_file, model_onnx, cli):
    r = cli("predict", model_onnx, flow_file, "--runtime", "torch")
    assert r.exit_code != 0 and "runs on onnxruntime only" in r.stderr
    from mertool.training.predict import predict

    with pytest.raises(MertoolError, match="unknown runtime"):
        predict(model_onnx, flow_file, runtime="tflite")


def test_foreign_and_corrupt_onnx_files_are_refused(flow_file, model_pt, tmp_path, cli):
    import warnings

    foreign = tmp_path / "linear.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(torch.nn.Linear(4, 2).eval(), (torch.zeros(1, 4),), str(foreign), dynamo=False)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    renamed = tmp_path / "model.onnx"
    shutil.copy(model_pt, renamed)
    cases = [
        (foreign, "an ONNX model .* but not one written by mertool export"),
        (garbage, "is not an ONNX model file"),
        (empty, "is not an ONNX model file"),
        (renamed, "is a PyTorch archive"),
        (tmp_path / "missing.onnx", "no such model file"),
    ]
    for path, message in cases:
        with pytest.raises(MertoolError, match=message):
            E.load_onnx(path)
        r = cli("predict", path, flow_file)
        assert r.exit_code != 0, path
        assert "error:" in r.stderr and "Traceback" not in r.stderr
    # metadata that is not mertool's record
    import onnx

    proto = onnx.load(str(foreign))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "mertool", "{not json"
    bad_meta = tmp_path / "badmeta.onnx"
    onnx.save(proto, str(bad_meta))
    with pytest.raises(MertoolError, match="metadata is not JSON"):
        E.load_onnx(bad_meta)


def test_handcrafted_models_say_they_cannot_be_exported(flow_file, tmp_path, cli):
    svm = _train(flow_file, tmp_path / "hoof.pt", "hoof-svm")
    r = cli("export", svm, "--onnx")
    assert r.exit_code != 0
    assert "cannot export to ONNX" in r.stderr and "numpy" in r.stderr and "--runtime torch" in r.stderr
    assert not (tmp_path / "hoof.onnx").exists()
    r = cli("predict", svm, flow_file, "--runtime", "onnx")
    assert r.exit_code != 0 and "cannot export to ONNX" in r.stderr


# ------------------------------------------------------------------------------------------------
# a model trained for other inputs


def _register_face_model() -> str:
    from torch import nn

    from mertool.models.registry import Option, register_model

    class FaceDiff(nn.Module):
        def __init__(self, num_classes: int, width: int = 6):
            super().__init__()
            self.face = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
            self.diff = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU())
            self.head = nn.Linear(2 * width, num_classes)

        def forward(self, inputs, labels=None):
            a = self.face(inputs["face"]).mean(dim=(2, 3))
            b = self.diff(inputs["diff"]).amax(dim=(2, 3))
            return {"logits": self.head(torch.cat([a, b], dim=1))}

    @register_model(
        "tiny-face-diff-test",
        inputs=("face", "diff"),
        input_size=16,
        paper="test",
        description="tiny test model on the apex crop and the difference image",
        options={"width": Option(6, "channels")},
    )
    def build(num_classes: int, width: int = 6):
        return FaceDiff(num_classes, width)

    return "tiny-face-diff-test"


@pytest.fixture
def face_model():
    """The test model on face/diff inputs, registered for one test only: left in the global
    registry it would be profiled by ``mertool models list`` in later tests with the wrong inputs."""
    from mertool.models import registry

    name = _register_face_model()
    yield name
    registry._MODELS.pop(name, None)


def test_a_model_on_other_inputs_exports_and_predicts_alike(flow_file, tmp_path, cli, face_model):
    from mertool.training.predict import ClipPredictor

    arch = face_model
    pt = _train(flow_file, tmp_path / "face.pt", arch)
    r = cli("export", pt, "--onnx", "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["inputs"] == {"face": ["batch", 1, 16, 16], "diff": ["batch", 1, 16, 16]}
    onnx_path = tmp_path / "face.onnx"
    assert _max_prob_diff(_predict(cli, pt, flow_file), _predict(cli, onnx_path, flow_file)) <= PROB_TOLERANCE
    # the live one-clip predictor needs flow-stage inputs, from a .onnx as from a .pt
    with pytest.raises(MertoolError, match="needs a model on flow-stage inputs"):
        ClipPredictor(onnx_path, backend="onnx")
    # data of another shape than the graph's is refused by name, not with onnxruntime's trace
    runner = E.load_onnx(onnx_path).runner()
    with pytest.raises(
        MertoolError, match=r"input 'face' is \(N, 1, 16, 16\); this data gives \(2, 3, 16, 16\)"
    ):
        runner.run(
            {"face": np.zeros((2, 3, 16, 16), np.float32), "diff": np.zeros((2, 1, 16, 16), np.float32)}
        )


# ------------------------------------------------------------------------------------------------
# ClipPredictor


def _pair(size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    onset = (rng.random((size, size)) * 200 + 20).astype(np.uint8)
    import cv2

    onset = cv2.GaussianBlur(onset, (5, 5), 1.5)
    apex = np.roll(onset, 1, axis=0)
    return onset, apex


def test_clip_predictor_takes_a_pt_or_an_onnx_path(model_pt, model_onnx):
    from mertool.training.predict import ClipPredictor

    onset, apex = _pair()
    label, probs = ClipPredictor(model_pt, backend="eager", threads=1).predict(onset, apex)
    for path in (model_pt, model_onnx):
        got_label, got = ClipPredictor(path, backend="onnx", threads=1).predict(onset, apex)
        assert got_label == label
        assert max(abs(got[c] - probs[c]) for c in probs) <= PROB_TOLERANCE
    with pytest.raises(MertoolError, match="onnx backend only"):
        ClipPredictor(model_onnx, backend="eager")


def test_dfr_net_with_its_head_motion_step_exports_and_matches_pytorch(flow_file, tmp_path):
    """DFR-Net's default head_motion=median is a sort (ONNX has no median): the graph agrees."""
    from mertool.training.checkpoint import load_model

    pt = _train(flow_file, tmp_path / "dfr.pt", "dfr-net", "--opt", "stages=1", "--opt", "width=8")
    out = tmp_path / "dfr.onnx"
    E.export_onnx(pt, out)
    model = load_model(pt).build()
    assert model.remove_head_motion
    rng = np.random.default_rng(3)
    x = {
        n: rng.standard_normal((3, 3 if n == "flow" else 1, 16, 16)).astype(np.float32)
        for n in model.input_names
    }
    x["flow"][:, :2] += np.float32(2.5)  # a shift of the whole face, removed inside the graph
    with torch.inference_mode():
        ref = model({k: torch.from_numpy(v) for k, v in x.items()})["logits"].numpy()
    assert np.max(np.abs(E.load_onnx(out).runner(threads=1).run(x) - ref)) <= E.TOLERANCE


def test_a_model_file_pins_every_option_and_an_older_file_keeps_its_flow(flow_file, tmp_path):
    """Model files record every option, defaults included, so a later default cannot change
    what a file computes; a DFR-Net file written before head_motion existed (its options do not
    name it) is built with head_motion=none, the flow as it was trained on."""
    import torch as _torch

    from mertool.training.checkpoint import load_model, save_model

    pt = _train(flow_file, tmp_path / "dfr.pt", "dfr-net", "--opt", "stages=1", "--opt", "width=8")
    mf = load_model(pt)
    assert mf.meta["options"]["head_motion"] == "median" and mf.meta["options"]["temporal"] == "gate+skip"
    assert mf.build().remove_head_motion
    older = {**mf.meta, "options": {k: v for k, v in mf.meta["options"].items() if k != "head_motion"}}
    save_model(tmp_path / "older.pt", mf.build(), older)
    old_model = load_model(tmp_path / "older.pt").build()
    assert not old_model.remove_head_motion
    for a, b in zip(old_model.state_dict().values(), mf.build().state_dict().values()):
        assert _torch.equal(a, b)
