"""WIDER FACE reader on the recipe-10 fixture tree: records, the zero-face quirk, zero-size and
invalid boxes, missing images, the test file list and the evaluation .mat files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fixtures.wider_tree import TRAIN, VAL, build_widerface

from mertool.datasets import open_dataset
from mertool.datasets.widerface import (
    ATTRIBUTES,
    eval_ground_truth,
    mat_boxes,
    mat_subset,
    parse_bbx_gt,
)
from mertool.errors import DatasetError


@pytest.fixture
def root(tmp_path):
    return build_widerface(tmp_path)


def test_detected_and_samples(root):
    r = open_dataset(root)
    assert r.name == "widerface"
    by_id = {s.id: s for s in r.samples}
    assert len(r.samples) == 6
    assert [s.extra["split"] for s in r.samples].count("train") == 3
    assert [s.extra["split"] for s in r.samples].count("val") == 2
    assert [s.extra["split"] for s in r.samples].count("test") == 1
    assert r.subjects == ["0--Parade", "10--People_Marching"]
    s = by_id["widerface/0--Parade/0_Parade_marchingband_1_849"]
    assert s.subject == "0--Parade" and s.clip == "0_Parade_marchingband_1_849"
    assert s.frames == (root / "WIDER_train/images/0--Parade/0_Parade_marchingband_1_849.jpg",)
    assert s.frame_numbers == (0,)
    assert s.extra["boxes"].tolist() == [[10, 8, 20, 24]]
    assert s.extra["boxes"].dtype == np.int32


def test_trailing_spaces_and_zero_face_quirk(root):
    text = (root / "wider_face_split/wider_face_train_bbx_gt.txt").read_text()
    assert "0 0 0 0 0 0 0 0 0 0 \n" in text  # the fixture keeps WIDER's trailing spaces
    records = parse_bbx_gt(root / "wider_face_split/wider_face_train_bbx_gt.txt")
    assert [rec.path for rec in records] == [n for n, _ in TRAIN]
    assert records[1].boxes.shape == (0, 4)  # the 0-face record: its all-zero line was consumed
    assert records[2].boxes.tolist() == [[4, 4, 16, 16], [30, 10, 0, 12]]  # the next record is intact
    assert records[2].line == 7  # path, count, box, path, 0, zero line, path


def test_zero_face_record_without_its_zero_line(tmp_path):
    root = build_widerface(tmp_path, zero_line=False)
    r = open_dataset(root)
    s = {x.clip: x for x in r.samples}["0_Parade_Parade_0_904"]
    assert s.extra["boxes"].tolist() == [[4, 4, 16, 16], [30, 10, 0, 12]]
    assert any("without the all-zero line" in str(q) for q in r.quirks)


def test_zero_size_and_invalid_boxes_are_kept_but_marked(root):
    r = open_dataset(root)
    by_clip = {s.clip: s for s in r.samples}
    s904 = by_clip["0_Parade_Parade_0_904"]
    assert s904.extra["keep"].tolist() == [True, False]  # w = 0
    s275 = by_clip["0_Parade_Parade_0_275"]
    assert s275.extra["boxes"].shape == (3, 4)
    assert s275.extra["keep"].tolist() == [True, True, False]  # the invalid-flagged box
    quirks = [str(q) for q in r.quirks]
    assert any("w or h <= 0" in q and "wider_face_train_bbx_gt.txt" in q for q in quirks)
    assert any("flagged invalid" in q and "wider_face_val_bbx_gt.txt" in q for q in quirks)


def test_attributes_in_file_order(root):
    r = open_dataset(root)
    s = {x.clip: x for x in r.samples}["10_People_Marching_People_Marching_2_173"]
    attrs = dict(zip(ATTRIBUTES, s.extra["attributes"][0].tolist()))
    assert attrs == {"blur": 2, "expression": 1, "illumination": 1, "invalid": 0, "occlusion": 2, "pose": 1}


def test_test_split_has_no_boxes(root):
    r = open_dataset(root)
    (t,) = [s for s in r.samples if s.extra["split"] == "test"]
    assert t.clip == "0_Parade_Parade_0_1" and t.extra["boxes"] is None


def test_missing_image_is_a_quirk(tmp_path):
    root = build_widerface(tmp_path, missing_image=True)
    r = open_dataset(root)
    assert len(r.samples) == 5
    assert any("0_Parade_marchingband_1_849.jpg missing" in str(q) for q in r.quirks)


def test_missing_split_folder_is_a_quirk(root):
    shutil.rmtree(root / "WIDER_val")
    r = open_dataset(root)
    assert {s.extra["split"] for s in r.samples} == {"train", "test"}
    assert any("WIDER_val/images" in str(q) and "folder missing" in str(q) for q in r.quirks)


def test_malformed_count_names_the_line(root):
    p = root / "wider_face_split/wider_face_train_bbx_gt.txt"
    lines = p.read_text().splitlines()
    lines[1] = "one"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="line 2"):
        open_dataset(root)


def test_crlf_and_no_final_newline(root):
    p = root / "wider_face_split/wider_face_train_bbx_gt.txt"
    p.write_bytes(p.read_text().rstrip("\n").replace("\n", "\r\n").encode())
    records = parse_bbx_gt(p)
    assert [len(rec.boxes) for rec in records] == [1, 0, 2]


def test_eval_mats_match_the_text_annotation(root):
    folder = eval_ground_truth(root)
    assert folder == root / "eval_tools/ground_truth"
    boxes = mat_boxes(folder / "wider_face_val.mat")
    for name, rows in VAL:
        event, stem = name.split("/")[0], name.split("/")[1][:-4]
        assert boxes[(event, stem)].tolist() == [list(r[:4]) for r in rows]
    easy = mat_subset(folder / "wider_easy_val.mat")
    assert easy[("0--Parade", "0_Parade_Parade_0_275")].tolist() == [1]  # 1-based 2 -> 0-based 1
    hard = mat_subset(folder / "wider_hard_val.mat")
    assert hard[("0--Parade", "0_Parade_Parade_0_275")].tolist() == [0, 1]


def test_no_eval_tools(tmp_path):
    root = build_widerface(tmp_path, eval_tools=False)
    assert eval_ground_truth(root) is None


def test_mat_annotation_when_text_file_is_absent(root):
    split = root / "wider_face_split"
    (split / "wider_face_val_bbx_gt.txt").unlink()
    shutil.copy(root / "eval_tools/ground_truth/wider_face_val.mat", split / "wider_face_val.mat")
    r = open_dataset(root)
    s = {x.clip: x for x in r.samples}["0_Parade_Parade_0_275"]
    assert s.extra["split"] == "val"
    assert s.extra["boxes"].tolist() == [[2, 2, 12, 12], [40, 30, 30, 30], [20, 20, 8, 8]]
    assert any("boxes read from this .mat" in str(q) for q in r.quirks)


def test_cli_datasets_info(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert info["dataset"] == "widerface" and info["samples"] == 6 and info["subjects"] == 2
    assert len(info["annotation_files"]) == 3
