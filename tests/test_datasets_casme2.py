"""CASME II readers (casme2, casme2-cropped) on fixture trees built per DATASETS.md recipe 1."""

from __future__ import annotations

import json
import shutil

import pytest
from fixtures.mer_trees import CASME2_HEADER, CASME2_ROWS, build_casme2, write_frames, write_sheet

from mertool.datasets import open_dataset
from mertool.datasets.base import detect_dataset
from mertool.errors import DatasetError

IDS = [
    "casme2/sub01/EP02_01f",
    "casme2/sub01/EP19_05f",
    "casme2/sub04/EP12_01f",
    "casme2/sub05/EP05_03",
    "casme2/sub05/EP09_05f",
]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("casme2")
    return {
        "plain": build_casme2(base / "plain"),
        "quirks": build_casme2(base / "quirks", quirks=True),
        "cropped_only": build_casme2(base / "cropped_only", raw_dir=None),
    }


def by_id(result):
    return {s.id: s for s in result.samples}


def test_raw_tree_reads_every_row_exactly(trees):
    result = open_dataset(trees["plain"])
    assert result.name == "casme2"
    assert [s.id for s in result.samples] == IDS
    assert result.subjects == ["sub01", "sub04", "sub05"]
    assert [p.name for p in result.annotation_files] == ["CASME2-coding-20140508.xlsx"]
    s = by_id(result)
    first = s["casme2/sub01/EP02_01f"]
    assert (first.dataset, first.subject, first.clip, first.fps) == ("casme2", "sub01", "EP02_01f", 200.0)
    assert first.frame_numbers == (46, 47, 48)
    assert [p.name for p in first.frames] == ["img46.jpg", "img47.jpg", "img48.jpg"]
    assert first.frames[0].parent.parent.name == "sub01"
    assert first.frames[0].parent.parent.parent.name == "CASME2_RAW_selected"
    assert (first.onset, first.apex, first.offset) == (46, 47, 48)
    assert first.aus == ("12",) and first.aus_raw == "12"  # numeric AU cell
    assert first.extra["variant"] == "raw" and first.extra["row"] == 2
    assert s["casme2/sub01/EP19_05f"].aus == ("4", "L10")
    slash = s["casme2/sub04/EP12_01f"]
    assert (slash.onset, slash.apex, slash.offset) == (20, None, 22)  # apex "/" kept missing
    assert s["casme2/sub05/EP05_03"].aus == () and s["casme2/sub05/EP05_03"].aus_raw == "?"
    eq = s["casme2/sub05/EP09_05f"]
    assert (eq.onset, eq.apex, eq.offset) == (69, 69, 71) and eq.aus == ("R2", "15")


def test_labels_under_every_map(trees):
    s = by_id(open_dataset(trees["plain"]))
    assert s["casme2/sub01/EP02_01f"].labels == {
        "native": "happiness",
        "megc2019": "positive",
        "casme2-5": "happiness",
    }
    assert s["casme2/sub01/EP19_05f"].labels == {
        "native": "disgust",
        "megc2019": "negative",
        "casme2-5": "disgust",
    }
    # sub04 EP12_01f and sub05 EP09_05f are the MEGC2019 list's extra exclusions
    assert s["casme2/sub04/EP12_01f"].labels["megc2019"] is None
    assert s["casme2/sub05/EP09_05f"].labels["megc2019"] is None
    assert s["casme2/sub05/EP05_03"].labels == {"native": "others", "megc2019": None, "casme2-5": "others"}
    result = open_dataset(trees["plain"])
    assert result.class_counts("megc2019") == {"negative": 1, "positive": 1}  # recipe: MEGC subset 2
    assert result.class_counts() == {"disgust": 3, "happiness": 1, "others": 1}
    assert result.class_counts("casme2-5") == {"disgust": 3, "happiness": 1, "others": 1}


def test_plain_tree_warns_only_about_the_slash_apex(trees):
    warnings = [str(q) for q in open_dataset(trees["plain"]).quirks]
    assert warnings == [
        "CASME2-coding-20140508.xlsx, row 4: casme2/sub04/EP12_01f: apex frame is '/' (not a number); "
        "kept as missing"
    ]


