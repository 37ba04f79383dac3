"""The detector YAMLs build with the registered C2f_Star modules, with C2f's channel/repeat handling;
the registration notices a parser it cannot teach; pretrained names are refused offline."""

from __future__ import annotations

import builtins
import json
import socket

import pytest
import torch

from mertool.detector import CFG_DIR
from mertool.detector.train import VARIANTS, resolve_model
from mertool.errors import EnvironmentProblem, MertoolError

# C2f positions in ultralytics' YOLOv8 layout, and their YAML repeats (before the 0.33 depth)
C2F_LAYERS = {2: 3, 4: 6, 6: 6, 8: 3, 12: 3, 15: 3, 18: 3, 21: 3}
EXPECTED = {
    "yolov8s-face": "C2f",
    "yolov8s-c2f-star": "C2f_Star",
    "yolov8s-c2f-star-cbam": "C2f_Star_CBAM",
    "yolov8s-c2f-star-caa": "C2f_Star_CAA",
}


@pytest.fixture(scope="module")
def built():
    from mertool.detector.registration import register

    register()
    from ultralytics.nn.tasks import DetectionModel

    return {name: DetectionModel(str(CFG_DIR / yaml), verbose=False) for name, (yaml, _) in VARIANTS.items()}


def test_every_shipped_yaml_is_listed():
    assert sorted(p.name for p in CFG_DIR.glob("*.yaml")) == sorted(y for y, _ in VARIANTS.values())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_yaml_builds_with_expected_layers(built, name):
    from mertool.models.layers.caa import CAA
    from mertool.models.layers.cbam import CBAM
    from mertool.models.layers.star import StarBlock

    model = built[name]
    layers = list(model.model)
    assert (
        len(layers) == 23
        and type(layers[-1]).__name__ == "Detect"
        and model.yaml["nc"] == 1
        and layers[-1].nc == 1
    )
    for i, repeats in C2F_LAYERS.items():
        layer = layers[i]
        assert type(layer).__name__ == EXPECTED[name], i
        assert len(layer.m) == max(round(repeats * 0.33), 1)  # depth-scaled repeats *inside* one C2f
    # C2f channel handling: c1 = the input layer's output, c2 = the YAML's width x 0.5
    assert layers[2].cv1.conv.in_channels == 64 and layers[2].cv2.conv.out_channels == 64
    assert layers[8].cv2.conv.out_channels == 512 and layers[21].cv2.conv.out_channels == 512
    assert layers[12].cv1.conv.in_channels == 512 + 256  # Concat(P5 upsampled, P4)
    blocks = [m for m in model.modules() if isinstance(m, StarBlock)]
    if name == "yolov8s-face":
        assert not blocks
    else:
        assert len(blocks) == sum(max(round(r * 0.33), 1) for r in C2F_LAYERS.values())
        attention = {
            "yolov8s-c2f-star": torch.nn.Identity,
            "yolov8s-c2f-star-cbam": CBAM,
            "yolov8s-c2f-star-caa": CAA,
        }[name]
        assert all(isinstance(b.attention, attention) for b in blocks)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_forward_outputs(built, name):
    model = built[name].eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    preds = out[0] if isinstance(out, (tuple, list)) else out
    # (batch, 4 box + 1 class, anchors at strides 8, 16, 32)
    assert preds.shape == (1, 5, 8 * 8 + 4 * 4 + 2 * 2)


def test_baseline_matches_yolov8s_published_size(built):
    params = sum(p.numel() for p in built["yolov8s-face"].parameters())
    assert 11.0e6 < params < 11.2e6  # 11.2M with 80 classes; one class removes ~0.03M
    star = sum(p.numel() for p in built["yolov8s-c2f-star"].parameters())
    cbam = sum(p.numel() for p in built["yolov8s-c2f-star-cbam"].parameters())
    assert star < params and star < cbam  # Star blocks are lighter than two 3x3 convs; CBAM adds a little


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # the mis-parsed build, on purpose
def test_registration_notices_a_parser_it_cannot_teach(monkeypatch):
    """Without the C2f-family hook, the probe sees misaligned arguments and says so."""
    from mertool.detector import registration

    registration.register()
    import ultralytics.nn.tasks as tasks

    monkeypatch.setattr(tasks, "frozenset", builtins.frozenset)
    with pytest.raises(EnvironmentProblem, match="C2f_Star") as info:
        registration._probe(tasks)
    assert registration.TESTED_ULTRALYTICS in info.value.hint


def test_registration_is_idempotent():
    from mertool.detector.registration import is_registered, register

    register()
    register()
    assert is_registered()


def test_resolve_model_names(tmp_path):
    assert resolve_model("yolov8s-c2f-star-cbam") == CFG_DIR / "yolov8s-c2f-star-cbam.yaml"
    nano = resolve_model("yolov8n-c2f-star", workdir=tmp_path)
    assert nano.name == "yolov8n-c2f-star.yaml" and nano.parent == tmp_path
    with pytest.raises(MertoolError, match="unknown detector model"):
        resolve_model("yolov9-star")


def test_pretrained_names_fail_offline_without_network(monkeypatch, tmp_path):
    calls = []

    def no_network(*args, **kwargs):
        calls.append(args)
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MertoolError, match="mertool runs offline") as info:
        resolve_model("yolov8s.pt")
    assert "nothing was downloaded" in str(info.value) and info.value.hint
    from mertool.detector.evaluate import load_weights

    with pytest.raises(MertoolError, match="not a file here"):
        load_weights("yolov8s.pt")
    assert not calls and not (tmp_path / "yolov8s.pt").exists()


def test_cli_train_refuses_pretrained_name(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: {0: face}\n")
    res = cli("detector", "train", tmp_path / "data.yaml", "--model", "yolov8s.pt", "-o", tmp_path / "run")
    assert res.exit_code == 2
    assert "mertool runs offline" in res.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_stdout_is_clean_json_on_first_ultralytics_use(tmp_path, mertool_bin):
    """A fresh ultralytics config dir makes ultralytics print a settings notice: not on our stdout."""
    import os
    import subprocess

    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "ultralytics-config")}
    proc = subprocess.run(
        [mertool_bin, "detector", "models", "--json", "--imgsz", "64"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["models"]) == len(VARIANTS)
    assert (tmp_path / "ultralytics-config/Ultralytics/Arial.ttf").is_file()  # the bundled font, no download


@pytest.mark.slow
def test_cli_models_table(cli):
    res = cli("detector", "models", "--json", "--imgsz", "320")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["published_yolov8s"]["params_m"] == 11.2 and doc["published_yolov8s"]["gflops"] == 28.6
    rows = {r["model"]: r for r in doc["models"]}
    assert set(rows) == set(VARIANTS)
    assert rows["yolov8s-face"]["layers"] == 129
    # GFLOPs scale with the image area: 28.6 at 640 -> about a quarter at 320
    assert 6.5 < rows["yolov8s-face"]["gflops"] < 7.8
    assert rows["yolov8s-c2f-star-caa"]["gflops"] > rows["yolov8s-c2f-star"]["gflops"]
