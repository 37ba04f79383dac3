"""``detector prepare``: WIDER FACE -> YOLO labels, every dropped box counted, a valid data.yaml;
the checkpoint is chosen on a holdout of WIDER train, and WIDER val is the test split alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures.wider_tree import IMAGE_H, IMAGE_W, build_widerface

from mertool.detector.prepare import SplitCounts, check_selection, holdout_mask, prepare_widerface, yolo_lines
from mertool.errors import MertoolError


def _labels(path: Path) -> np.ndarray:
    return np.loadtxt(path, ndmin=2).reshape(-1, 5)


def _images(out: Path, folder: str) -> set[str]:
    """``event/name.jpg`` of every image prepare placed in ``out/images/<folder>``."""
    base = out / "images" / folder
    return {p.relative_to(base).as_posix() for p in base.rglob("*.jpg")} if base.is_dir() else set()


def _in_train(out: Path, rel: str) -> Path:
    """The label file of a WIDER train image, in ``train`` or in the ``holdout``."""
    found = [out / "labels" / f / rel for f in ("train", "holdout") if (out / "labels" / f / rel).is_file()]
    assert len(found) == 1, rel
    return found[0]


def _total(report, field: str, folders=("train", "holdout")) -> int:
    return sum(getattr(report.splits[f], field) for f in folders)


def test_fixture_tree_counts_and_labels(tmp_path):
    root = build_widerface(tmp_path)
    out = tmp_path / "yolo"
    report = prepare_widerface(root, out)
    val = report.splits["val"]
    # WIDER train's 3 images: 1 held out for checkpoint selection, 2 trained on
    assert (report.splits["train"].images, report.splits["holdout"].images) == (2, 1)
    assert (_total(report, "images"), _total(report, "boxes_in"), _total(report, "boxes_written")) == (
        3,
        3,
        2,
    )
    assert (_total(report, "dropped_zero_size"), _total(report, "zero_face_images")) == (1, 1)
    assert (val.images, val.boxes_in, val.boxes_written) == (2, 4, 3)
    assert (val.dropped_invalid, val.clipped, val.dropped_outside) == (1, 1, 0)
    assert "test" not in report.splits
    assert report.holdout == {"fraction": 0.1, "seed": 0, "by": "image", "images": 1, "events": 1}

    # the zero-face image is a background image: linked, with an empty label file
    bg = _in_train(out, "10--People_Marching/10_People_Marching_People_Marching_2_35.txt")
    assert bg.read_text() == ""
    img = out / "images" / bg.relative_to(out / "labels").with_suffix(".jpg")
    assert img.is_symlink() and img.resolve() == (
        root / "WIDER_train/images/10--People_Marching/10_People_Marching_People_Marching_2_35.jpg"
    )
    # 10 8 20 24 on a 64x48 image -> centre (20, 20), size 20x24, normalised
    lab = _labels(_in_train(out, "0--Parade/0_Parade_marchingband_1_849.txt"))
    np.testing.assert_allclose(lab, [[0, 20 / IMAGE_W, 20 / IMAGE_H, 20 / IMAGE_W, 24 / IMAGE_H]], atol=1e-6)
    # 40 30 30 30 reaches past 64x48: clipped to 40..64 x 30..48
    lab = _labels(out / "labels/val/0--Parade/0_Parade_Parade_0_275.txt")
    assert len(lab) == 2
    np.testing.assert_allclose(lab[1], [0, 52 / IMAGE_W, 39 / IMAGE_H, 24 / IMAGE_W, 18 / IMAGE_H], atol=1e-6)

    doc = yaml.safe_load((out / "data.yaml").read_text())
    assert doc["path"] == str(out.resolve()) and doc["train"] == "images/train"
    # ultralytics chooses best.pt on the holdout; WIDER val is the test split alone
    assert doc["val"] == "images/holdout" and doc["test"] == "images/val"
    assert doc["names"] == {0: "face"} and doc["nc"] == 1
    assert doc["widerface_root"] == str(root.resolve())
    assert doc["mertool_holdout"]["images"] == 1
    assert sum(doc["mertool_prepare"][f]["dropped_zero_size"] for f in ("train", "holdout")) == 1


def test_the_scored_images_are_disjoint_from_the_images_that_choose_the_checkpoint(tmp_path):
    from mertool.detector.synthetic import make_synthetic_wider

    made = make_synthetic_wider(tmp_path / "wider", n_train=30, n_val=5, seed=2)
    out = tmp_path / "yolo"
    report = prepare_widerface(made.root, out)
    train, holdout, test = (_images(out, f) for f in ("train", "holdout", "val"))
    wider_train = {
        p.relative_to(made.root / "WIDER_train/images").as_posix()
        for p in made.root.rglob("WIDER_train/images/*/*.jpg")
    }
    wider_val = {
        p.relative_to(made.root / "WIDER_val/images").as_posix()
        for p in made.root.rglob("WIDER_val/images/*/*.jpg")
    }
    assert holdout and train and not (holdout & train)
    assert holdout | train == wider_train and len(holdout) == 3 == report.holdout["images"]  # 10 % of 30
    # the folders are named by origin; what ultralytics selects on and what eval scores never meet
    sources = {
        f: {p.resolve() for p in (out / "images" / f).rglob("*.jpg")} for f in ("train", "holdout", "val")
    }
    assert not (sources["val"] & (sources["train"] | sources["holdout"]))
    assert (
        {p.relative_to((made.root / "WIDER_val/images").resolve()).as_posix() for p in sources["val"]}
        == wider_val
        == test
    )
    doc = check_selection(report.data_yaml)
    assert (out / doc["val"]).resolve() == (out / "images/holdout").resolve()
    assert (out / doc["test"]).resolve() == (out / "images/val").resolve()

    # the same seed draws the same images; another seed others
    again = prepare_widerface(made.root, out)
    assert _images(out, "holdout") == holdout and again.holdout == report.holdout
    prepare_widerface(made.root, out, holdout_seed=1)
    assert _images(out, "holdout") != holdout


def test_holdout_draw_by_image_and_by_event():
    names = [f"{e}--Ev/{e}_img_{i}.jpg" for e in range(10) for i in range(10)]
    by_image = holdout_mask(names, 0.1, seed=0)
    assert by_image.sum() == 10 and len({names[i].split("/")[0] for i in np.flatnonzero(by_image)}) > 1
    # independent of the listing order
    rev = holdout_mask(names[::-1], 0.1, seed=0)[::-1]
    assert (rev == by_image).all()
    by_event = holdout_mask(names, 0.1, seed=0, by="event")
    held_events = {names[i].split("/")[0] for i in np.flatnonzero(by_event)}
    assert by_event.sum() == 10 and len(held_events) == 1
    assert not any(names[i].split("/")[0] in held_events for i in np.flatnonzero(~by_event))
    with pytest.raises(MertoolError, match="between 0 and 1"):
        holdout_mask(names, 0.0)
    with pytest.raises(MertoolError, match="too few"):
        holdout_mask(names[:1], 0.1)
    with pytest.raises(MertoolError, match="one event folder"):
        holdout_mask(names[:10], 0.1, by="event")


def test_a_missing_train_split_is_an_error_not_a_fallback_to_val(tmp_path):
    import shutil

    root = build_widerface(tmp_path)
    (root / "wider_face_split/wider_face_train_bbx_gt.txt").unlink()
    shutil.rmtree(root / "WIDER_train")
    with pytest.raises(MertoolError, match="no WIDER train split") as exc:
        prepare_widerface(root, tmp_path / "yolo")
    assert "never trained or selected on" in str(exc.value)
    assert not (tmp_path / "yolo" / "data.yaml").exists()


def test_selection_on_the_test_split_is_refused(tmp_path):
    from mertool.detector.evaluate import evaluate
    from mertool.detector.train import train

    root = build_widerface(tmp_path)
    out = tmp_path / "yolo"
    prepare_widerface(root, out)
    doc = yaml.safe_load((out / "data.yaml").read_text())
    # an older prepare's data.yaml: val was WIDER val, the split eval scores
    old = dict(doc, val="images/val")
    old.pop("test")
    old.pop("mertool_holdout")
    (out / "old.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(MertoolError, match="older 'mertool detector prepare'"):
        train(out / "old.yaml", tmp_path / "run", epochs=1)
    # any data.yaml whose val (selection) is its test split
    same = {k: v for k, v in doc.items() if k not in ("mertool_holdout", "mertool_prepare")}
    same["val"] = same["test"] = "images/val"
    (out / "same.yaml").write_text(yaml.safe_dump(same))
    with pytest.raises(MertoolError, match="same folder"):
        check_selection(out / "same.yaml")
    with pytest.raises(MertoolError, match="same folder"):
        evaluate(tmp_path / "none.pt", out / "same.yaml")
    # eval scores the test split only: none, no score
    no_test = {k: v for k, v in doc.items() if k != "test"}
    (out / "no_test.yaml").write_text(yaml.safe_dump(no_test))
    with pytest.raises(MertoolError, match="has no test split"):
        evaluate(tmp_path / "none.pt", out / "no_test.yaml")


def test_data_yaml_is_valid_for_ultralytics(tmp_path):
    root = build_widerface(tmp_path)
    report = prepare_widerface(root, tmp_path / "yolo")
    from mertool.detector import import_ultralytics

    import_ultralytics()
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(report.data_yaml))
    assert data["nc"] == 1 and all(Path(data[k]).is_dir() for k in ("train", "val", "test"))
    assert Path(data["val"]).name == "holdout" and Path(data["test"]).name == "val"


def test_rerun_replaces_and_refuses_foreign_folder(tmp_path):
    root = build_widerface(tmp_path)
    out = tmp_path / "yolo"
    prepare_widerface(root, out)
    stale = out / "labels/train/stale.txt"
    stale.write_text("0 0.5 0.5 0.1 0.1\n")
    prepare_widerface(root, out, link="copy")
    assert not stale.exists()
    img = (
        out
        / "images"
        / _in_train(out, "0--Parade/0_Parade_marchingband_1_849.txt")
        .relative_to(out / "labels")
        .with_suffix(".jpg")
    )
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
    assert report.splits["holdout"].images == 1 and report.splits["train"].images == 5
    assert _total(report, "images") == 6 and _total(report, "boxes_in") == made.faces["train"]
    assert _total(report, "dropped_zero_size") == made.zero_size_boxes["train"] == 1
    assert _total(report, "dropped_invalid") == made.invalid_boxes["train"] == 1
    assert _total(report, "clipped") == made.outside_boxes["train"] == 1
    assert _total(report, "zero_face_images") == made.zero_face_images["train"] == 1
    assert _total(report, "boxes_written") == made.faces["train"] - 2
    assert report.splits["val"].boxes_written == made.faces["val"]


def test_cli_prepare_json(cli, tmp_path):
    root = build_widerface(tmp_path)
    res = cli("detector", "prepare", root, "-o", tmp_path / "yolo", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert sum(doc["splits"][f]["dropped_zero_size"] for f in ("train", "holdout")) == 1
    assert doc["splits"]["val"]["dropped_invalid"] == 1 and doc["roles"]["val"].startswith("test: WIDER val")
    assert doc["holdout"]["images"] == 1
    res = cli(
        "detector", "prepare", root, "-o", tmp_path / "yolo", "--holdout-by", "event", "--holdout", "0.5"
    )
    assert res.exit_code == 0, res.stderr
    assert "holdout: " in res.stdout and "by event" in res.stdout
    res = cli("detector", "prepare", tmp_path / "nowhere", "-o", tmp_path / "y2")
    assert res.exit_code == 2 and "no such folder" in res.stderr