def test_cropped_reader_reads_reg_frames_and_reports_the_shortcut(trees):
    result = open_dataset(trees["plain"], "casme2-cropped")
    assert result.name == "casme2-cropped"
    assert [s.id for s in result.samples] == IDS  # same ids as the raw frames: the same clips
    first = by_id(result)["casme2/sub01/EP02_01f"]
    assert [p.name for p in first.frames] == ["reg_img46.jpg", "reg_img47.jpg", "reg_img48.jpg"]
    assert first.frame_numbers == (46, 47, 48) and first.extra["variant"] == "cropped"
    stray = [q for q in result.quirks if "Desktop - Shortcut.lnk" in q.file]
    assert len(stray) == 1 and stray[0].file == "Cropped/sub01/Desktop - Shortcut.lnk"
    assert "stray" in stray[0].message


def test_every_quirk_is_reported_with_file_and_row(trees):
    result = open_dataset(trees["quirks"])
    ids = [s.id for s in result.samples]
    assert ids == IDS + ["casme2/sub04/EP01_01", "casme2/sub05/EP13_04f"]  # in sheet order
    rows = {q.row: q for q in result.quirks if q.row is not None}
    assert set(rows) == {4, 7, 8, 9, 10}
    assert all(q.file == "CASME2-coding-20140508.xlsx" for q in rows.values())
    assert "no frames folder CASME2_RAW_selected/sub01/EP99_99" in rows[7].message
    assert "duplicated id casme2/sub01/EP02_01f (first on row 2)" in rows[8].message
    assert "unknown emotion 'confusion'" in rows[9].message
    assert "frame(s) 32 missing inside 30..33" in rows[10].message
    files = {q.file: q.message for q in result.quirks if q.row is None}
    assert "stray" in files["CASME2_RAW_selected/sub01/EP02_01f/Thumbs.db"]
    assert "no row" in files["CASME2_RAW_selected/sub05/EP99_01"]
    assert len(result.quirks) == 7
    unknown = by_id(result)["casme2/sub04/EP01_01"]
    assert unknown.labels == {"native": "confusion", "megc2019": None, "casme2-5": None}
    gap = by_id(result)["casme2/sub05/EP13_04f"]
    assert gap.frame_numbers == (30, 31, 33) and gap.apex == 31


def test_detection_is_unambiguous(trees):
    assert detect_dataset(trees["plain"]) == ["casme2"]  # raw + cropped: casme2 only
    assert detect_dataset(trees["cropped_only"]) == ["casme2-cropped"]
    assert open_dataset(trees["cropped_only"]).name == "casme2-cropped"
    with pytest.raises(DatasetError) as err:
        open_dataset(trees["cropped_only"], "casme2")
    assert "no raw" in err.value.message and "--dataset casme2-cropped" in err.value.hint


def test_old_xls_sheet_and_raw_folder_name(tmp_path):
    root = build_casme2(tmp_path, sheet_name="CASME2_label_Ver_2.xls", raw_dir="CASME2-RAW", cropped_dir=None)
    result = open_dataset(root)
    assert result.name == "casme2" and [s.id for s in result.samples] == IDS
    s = by_id(result)
    assert s["casme2/sub04/EP12_01f"].apex is None
    assert s["casme2/sub01/EP02_01f"].aus == ("12",)  # xls stores 12 as 12.0
    assert result.annotation_files[0].name == "CASME2_label_Ver_2.xls"


def test_moved_header_row_and_columns_still_read(tmp_path):
    order = [8, 0, 1, 4, 3, 5, 7, 2, 6]  # emotion first, apex before onset, blank columns last
    header = [CASME2_HEADER[i] for i in order] + ["Comment"]
    rows = [[r[i] for i in order] + ["x"] for r in CASME2_ROWS]
    root = build_casme2(
        tmp_path, raw_dir="CASME2_RAW_selected", cropped_dir=None, rows=rows,
        header_rows=[("CASME II coding, version 2",), (), header],
    )  # fmt: skip
    result = open_dataset(root)
    s = by_id(result)
    assert [x.id for x in result.samples] == IDS
    assert (s["casme2/sub01/EP02_01f"].onset, s["casme2/sub01/EP02_01f"].apex) == (46, 47)
    assert s["casme2/sub04/EP12_01f"].extra["row"] == 6  # header on sheet row 3, data from row 4
    assert [q.row for q in result.quirks] == [6]


def test_full_clips_are_located_by_number_not_position(tmp_path):
    root = build_casme2(tmp_path, raw_dir="CASME2-RAW", cropped_dir=None)
    clip = root / "CASME2-RAW" / "sub01" / "EP02_01f"
    write_frames(clip, range(1, 46), "img{}.jpg")  # the whole clip from img1, as in CASME2-RAW copies
    first = by_id(open_dataset(root))["casme2/sub01/EP02_01f"]
    assert first.frame_numbers == tuple(range(1, 49))
    at = dict(zip(first.frame_numbers, first.frames))
    assert at[first.onset].name == "img46.jpg" and at[first.apex].name == "img47.jpg"
    assert first.frames[9].name == "img10.jpg"  # sorted numerically, not as text


