"""``detector prepare``: WIDER FACE -> YOLO labels, every dropped box counted, a valid data.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures.wider_tree import IMAGE_H, IMAGE_W, build_widerface

from mertool.detector.prepare import SplitCounts, prepare_widerface, yolo_lines
from mertool.errors import MertoolError


def _labels(path: Path) -> np.ndarray:
    return np.loadtxt(path, ndmin=2).reshape(-1, 5)


def test_fixture_tree_counts_and_labels(tmp_path):
    root = build_widerface(tmp_path)
    out = tmp_path / "yolo"
    report = prepare_widerface(root, out)
    train, val = report.splits["train"], report.splits["val"]
    assert (train.images, train.boxes_in, train.boxes_written) == (3, 3, 2)
    assert (train.dropped_zero_size, train.dropped_invalid, train.zero_face_images) == (1, 0, 1)
    assert (val.images, val.boxes_in, val.boxes_written) == (2, 4, 3)
    assert (val.dropped_invalid, val.clipped, val.dropped_outside) == (1, 1, 0)
    assert "test" not in report.splits

    # the zero-face image is a background image: linked, with an empty label file
    bg = out / "labels/train/10--People_Marching/10_People_Marching_People_Marching_2_35.txt"
    assert bg.is_file() and bg.read_text() == ""
    img = out / "images/train/10--People_Marching/10_People_Marching_People_Marching_2_35.jpg"
    assert img.is_symlink() and img.resolve() == (
        root / "WIDER_train/images/10--People_Marching/10_People_Marching_People_Marching_2_35.jpg"
    )
    # 10 8 20 24 on a 64x48 image -> centre (20, 20), size 20x24, normalised
    lab = _labels(out / "labels/train/0--Parade/0_Parade_marchingband_1_849.txt")
    np.testing.assert_allclose(lab, [[0, 20 / IMAGE_W, 20 / IMAGE_H, 20 / IMAGE_W, 24 / IMAGE_H]], atol=1e-6)
    # 40 30 30 30 reaches past 64x48: clipped to 40..64 x 30..48
    lab = _labels(out / "labels/val/0--Parade/0_Parade_Parade_0_275.txt")
    assert len(lab) == 2
    np.testing.assert_allclose(lab[1], [0, 52 / IMAGE_W, 39 / IMAGE_H, 24 / IMAGE_W, 18 / IMAGE_H], atol=1e-6)

    doc = yaml.safe_load((out / "data.yaml").read_text())
    assert doc["path"] == str(out.resolve()) and doc["train"] == "images/train" and doc["val"] == "images/val"
    assert doc["names"] == {0: "face"} and doc["nc"] == 1
    assert doc["widerface_root"] == str(root.resolve())
    assert doc["mertool_prepare"]["train"]["dropped_zero_size"] == 1


def test_data_yaml_is_valid_for_ultralytics(tmp_path):
    root = build_widerface(tmp_path)
    report = prepare_widerface(root, tmp_path / "yolo")
    from mertool.detector import import_ultralytics

    import_ultralytics()
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(report.data_yaml))
    assert data["nc"] == 1 and Path(data["val"]).is_dir() and Path(data["train"]).is_dir()


def test_rerun_replaces_and_refuses_foreign_folder(tmp_path):
    root = build_widerface(tmp_path)
    out = tmp_path / "yolo"
    prepare_widerface(root, out)
    stale = out / "labels/train/stale.txt"
    stale.write_text("0 0.5 0.5 0.1 0.1\n")
    prepare_widerface(root, out, link="copy")
    assert not stale.exists()
    img = out / "images/train/0--Parade/0_Parade_marchingband_1_849.jpg"
    assert img.is_file() and not img.is_symlink()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(MertoolError, match="not an earlier"):
        prepare_widerface(root, foreign)
    assert (foreign / "notes.txt").exists()


def test_yolo_lines_drop_order_and_min_size():
    counts = SplitCounts()
    boxes = np.array([[0, 0, 0, 5], [1, 1, 4, 4], [100, 100, 5, 5], [-4, -4, 8, 8], [10, 10, 2, 9]])
    attrs = np.zeros((5, 6), np.int8)
    attrs[0, 3] = 1  # zero-size and invalid: counted once, as zero-size
    attrs[1, 3] = 1
    lines = yolo_lines(boxes, attrs, 50, 40, counts, min_size=3)
    assert counts.dropped_zero_size == 1 and counts.dropped_invalid == 1
    assert counts.dropped_outside == 1 and counts.dropped_small == 1 and counts.clipped == 2
    assert lines == ["0 0.040000 0.050000 0.080000 0.100000"]  # the box clipped to 0..4 x 0..4


def test_synthetic_set_counts(tmp_path):
    from mertool.detector.synthetic import make_synthetic_wider

    made = make_synthetic_wider(tmp_path / "wider", n_train=6, n_val=3, seed=3)
    report = prepare_widerface(made.root, tmp_path / "yolo")
    train = report.splits["train"]
    assert train.images == 6 and train.boxes_in == made.faces["train"]
    assert train.dropped_zero_size == made.zero_size_boxes["train"] == 1
    assert train.dropped_invalid == made.invalid_boxes["train"] == 1
    assert train.clipped == made.outside_boxes["train"] == 1
    assert train.zero_face_images == made.zero_face_images["train"] == 1
    assert train.boxes_written == made.faces["train"] - 2
    assert report.splits["val"].boxes_written == made.faces["val"]


def test_cli_prepare_json(cli, tmp_path):
    root = build_widerface(tmp_path)
    res = cli("detector", "prepare", root, "-o", tmp_path / "yolo", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["splits"]["train"]["dropped_zero_size"] == 1 and doc["splits"]["val"]["dropped_invalid"] == 1
    res = cli("detector", "prepare", tmp_path / "nowhere", "-o", tmp_path / "y2")
    assert res.exit_code == 2 and "no such folder" in res.stderr
