"""CASME (I) reader on the recipe-5 fixture tree and its quirk variants."""

from __future__ import annotations

import json

import pytest
from fixtures.more_trees import _casme_row, build_casme

from mertool.datasets import open_dataset
from mertool.errors import DatasetError


@pytest.fixture
def root(tmp_path):
    return build_casme(tmp_path)


def test_samples_ids_subjects_and_frames(root):
    r = open_dataset(root)
    assert r.name == "casme"
    assert [s.id for s in r.samples] == ["casme/sub01/EP01_5", "casme/sub08/EP02_1"]
    assert r.subjects == ["sub01", "sub08"]
    a, b = r.samples
    # EP01_5-1.jpg: the frame number is the last integer (1), not the 5 of the clip name
    assert [p.name for p in a.frames] == ["EP01_5-1.jpg", "EP01_5-2.jpg", "EP01_5-3.jpg"]
    assert a.frame_numbers == (1, 2, 3)
    assert [p.name for p in b.frames] == ["img1.jpg", "img2.jpg", "img3.jpg"]
    assert b.frame_numbers == (1, 2, 3)
    assert (a.onset, a.apex, a.offset) == (1, 2, 3)
    assert a.fps == 60.0
    assert a.aus == ("4", "9") and a.aus_raw == "4+9"
    assert b.aus == ("12",) and b.aus_raw == "12"
    assert (a.emotion, b.emotion) == ("disgust", "happiness")
    assert a.labels == {"native": "disgust"}
    assert a.extra["section"] == "A" and b.extra["section"] == "B"
    assert r.class_counts() == {"disgust": 1, "happiness": 1}
    assert sorted(p.name for p in r.annotation_files) == ["Section A.xls", "Section B.xls"]


def test_quirks_ds_store_and_clip_without_row(root):
    warnings = [str(q) for q in open_dataset(root).quirks]
    assert warnings == [
        "CASME_A/Section A/sub01/EP01_5/.DS_Store: .DS_Store (macOS folder metadata): ignored",
        "CASME_B/Section B/sub08/EP03_2: clip folder has no row in Section B.xls: not read "
        "(no emotion or frame numbers)",
    ]


def test_detected_from_the_casme_folder_above_raw(root):
    assert open_dataset(root.parent).name == "casme"  # CASME/ holding RAW/
    assert open_dataset(root, "casme1").name == "casme"  # alias


def test_emotion_from_idx_11_when_no_header(tmp_path):
    r = open_dataset(build_casme(tmp_path, emotion_header=False))
    assert [s.emotion for s in r.samples] == ["disgust", "happiness"]
    fallback = [q for q in r.quirks if "idx 11" in q.message]
    assert [q.file for q in fallback] == [
        "CASME_A/Section A/Section A.xls",
        "CASME_B/Section B/Section B.xls",
    ]


def test_row_quirks_no_frames_gaps_duplicates_unknown_emotion(tmp_path):
    rows = [
        _casme_row(2, "EP05_1", 1, 2, 3, "1", "surprise"),  # no folder on disk
        _casme_row(1, "EP01_5", 1, 2, 3, "4", "disgust"),  # duplicate id
        _casme_row(1, "EP07_2", 10, 11, 13, "?", "comtempt"),  # spelling folded, frames 12 missing
        _casme_row(1, "EP08_1", 1, 2, 3, "4", "boredom"),  # unknown emotion
    ]
    root = build_casme(tmp_path, extra_a_rows=rows, ds_store=False)
    from fixtures.more_trees import write_frames

    sec = root / "CASME_A" / "Section A" / "sub01"
    write_frames(sec / "EP07_2", ["img10.jpg", "img11.jpg", "img13.jpg"])
    write_frames(sec / "EP08_1", ["img1.jpg", "img2.jpg", "img3.jpg"])
    r = open_dataset(root)
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == [
        "casme/sub01/EP01_5",
        "casme/sub01/EP07_2",
        "casme/sub01/EP08_1",
        "casme/sub08/EP02_1",
    ]
    assert by_id["casme/sub01/EP07_2"].emotion == "contempt"
    assert by_id["casme/sub01/EP07_2"].aus == ()
    assert by_id["casme/sub01/EP08_1"].emotion == "boredom"
    sheet = "CASME_A/Section A/Section A.xls"
    rows_q = {(q.row, q.message.split(":")[0]) for q in r.quirks if q.file == sheet}
    msgs = {q.row: q.message for q in r.quirks if q.file == sheet}
    assert set(msgs) == {3, 4, 5, 6}, rows_q
    assert "no frames on disk for sub02/EP05_1" in msgs[3]
    assert "duplicated id casme/sub01/EP01_5" in msgs[4]
    assert "frame(s) 12 missing inside 10..13" in msgs[5]
    assert "unknown emotion 'boredom'" in msgs[6]


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["dataset"] == "casme"
    assert info["samples"] == 2 and info["subjects"] == 2
    assert info["classes"] == {"disgust": 1, "happiness": 1}
    assert len(info["warnings"]) == 2 and ".DS_Store" in info["warnings"][0]


def test_unreadable_xls_is_a_clear_error(cli, root):
    sheet = root / "CASME_A" / "Section A" / "Section A.xls"
    sheet.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(DatasetError, match="Section A.xls"):
        open_dataset(root)
    res = cli("datasets", "info", root)
    assert res.exit_code != 0
    err = "".join(res.stderr.split())  # the console wraps long lines: compare without whitespace
    assert "SectionA/SectionA.xls" in err and "whattodo" in err