def test_reading_lists_frames_without_decoding_them(tmp_path):
    """Zero-byte frame files read fine: a root is read from directory listings alone."""
    root = tmp_path / "CASME2"
    rows = [CASME2_HEADER]
    for subject in range(1, 5):
        for k in range(5):
            onset = 100 * k + 1
            rows.append(
                (subject, f"EP{k:02d}_01", None, onset, onset + 40, onset + 80, None, "12", "happiness")
            )
            clip = root / "CASME2_RAW_selected" / f"sub{subject:02d}" / f"EP{k:02d}_01"
            clip.mkdir(parents=True)
            for n in range(onset, onset + 81):
                (clip / f"img{n}.jpg").touch()
    write_sheet(root / "CASME2-coding-20140508.xlsx", rows)
    result = open_dataset(root)
    assert len(result.samples) == 20 and result.quirks == []
    assert all(len(s.frames) == 81 and s.frame_numbers[0] == s.onset for s in result.samples)


def test_missing_sheet_is_a_clear_error(tmp_path):
    root = build_casme2(tmp_path, cropped_dir=None)
    (root / "CASME2-coding-20140508.xlsx").unlink()
    with pytest.raises(DatasetError) as err:
        open_dataset(root, "casme2")
    assert str(root) in err.value.message and "coding sheet" in err.value.message


# --- through the CLI ------------------------------------------------------------------------------


def test_cli_info_json(cli, trees):
    res = cli("datasets", "info", trees["quirks"], "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["dataset"] == "casme2"
    assert info["samples"] == 7 and info["subjects"] == 3
    assert info["classes"] == {"confusion": 1, "disgust": 3, "happiness": 1, "others": 1, "repression": 1}
    assert info["classes_by_label_map"]["megc2019"] == {"negative": 2, "positive": 1}
    assert len(info["warnings"]) == 7
    assert any(w.startswith("CASME2-coding-20140508.xlsx, row 8: duplicated id") for w in info["warnings"])


def test_cli_dataset_override_and_table_output(cli, trees):
    res = cli("datasets", "info", trees["plain"], "--dataset", "casme2-cropped", "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["dataset"] == "casme2-cropped" and info["samples"] == 5
    assert any("Desktop - Shortcut.lnk" in w for w in info["warnings"])
    human = cli("datasets", "info", trees["plain"])
    assert human.exit_code == 0
    assert "5 samples, 3 subjects" in human.stdout and "row 4" in human.stdout


def test_cli_bad_inputs_exit_2_naming_the_path(cli, tmp_path):
    missing = tmp_path / "nope"
    res = cli("datasets", "info", missing)
    assert res.exit_code == 2 and str(missing) in res.stderr and "no such folder" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("datasets", "info", empty)
    assert res.exit_code == 2 and str(empty) in res.stderr and "empty" in res.stderr
    root = build_casme2(tmp_path, cropped_dir=None)
    sheet = root / "CASME2-coding-20140508.xlsx"
    sheet.write_bytes(b"this is not a workbook\x00\x01")
    res = cli("datasets", "info", root)
    assert res.exit_code == 2
    assert str(sheet) in res.stderr.replace("\n", "") and "cannot read" in res.stderr
    assert "what to do" in res.stderr


def test_cli_unknown_layout(cli, tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    res = cli("datasets", "info", tmp_path / "x")
    assert res.exit_code == 2 and "does not look like any supported dataset" in res.stderr
    shutil.rmtree(tmp_path / "x")


def test_unreadable_folder_is_a_clear_error_not_a_traceback(tmp_path, cli, monkeypatch):
    """A PermissionError inside the tree (simulated: tests may run as root) names the path."""
    import os

    from fixtures.mer_trees import build_casme2

    import mertool.datasets.frames as frames

    root = build_casme2(tmp_path / "CASME2")
    clip = str(next((root / "CASME2_RAW_selected").glob("sub*/*")))
    real = os.scandir

    def scandir(path="."):
        if str(path) == clip:
            raise PermissionError(13, "Permission denied", clip)
        return real(path)

    monkeypatch.setattr(frames.os, "scandir", scandir)
    res = cli("datasets", "info", root)
    assert res.exit_code == 2
    assert "permission denied" in res.stderr and clip in res.stderr.replace("\n", "")
