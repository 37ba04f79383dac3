"""RAF-DB (basic) reader on the recipe-9 fixture tree: label file, aligned/original images, splits."""

from __future__ import annotations

import json

import cv2
import pytest
from fixtures.more_trees import RAFDB_LINES, build_rafdb

from mertool.datasets import open_dataset
from mertool.datasets.labels import LABEL_MAPS

LABEL_FILE = "EmoLabel/list_patition_label.txt"


@pytest.fixture
def root(tmp_path):
    return build_rafdb(tmp_path)


def test_samples_labels_and_splits(root):
    r = open_dataset(root)
    assert r.name == "rafdb" and r.default_label_map == "rafdb-7"
    assert len(r.samples) == 9 and len(r.subjects) == 9
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id)[:2] == ["rafdb/test/test_0001", "rafdb/test/test_0002"]
    # label k of train_0000k is the k-th class of rafdb-7 (1 surprise ... 7 neutral)
    for k in range(1, 8):
        s = by_id[f"rafdb/train/train_{k:05d}"]
        assert s.emotion == LABEL_MAPS["rafdb-7"].classes[k - 1]
        assert s.labels == {"native": s.emotion, "rafdb-7": s.emotion}
        assert s.extra["split"] == "train" and s.subject == f"train_{k:05d}"
    assert by_id["rafdb/test/test_0001"].emotion == "happiness"
    assert by_id["rafdb/test/test_0002"].emotion == "neutral"
    assert by_id["rafdb/test/test_0002"].to_attrs("rafdb-7")["split"] == "test"
    assert r.class_counts() == {
        "anger": 1,
        "disgust": 1,
        "fear": 1,
        "happiness": 2,
        "neutral": 2,
        "sadness": 1,
        "surprise": 1,
    }
    assert r.quirks == []


def test_one_aligned_frame_per_sample(root):
    s = open_dataset(root).samples[0]
    assert s.frame_numbers == (0,) and len(s.frames) == 1
    assert s.frames[0].name == "train_00001_aligned.jpg" and s.frames[0].parent.name == "aligned"
    assert cv2.imread(str(s.frames[0])).shape == (100, 100, 3)
    assert (s.onset, s.apex, s.offset, s.fps) == (None, 0, None, None)
    assert s.extra["variant"] == "aligned"


def test_original_variant(root):
    r = open_dataset(root, "rafdb-original")
    s = r.samples[0]
    assert s.id == "rafdb/train/train_00001"  # same ids as the aligned reader
    assert s.frames[0].name == "train_00001.jpg" and s.frames[0].parent.name == "original"
    assert s.to_attrs("rafdb-7")["variant"] == "original"
    assert len(r.samples) == 9


def test_detected_from_the_folder_above_basic(root):
    assert open_dataset(root.parent).name == "rafdb"


def test_quirks_missing_image_bad_lines_duplicates_strays(tmp_path):
    lines = [*RAFDB_LINES, "train_00009.jpg 9", "garbage", "train_00001.jpg 1", "val_0001.jpg 3"]
    root = build_rafdb(tmp_path, lines=lines, skip_images=["train_00003.jpg"])
    (root / "Image" / "aligned" / "notes.txt").write_text("x")
    r = open_dataset(root)
    assert len(r.samples) == 9  # 9 listed - train_00003 (missing) + val_0001 (unknown split)
    assert "rafdb/unknown/val_0001" in {s.id for s in r.samples}
    msgs = {(q.file, q.row): q.message for q in r.quirks}
    assert "train_00003_aligned.jpg missing: skipped" in msgs[(LABEL_FILE, 3)]
    assert "label 9 is outside 1..7" in msgs[(LABEL_FILE, 10)]
    assert "is not '<image> <label>'" in msgs[(LABEL_FILE, 11)]
    assert "listed twice" in msgs[(LABEL_FILE, 12)]
    assert "neither train nor test" in msgs[(LABEL_FILE, 13)]
    assert msgs[("Image/aligned/notes.txt", None)] == "not an image (stray file): ignored"
    # train_00009 has an image but an invalid label: reported as an image not in the label file
    assert "1 image(s) not in list_patition_label.txt" in msgs[("Image/aligned", None)]


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["dataset"], info["samples"], info["subjects"]) == ("rafdb", 9, 9)
    assert info["label_map"] == "rafdb-7"
    assert sum(info["classes"].values()) == 9 and info["classes"]["happiness"] == 2
    assert info["warnings"] == []
