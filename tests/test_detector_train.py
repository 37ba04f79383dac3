"""Every detector YAML trains for an epoch on CPU on a tiny synthetic WIDER FACE set (exercising
``prepare``), ``detector eval`` reports numbers, and the weights run through ``detect-faces``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mertool.detector.train import VARIANTS

pytestmark = pytest.mark.slow

IMGSZ = 160


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from mertool.detector.prepare import prepare_widerface
    from mertool.detector.synthetic import make_synthetic_wider

    base = tmp_path_factory.mktemp("detector")
    made = make_synthetic_wider(base / "wider", n_train=8, n_val=4, seed=0, size_range=(160, 224))
    report = prepare_widerface(made.root, base / "yolo")
    return report.data_yaml


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """The CBAM model trained through the CLI (shared by the eval and detect-faces tests)."""
    from typer.testing import CliRunner

    from mertool.cli.app import app

    run = tmp_path_factory.mktemp("run") / "star-cbam"
    args = [
        "detector",
        "train",
        str(data),
        "-m",
        "yolov8s-c2f-star-cbam",
        "--epochs",
        "1",
        "--imgsz",
        str(IMGSZ),
    ]
    res = CliRunner().invoke(app, [*args, "--batch", "4", "-o", str(run), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_cli_train_writes_weights_and_metrics(trained):
    assert trained["model"] == "yolov8s-c2f-star-cbam" and trained["epochs"] == 1
    for key in ("precision", "recall", "map50", "map50_95"):
        assert 0.0 <= trained[key] <= 1.0
    from pathlib import Path

    best = Path(trained["best"])
    assert best.is_file() and best.parent.name == "weights" and best.stat().st_size > 1_000_000
    # best.pt was chosen on the holdout of WIDER train, not on WIDER val (the test split)
    assert Path(trained["selected_on"]).name == "holdout"


def test_the_checkpoint_is_chosen_on_images_eval_never_scores(data, trained):
    from pathlib import Path

    import yaml

    doc = yaml.safe_load(Path(data).read_text())
    base = Path(doc["path"])
    selected = {p.resolve() for p in Path(trained["selected_on"]).rglob("*.jpg")}
    trained_on = {p.resolve() for p in (base / doc["train"]).rglob("*.jpg")}
    scored = {p.resolve() for p in (base / doc["test"]).rglob("*.jpg")}
    assert selected and trained_on and len(scored) == 4
    assert not (scored & selected) and not (scored & trained_on) and not (selected & trained_on)


@pytest.mark.parametrize("name", [n for n in VARIANTS if n != "yolov8s-c2f-star-cbam"])
def test_other_yamls_train_one_epoch(data, tmp_path, name):
    import torch

    from mertool.detector.train import train

    result = train(data, tmp_path / name, model=name, epochs=1, imgsz=IMGSZ, batch=4)
    assert result.best.is_file() and result.last.is_file()
    assert set(result.metrics) == {"precision", "recall", "map50", "map50_95"}
    assert all(0.0 <= v <= 1.0 for v in result.metrics.values())
    ckpt = torch.load(result.best, map_location="cpu", weights_only=False)
    kinds = {type(m).__name__ for m in ckpt["model"].modules()}
    expected = {
        "yolov8s-face": "C2f",
        "yolov8s-c2f-star": "C2f_Star",
        "yolov8s-c2f-star-caa": "C2f_Star_CAA",
    }[name]
    assert expected in kinds
    assert "C2f_Star_CBAM" not in kinds


def test_pretrained_local_weights_are_transferred(data, trained, tmp_path, capsys):
    """--pretrained LOCAL.pt starts from its weights (ultralytics reports the transfer)."""
    from mertool.detector.train import train

    result = train(
        data,
        tmp_path / "ft",
        model="yolov8s-c2f-star-cbam",
        epochs=1,
        imgsz=IMGSZ,
        batch=4,
        pretrained=trained["best"],
    )
    assert result.best.is_file()
    err = capsys.readouterr().err
    assert "Transferred" in err and "from pretrained weights" in err


def test_cli_eval_reports_numbers(cli, trained, data):
    res = cli("detector", "eval", trained["best"], data, "--imgsz", IMGSZ, "--batch", 4, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["images"] == 4 and doc["split"] == "test"  # WIDER val's 4 images, nothing else
    for key in ("precision", "recall", "map50", "map50_95"):
        assert 0.0 <= doc[key] <= 1.0
    # the synthetic set ships eval_tools/ground_truth: easy/medium/hard AP are computed
    assert set(doc["wider_ap"]) == {"easy", "medium", "hard"}
    assert all(0.0 <= v <= 1.0 or math.isnan(v) for v in doc["wider_ap"].values())
    res = cli("detector", "eval", trained["best"], data, "--imgsz", IMGSZ, "--no-wider")
    assert res.exit_code == 0 and "mAP@0.5" in res.stdout and "WIDER FACE AP" not in res.stdout
    assert "4 test image(s) (WIDER val)" in res.stdout


def test_detect_faces_runs_with_trained_weights(tmp_path, trained, mertool_bin):
    """``mertool detect-faces --detector yolo --weights best.pt`` in a fresh process (a real shell
    command): the custom-module weights load without any registration step."""
    import subprocess

    import cv2
    import h5py

    from mertool.detector.synthetic import face_crops

    crop = face_crops()[0].image
    clip = tmp_path / "clip1"
    clip.mkdir()
    canvas = np.full((240, 320, 3), 90, np.uint8)
    face = cv2.resize(crop, (140, int(140 * crop.shape[0] / crop.shape[1])))
    canvas[20 : 20 + face.shape[0], 90 : 90 + face.shape[1]] = face[: 240 - 20]
    for i in (1, 2, 3):
        cv2.imwrite(str(clip / f"img{i}.jpg"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    out = tmp_path / "faces.h5"
    cmd = [mertool_bin, "detect-faces", str(clip), "--detector", "yolo", "--weights", trained["best"]]
    proc = subprocess.run([*cmd, "-o", str(out), "-j", "1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "could not be loaded" not in proc.stderr
    with h5py.File(out, "r") as f:
        text = json.dumps({k: str(v) for k, v in f.attrs.items()})
    assert "yolo" in text and "best.pt" in text
    # one epoch on 8 images rarely finds a face: the clip is done, or failed for want of a face
    assert (
        "detect-faces: 1 sample(s) done" in proc.stderr or "no face found by the yolo detector" in proc.stderr
    )


def test_yolo_backend_loads_and_detects(trained):
    from pathlib import Path

    from mertool.face.detectors.yolo import YoloDetector

    det = YoloDetector(Path(trained["best"]), conf=0.001, imgsz=IMGSZ)
    found = det.detect(np.full((160, 160, 3), 128, np.uint8))
    assert isinstance(found, list)
    for box, score in found:
        assert box.shape == (4,) and 0.0 <= score <= 1.0
