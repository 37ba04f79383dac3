"""CAS(ME)^3 part A reader on the recipe-7 fixture tree: repeated videos, frame drops, clip release."""

from __future__ import annotations

import json

import pytest
from fixtures.more_trees import CASME3_HEADER, CASME3_ROWS, build_casme3, write_xlsx

from mertool.datasets import open_dataset

SHEET = "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
IDS = ["casme3/spNO.1/j_28", "casme3/spNO.1/j_102", "casme3/spNO.2/b_5"]


@pytest.fixture
def root(tmp_path):
    return build_casme3(tmp_path)


def test_samples_from_full_videos(root):
    r = open_dataset(root)
    assert r.name == "casme3"
    # two MEs of one video (spNO.1, j) get distinct ids from their onsets
    assert [s.id for s in r.samples] == IDS
    assert r.subjects == ["spNO.1", "spNO.2"]
    a, b, c = r.samples
    assert a.frame_numbers == (28, 29, 30) and (a.onset, a.apex, a.offset) == (28, 29, 30)
    assert b.frame_numbers == (102, 103, 105) and (b.onset, b.apex, b.offset) == (102, 103, 105)
    assert c.frame_numbers == (5, 6, 7)
    assert all(p.parent.name == "color" and p.suffix == ".jpg" for s in r.samples for p in s.frames)
    assert a.frames[0].parts[-4:] == ("spNO.1", "j", "color", "28.jpg")
    assert (a.aus, b.aus, c.aus) == (("24",), ("26", "25"), ("4",))
    assert [s.emotion for s in r.samples] == ["happy", "surprise", "others"]  # 'Others' normalised
    assert c.labels == {"native": "others"}
    assert a.extra["objective_class"] == "VII" and a.extra["layout"] == "video" and a.extra["video"] == "j"
    assert a.fps == 30.0
    assert r.class_counts() == {"happy": 1, "others": 1, "surprise": 1}


def test_frame_drop_is_the_only_quirk(root):
    quirks = open_dataset(root).quirks
    assert len(quirks) == 1
    assert (quirks[0].file, quirks[0].row) == (SHEET, 3)
    assert "frame(s) 104 missing inside 102..105 (frame drop)" in quirks[0].message


def test_clip_release_layout_matches_case_insensitively(tmp_path):
    r = open_dataset(build_casme3(tmp_path, layout="clip"))
    assert [s.id for s in r.samples] == IDS
    assert [s.frame_numbers for s in r.samples] == [(28, 29, 30), (102, 103, 105), (5, 6, 7)]
    assert r.samples[0].frames[0].parent.name == "spNo.1_j_28"  # folder spNo, sheet spNO
    assert {s.extra["layout"] for s in r.samples} == {"clip"}
    assert [q.row for q in r.quirks] == [3] and "104 missing" in r.quirks[0].message


def test_row_without_frames_duplicate_and_unknown_emotion(tmp_path):
    root = build_casme3(tmp_path, sp2_frames=False)
    rows = [
        *CASME3_ROWS,
        ["spNO.1", "J", 28, 29, 30, "24", "VII", "happy"],
        ["spNO.1", "j", 29, 29, 30, "1", "I", "joy"],
    ]
    write_xlsx(root / SHEET, [("label", [CASME3_HEADER, *rows])])
    r = open_dataset(root)
    assert [s.id for s in r.samples] == ["casme3/spNO.1/j_28", "casme3/spNO.1/j_102", "casme3/spNO.1/j_29"]
    assert r.samples[2].emotion == "joy" and r.samples[2].frame_numbers == (29, 30)
    msgs = {q.row: q.message for q in r.quirks}
    assert "no frames on disk for spNO.2/b_5" in msgs[4]
    assert "duplicated id casme3/spNO.1/j_28" in msgs[5]
    assert "unknown emotion 'joy'" in msgs[6]


def test_sheet_not_named_label_is_read_with_a_quirk(tmp_path):
    root = build_casme3(tmp_path)
    write_xlsx(root / SHEET, [("Sheet1", [["notes"], [], CASME3_HEADER, *CASME3_ROWS])])  # header moved
    r = open_dataset(root)
    assert [s.id for s in r.samples] == IDS
    assert any("no sheet 'label'" in q.message for q in r.quirks)
    assert r.samples[0].extra["row"] == 4


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["dataset"], info["samples"], info["subjects"]) == ("casme3", 3, 2)
    assert info["classes"] == {"happy": 1, "others": 1, "surprise": 1}
    assert len(info["warnings"]) == 1 and "104 missing" in info["warnings"][0]
