"""MMEW reader on the recipe-8 fixture tree: AU side letters, emotion folders, Macro_Expression ignored."""

from __future__ import annotations

import json
import shutil

import pytest
from fixtures.more_trees import MMEW_HEADER, MMEW_ROWS, build_mmew, write_frames, write_xlsx

from mertool.datasets import open_dataset
from mertool.datasets.mmew import side_prefix

SHEET = "MMEW_Micro_Exp.xlsx"


@pytest.fixture
def root(tmp_path):
    return build_mmew(tmp_path)


def test_samples(root):
    r = open_dataset(root)
    assert r.name == "mmew"
    assert [s.id for s in r.samples] == ["mmew/S01/S01-01-001", "mmew/S01/S01-02-001", "mmew/S02/S02-07-001"]
    assert r.subjects == ["S01", "S02"]
    for s in r.samples:
        assert s.frame_numbers == (1, 2, 3) and [p.name for p in s.frames] == ["1.jpg", "2.jpg", "3.jpg"]
        assert (s.onset, s.apex, s.offset) == (1, 2, 3) and s.fps == 90.0
    a, b, c = r.samples
    assert a.frames[0].parts[-3:] == ("happiness", "S01-01-001", "1.jpg")
    # side letters as suffix or prefix -> one spelling (prefix); the raw cell kept
    assert (a.aus, b.aus, c.aus) == (("6", "12"), ("L12",), ("R4", "7"))
    assert (a.aus_raw, b.aus_raw, c.aus_raw) == ("6+12", "12L", "4R+7")
    assert [s.emotion for s in r.samples] == ["happiness", "surprise", "others"]
    assert r.class_counts() == {"happiness": 1, "others": 1, "surprise": 1}
    assert r.quirks == []  # Macro_Expression/ is not read and not reported


def test_side_prefix():
    assert [side_prefix(t) for t in ("12L", "4R", "R4", "7", "14r")] == ["L12", "R4", "R4", "7", "R14"]


def test_quirks_wrong_emotion_folder_missing_clip_unlisted_folder_gap(root):
    rows = [
        *MMEW_ROWS,
        [3, "S03-01-001", 1, 2, 3, "12", "happiness", None],  # no folder anywhere
        [3, "S03-02-001", 1, 3, 5, "1+2", "surprise", None],  # folder under fear/, frame 4 missing
        [4, "S05-03-001", 1, 2, 3, "4", "Boredom", "odd"],  # subject/name mismatch, unknown emotion
        [1, "S01-01-001", 1, 2, 3, "6+12", "happiness", None],  # duplicate
    ]
    write_xlsx(root / SHEET, [("Sheet1", [MMEW_HEADER, *rows])])
    write_frames(root / "Micro_Expression" / "fear" / "S03-02-001", ["1.jpg", "2.jpg", "3.jpg", "5.jpg"])
    write_frames(root / "Micro_Expression" / "boredom" / "S05-03-001", ["1.jpg", "2.jpg", "3.jpg"])
    write_frames(root / "Micro_Expression" / "anger" / "S09-09-009", ["1.jpg"])
    (root / "Micro_Expression" / ".DS_Store").write_bytes(b"x")
    r = open_dataset(root)
    assert [s.id for s in r.samples][3:] == ["mmew/S03/S03-02-001", "mmew/S04/S05-03-001"]
    odd = r.samples[4]
    assert odd.emotion == "boredom" and odd.extra["remarks"] == "odd"
    msgs = {}
    for q in r.quirks:
        msgs.setdefault((q.file, q.row), []).append(q.message)
    assert "no frames on disk for S03-01-001" in msgs[(SHEET, 5)][0]
    assert any("under fear/, the sheet says surprise" in m for m in msgs[(SHEET, 6)])
    assert any("frame(s) 4 missing inside 1..5" in m for m in msgs[(SHEET, 6)])
    assert any("does not start with S04-" in m for m in msgs[(SHEET, 7)])
    assert any("unknown emotion 'Boredom'" in m for m in msgs[(SHEET, 7)])
    assert "duplicated id mmew/S01/S01-01-001" in msgs[(SHEET, 8)][0]
    assert msgs[("Micro_Expression/anger/S09-09-009", None)] == [
        f"clip folder has no row in {SHEET}: not read"
    ]
    assert msgs[("Micro_Expression/.DS_Store", None)] == ["stray file (not a clip folder): ignored"]


def test_not_detected_without_micro_expression_folder(root):
    from mertool.datasets.mmew import detect

    assert detect(root)
    shutil.rmtree(root / "Micro_Expression")
    assert not detect(root)


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["dataset"], info["samples"], info["subjects"]) == ("mmew", 3, 2)
    assert info["classes"] == {"happiness": 1, "others": 1, "surprise": 1}
    assert info["warnings"] == []
