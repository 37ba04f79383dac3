"""Long-video readers (issue 16): CAS(ME)^2, SAMM-LV, SMIC-E and CAS(ME)^3 part A read as whole
recordings with their micro/macro intervals, on fixture trees built here; one test per quirk; and
the synthetic long-video layouts written by ``mertool.synth.long_layouts`` read back exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.mer_trees import SMIC_E_HEADER, build_smic_e, write_sheet
from fixtures.more_trees import (
    CASME3_HEADER,
    CASME3_ROWS,
    CASME_SQ_ROWS,
    build_casme3,
    build_casme_sq,
    write_xlsx,
)
from fixtures.more_trees import write_frames as write_named_frames

from mertool.datasets.long_videos import Expression, long_readers, open_long_videos
from mertool.errors import DatasetError

CASME_BOOK = "CAS(ME)^2code_final.xlsx"
SAMM_BOOK = "SAMM_LongVideos_V3_Release.xlsx"
SAMM_HEADER = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
)
#: Rows 11.. of the SAMM-LV sheet (9 note rows, the header on row 10, as the release has them).
SAMM_ROWS = [
    (6, "006_1_1", 1, 2, 4, 5, 4, "Micro - 1/2", "R12 + R15", None),
    (6, "006_1_2", 1, 6, 8, 11, 6, "Macro", "4+7", "blink nearby"),
    (7, "007_3_1", 3, 2, -1, 5, 4, "Macro", "12", None),  # apex -1: missing
]
SAMM_FIRST_ROW = 11


def rows_by(result, file: str) -> dict[int, list[str]]:
    """Quirk messages of ``file`` by row."""
    out: dict[int, list[str]] = {}
    for q in result.quirks:
        if q.file == file:
            out.setdefault(q.row, []).append(q.message)
    return out


def has_quirk(result, file: str, row: int | None, *words: str) -> bool:
    return any(q.file == file and q.row == row and all(w in q.message for w in words) for q in result.quirks)


# ------------------------------------------------------------------------------------------------
# trees


def build_samm_lv(
    parent: Path,
    rows=SAMM_ROWS,
    header: bool = True,
    book: str = SAMM_BOOK,
    in_labels: bool = False,
    videos: dict[str, range] | None = None,
) -> Path:
    """``parent/SAMM_longvideos/`` with the workbook (9 note rows, header row 10) and the frames
    ``SAMM_longvideos/006_1/006_1_0001.jpg..0012`` and ``007_3/007_3_0001.jpg..0008``."""
    root = parent / "SAMM_longvideos"
    notes = [(f"SAMM long videos, note {k}",) for k in range(1, 10)]
    table = [*notes, SAMM_HEADER, *rows] if header else [*notes, ("(no header)",), *rows]
    write_sheet((root / "labels" if in_labels else root) / book, table)
    for video, numbers in (videos or {"006_1": range(1, 13), "007_3": range(1, 9)}).items():
        write_named_frames(root / "SAMM_longvideos" / video, [f"{video}_{n:04d}.jpg" for n in numbers])
    return root


def casme_sq(tmp: Path, *extra_rows) -> Path:
    return build_casme_sq(tmp, rows=[*CASME_SQ_ROWS, *extra_rows])


MAE_BOOK = "annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx"
ME_BOOK = "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
MAE_HEADER = ["sub", "seq", "onset", "apex", "offset", "emotion"]  # as shipped (a reader renames them)
MAE_ROWS = [["spNO.1", "J", 40, 45, 60, "happy"], ["spNO.2", "b", 1, 2, 4, "disgust"]]


def casme3(
    tmp: Path, me_rows=CASME3_ROWS, mae_rows=MAE_ROWS, mae_header=MAE_HEADER, mae: bool = True
) -> Path:
    """Recipe 7 plus the MaE sheet; spNO.1/j has frames 28-30, 40-60 and 102-105 (104 dropped)."""
    root = build_casme3(tmp)
    color = root / "data" / "part_A_split" / "part_A" / "spNO.1" / "j" / "color"
    write_named_frames(color, [f"{n}.jpg" for n in range(40, 61)])
    write_named_frames(
        root / "data" / "part_A_split" / "part_A" / "spNO.2" / "b" / "color", ["1.jpg", "2.jpg"]
    )
    write_xlsx(root / ME_BOOK, [("label", [CASME3_HEADER, *me_rows])])
    if mae:
        write_xlsx(root / MAE_BOOK, [("Sheet1", [mae_header, *mae_rows])])
    return root


# ------------------------------------------------------------------------------------------------
# the registry


def test_every_release_is_registered():
    names = set(long_readers())
    assert {
        "casme2sq-long",
        "samm-long",
        "smic-e-long",
        "smic-e-vis-long",
        "smic-e-nir-long",
        "casme3-long",
    } <= names


@pytest.mark.parametrize("release", ["casme2sq", "samm", "smic-e", "casme3"])
def test_found_from_one_folder_above(tmp_path, release):
    """``open_long_videos`` given the folder the release was unpacked into finds it."""
    above = tmp_path / "data"
    expected = {
        "casme2sq": ("casme2sq-long", "CASME_sq", lambda: build_casme_sq(above)),
        "samm": ("samm-long", "SAMM_longvideos", lambda: build_samm_lv(above)),
        "smic-e": ("smic-e-long", "SMIC-E_raw image", lambda: build_smic_e(above)),
        "casme3": ("casme3-long", "part_A", lambda: casme3(above)),
    }[release]
    name, folder, build = expected
    build()
    r = open_long_videos(above)
    assert (r.name, r.root) == (name, above / folder)
    assert r.videos and all(v.frame_numbers == tuple(sorted(v.frame_numbers)) for v in r.videos)
    assert open_long_videos(above, name).name == name


def test_unknown_name_and_no_release(tmp_path):
    with pytest.raises(DatasetError, match="unknown long-video dataset"):
        open_long_videos(tmp_path, "nope")
    (tmp_path / "x").mkdir()
    with pytest.raises(DatasetError, match="holds no long-video release"):
        open_long_videos(tmp_path)


# ------------------------------------------------------------------------------------------------
# CAS(ME)^2


def test_casme_sq_videos_and_intervals(tmp_path):
    r = open_long_videos(build_casme_sq(tmp_path))
    assert r.name == "casme2sq-long"
    assert [v.id for v in r.videos] == [
        "casme2sq/s15/15_0101disgustingteeth",
        "casme2sq/s16/16_0502funnyerrors",
    ]
    a, b = r.videos
    assert (a.dataset, a.subject, a.video, a.fps) == ("casme2sq", "s15", "15_0101disgustingteeth", 30.0)
    assert a.frame_numbers == (1, 2, 3, 4, 5) and a.frames[0].name == "img001.jpg"
    assert a.expressions == (
        # offset 0 (not coded): the apex is the offset
        Expression(1, 3, "micro", 3, "negative", "4+7", "disgust1_1"),
        Expression(2, 5, "macro", 4, "positive", "12", "disgust1_2"),
    )
    assert b.expressions == (Expression(1, 3, "micro", 2, "positive", "6+12", "happy1_1"),)
    assert b.extra["self_reports"] == {"happy1_1": "happiness"}  # the typo happyiness
    assert a.extra["video_code"] == "0101" and a.extra["video_name"] == "disgust1"
    assert r.info()["micro"] == 2 and r.info()["macro"] == 1
    assert [str(q) for q in r.quirks] == [
        f"{CASME_BOOK}, row 1: s15/disgust1_1: offset 0 (not coded): the apex 3 is used as the offset"
    ]


@pytest.mark.parametrize(
    "row, words",
    [
        (
            [1, "disgust1_3", 2, "/", 4, "4", "negative", "micro-expression", "x"],
            ["apex '/'", "kept missing"],
        ),
        ([1, "disgust1_3", 4, 3, 2, "4", "negative", "micro-expression", "x"], ["offset 2 before onset 4"]),
        ([1, "disgust1_3", 2, 0, 0, "4", "negative", "macro-expression", "x"], ["offset 0", "no apex"]),
        ([2, "disgust1_1", 1, 2, 3, "4", "negative", "micro-expression", "x"], ["no video folder", "s16"]),
        ([1, "disgust1_3", 1, 2, 3, "4", "negative", "spontaneous", "x"], ["neither micro- nor macro"]),
        ([3, "disgust1_3", 1, 2, 3, "4", "negative", "micro-expression", "x"], ["participant 3", "rule 1"]),
        ([1, "anger2_1", 1, 2, 3, "4", "negative", "micro-expression", "x"], ["'anger2_1'", "rule 2"]),
        ([1, "disgust1_1", 1, 2, 3, "4", "negative", "micro-expression", "x"], ["repeats an earlier row"]),
        ([1, "disgust1_3", 1, 2, 3, "4", "delight", "micro-expression", "x"], ["unknown emotion category"]),
        (
            [1, "disgust1_3", 50, 55, 60, "4", "negative", "macro-expression", "x"],
            ["none of the frames 50..60"],
        ),
        ([1, "disgust1_3", 4, 5, 8, "4", "negative", "macro-expression", "x"], ["frame(s) 6-8 missing"]),
    ],
    ids=[
        "apex-slash",
        "offset-before-onset",
        "offset-and-apex-zero",
        "no-video-folder",
        "unknown-type",
        "participant-not-in-rule-1",
        "video-not-in-rule-2",
        "repeated-row",
        "unknown-emotion",
        "interval-outside-the-video",
        "frames-missing-inside",
    ],
)
def test_casme_sq_row_quirks(tmp_path, row, words):
    r = open_long_videos(casme_sq(tmp_path, row))
    assert has_quirk(r, CASME_BOOK, 4, *words), [str(q) for q in r.quirks]
    assert len(r.videos) == 2 and r.info()["micro"] + r.info()["macro"] >= 3  # the other rows still read


def test_casme_sq_kept_or_skipped_per_quirk(tmp_path):
    r = open_long_videos(
        casme_sq(
            tmp_path,
            [1, "disgust1_3", 2, "/", 4, "4", "negative", "micro-expression", "x"],  # kept, no apex
            [1, "disgust1_4", 4, 5, 8, "4", "negative", "macro-expression", "x"],  # kept, frames 6-8 absent
            [1, "disgust1_5", 4, 3, 2, "4", "negative", "micro-expression", "x"],  # skipped
        )
    )
    names = {e.name: e for e in r.videos[0].expressions}
    assert names["disgust1_3"] == Expression(2, 4, "micro", None, "negative", "4", "disgust1_3")
    assert names["disgust1_4"].offset == 8 and "disgust1_5" not in names


def test_casme_sq_folder_without_rows_stray_file_and_mismatched_prefix(tmp_path):
    root = build_casme_sq(tmp_path)
    write_named_frames(root / "rawpic" / "s15" / "15_0401angryvideo", ["img001.jpg", "img002.jpg"])
    (root / "rawpic" / "s15" / "15_0101disgustingteeth" / "Thumbs.db").write_bytes(b"\0")
    write_named_frames(root / "rawpic" / "s16" / "23_0102otherfolder", ["img001.jpg"])
    (root / "rawpic" / "s16" / "notes").mkdir()
    r = open_long_videos(root)
    by_id = {v.id: v for v in r.videos}
    assert by_id["casme2sq/s15/15_0401angryvideo"].expressions == ()
    assert has_quirk(r, "rawpic/s15/15_0401angryvideo", None, "read with no expression")
    assert has_quirk(r, "rawpic/s15/15_0101disgustingteeth", None, "Thumbs.db", "ignored")
    assert has_quirk(r, "rawpic/s16/23_0102otherfolder", None, "does not match its subject folder s16")
    assert has_quirk(r, "rawpic/s16/notes", None, "not a video folder")
    assert by_id["casme2sq/s15/15_0101disgustingteeth"].frame_numbers == (1, 2, 3, 4, 5)


def test_casme_sq_video_folder_without_frames(tmp_path):
    root = build_casme_sq(tmp_path)
    shutil.rmtree(root / "rawpic" / "s16" / "16_0502funnyerrors")
    (root / "rawpic" / "s16" / "16_0502funnyerrors").mkdir()
    r = open_long_videos(root)
    assert [v.subject for v in r.videos] == ["s15"]
    assert has_quirk(r, "rawpic/s16/16_0502funnyerrors", None, "no frame images", "1 expression(s) not read")


def test_casme_sq_unreadable_workbook_then_the_next(tmp_path):
    root = build_casme_sq(tmp_path)
    bad = root / "CAS(ME)^2code_final(Updated).xlsx"  # tried first
    bad.write_bytes(b"PK\x03\x04 cut short")
    r = open_long_videos(root)
    assert len(r.videos) == 2 and r.annotation_files == [root / CASME_BOOK]
    assert has_quirk(r, bad.name, None, "cannot read this code sheet")


def test_casme_sq_no_readable_workbook_is_an_error(tmp_path):
    root = build_casme_sq(tmp_path)
    (root / CASME_BOOK).write_bytes(b"not a workbook")
    with pytest.raises(DatasetError, match="no readable CAS\\(ME\\)\\^2 long video") as err:
        open_long_videos(root)
    assert CASME_BOOK in err.value.hint and "cannot read" in err.value.hint


# ------------------------------------------------------------------------------------------------
# SAMM long videos


def test_samm_lv_videos_and_intervals(tmp_path):
    r = open_long_videos(build_samm_lv(tmp_path))
    assert r.name == "samm-long"
    assert [v.id for v in r.videos] == ["samm-lv/006/006_1", "samm-lv/007/007_3"]
    a, b = r.videos
    assert (a.subject, a.video, a.fps, a.dataset) == ("006", "006_1", 200.0, "samm-lv")
    assert a.frame_numbers == tuple(range(1, 13)) and a.frames[0].name == "006_1_0001.jpg"
    assert a.expressions == (
        Expression(2, 5, "micro", 4, None, "R12 + R15", "006_1_1"),  # the release has no emotion
        Expression(6, 11, "macro", 8, None, "4+7", "006_1_2"),
    )
    assert b.expressions == (Expression(2, 5, "macro", None, None, "12", "007_3_1"),)
    assert [str(q) for q in r.quirks] == [
        f"{SAMM_BOOK}, row {SAMM_FIRST_ROW + 2}: 007_3_1: apex -1 (not coded): kept missing"
    ]
    assert r.annotation_files == [tmp_path / "SAMM_longvideos" / SAMM_BOOK]


def test_samm_lv_without_header_row_reads_by_position(tmp_path):
    r = open_long_videos(build_samm_lv(tmp_path, header=False))
    assert [len(v.expressions) for v in r.videos] == [2, 1]
    assert has_quirk(r, SAMM_BOOK, None, "no header row", "by position")


def test_samm_lv_sheet_in_labels_and_older_versions(tmp_path):
    root = build_samm_lv(tmp_path, in_labels=True)
    write_sheet(root / "labels" / "SAMM_LongVideos_V1_Release.xlsx", [SAMM_HEADER])
    r = open_long_videos(tmp_path)
    assert r.annotation_files == [root / "labels" / SAMM_BOOK]
    assert has_quirk(r, "labels/SAMM_LongVideos_V1_Release.xlsx", None, f"{SAMM_BOOK} was read")
    assert len(r.videos) == 2


@pytest.mark.parametrize(
    "row, words",
    [
        ((6, "006_1_3", 1, 3, 4, "", None, "Micro - 1/2", "4", None), ["offset blank", "apex 4 is used"]),
        ((6, "006_1_3", 1, 3, -1, -1, None, "Micro - 1/2", "4", None), ["offset -1", "no apex", "skipped"]),
        ((6, "006_1_3", 1, 9, "/", 4, None, "Macro", "4", None), ["offset 4 before onset 9"]),
        ((6, "006_1_3", 1, 3, "/", 4, None, "Macro", "4", None), ["apex '/'", "kept missing"]),
        ((6, "006_1_3", 1, 3, 4, 5, None, "Blink", "4", None), ["Type 'Blink'", "neither micro nor macro"]),
        ((8, "008_2_1", 2, 3, 4, 5, None, "Macro", "4", None), ["no video folder", "008_2"]),
        ((6, "six_1_1", 1, 3, 4, 5, None, "Macro", "4", None), ["Filename 'six_1_1'"]),
        ((6, "006_1_1", 1, 2, 4, 5, None, "Micro - 1/2", "4", None), ["repeats an earlier micro row"]),
        ((6, "006_1_3", 1, 3, 4, 99, None, "Macro", "4", None), ["frame(s) 13-99 missing"]),
        ((6, "006_1_3", 1, 50, 60, 70, None, "Macro", "4", None), ["none of the frames 50..70"]),
        ((7, "006_1_3", 1, 3, 4, 5, None, "Macro", "4", None), ["Subject 7 but Filename 006_1_3"]),
    ],
    ids=[
        "offset-blank",
        "offset-and-apex-missing",
        "offset-before-onset",
        "apex-slash",
        "unknown-type",
        "no-video-folder",
        "bad-filename",
        "repeated-row",
        "frames-missing-inside",
        "interval-outside-the-video",
        "subject-disagrees",
    ],
)
def test_samm_lv_row_quirks(tmp_path, row, words):
    r = open_long_videos(build_samm_lv(tmp_path, rows=[*SAMM_ROWS, row]))
    assert has_quirk(r, SAMM_BOOK, SAMM_FIRST_ROW + 3, *words), [str(q) for q in r.quirks]
    assert len(r.videos) == 2 and r.info()["micro"] + r.info()["macro"] >= 3


def test_samm_lv_folder_without_rows_cropped_copy_and_numbers(tmp_path):
    root = build_samm_lv(tmp_path, rows=[*SAMM_ROWS, (9, "9_4_1", 4, 2, 3, 4, 3, "MICRO", "4", None)])
    write_named_frames(
        root / "SAMM_longvideos" / "009_4", ["009_4_0002.jpg", "009_4_0007.jpg", "009_4_0004.jpg"]
    )
    write_named_frames(root / "SAMM_longvideos" / "010_1", ["010_1_0001.jpg"])
    write_named_frames(root / "cropped_SAMM_longvideos" / "006_1", ["006_1_0001.jpg"])
    r = open_long_videos(root)
    by_id = {v.id: v for v in r.videos}
    v = by_id["samm-lv/009/009_4"]  # "9_4_1" finds the folder 009_4 by number
    assert v.frame_numbers == (2, 4, 7) and [p.name for p in v.frames][0] == "009_4_0002.jpg"
    assert v.expressions == (Expression(2, 4, "micro", 3, None, "4", "9_4_1"),)
    assert has_quirk(r, SAMM_BOOK, SAMM_FIRST_ROW + 3, "frame(s) 3 missing inside 2..4")
    assert by_id["samm-lv/010/010_1"].expressions == ()
    assert has_quirk(r, "SAMM_longvideos/010_1", None, "read with no expression")
    assert has_quirk(r, "cropped_SAMM_longvideos", None, "SAMM_longvideos was read")


def test_samm_lv_unreadable_sheet_is_an_error_naming_it(tmp_path):
    root = build_samm_lv(tmp_path)
    (root / SAMM_BOOK).write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DatasetError, match="no readable SAMM long video") as err:
        open_long_videos(root)
    assert SAMM_BOOK in err.value.hint and "cannot read" in err.value.hint


def test_samm_lv_without_video_folders_is_an_error(tmp_path):
    root = build_samm_lv(tmp_path)
    shutil.rmtree(root / "SAMM_longvideos")
    with pytest.raises(DatasetError, match="no readable SAMM long video") as err:
        open_long_videos(root)
    assert "no video folder on disk" in err.value.hint


# ------------------------------------------------------------------------------------------------
# SMIC-E


def test_smic_e_one_micro_expression_per_long_clip(tmp_path):
    r = open_long_videos(build_smic_e(tmp_path))
    assert r.name == "smic-e-long" and r.quirks == []
    assert [v.id for v in r.videos] == ["smic-e/s1/s1_ne_01", "smic-e/s2/s2_po_01"]
    a, b = r.videos
    assert (a.subject, a.video, a.fps, a.dataset) == ("s1", "s1_ne_01", 100.0, "smic-e")
    assert a.frame_numbers == tuple(range(100, 106)) and a.frames[0].name == "image000100.jpg"
    assert a.expressions == (Expression(101, 104, "micro", None, "negative", None, "s1_ne_01"),)
    assert b.expressions == (Expression(51, 53, "micro", None, "positive", None, "s2_po_01"),)
    assert a.extra["annotated"] == ("micro",)


def test_smic_e_2019_apex_and_reader_quirks_pass_through(tmp_path):
    top = build_smic_e(tmp_path, quirks=True, apex_2019=True)
    r = open_long_videos(top)
    assert r.videos[0].expressions[0].apex == 103
    book = "HS_long/SMIC-HS-E_annotation.xlsx"
    assert has_quirk(r, book, 4, "no clip folder s3_sur_01")  # read_smic_e's own quirk
    assert has_quirk(r, "HS_long/SMIC-HS-E/HS/s02/s2_sur_09", None, "no row")


@pytest.mark.parametrize(
    "row, words",
    [
        ((1, "s1_ne_01", "c", 100, 105, 103, 101, "negative"), ["offset 101 before onset 103"]),
        ((1, "s1_ne_01", "c", 100, 105, 101, None, "negative"), ["offset blank and no apex"]),
        ((1, "s1_ne_01", "c", 100, 105, 200, 210, "negative"), ["long clip not read", "not in its frames"]),
    ],
    ids=["offset-before-onset", "no-offset", "interval-outside-the-clip"],
)
def test_smic_e_clip_without_interval_is_left_out(tmp_path, row, words):
    top = build_smic_e(tmp_path)
    rows = [SMIC_E_HEADER, row, (2, "s2_po_01", "long clip", 50, 54, 51, 53, "positive")]
    write_sheet(top / "HS_long" / "SMIC-HS-E_annotation.xlsx", rows)
    r = open_long_videos(top)
    assert [v.id for v in r.videos] == ["smic-e/s2/s2_po_01"]
    assert has_quirk(r, "HS_long/SMIC-HS-E_annotation.xlsx", 2, *words), [str(q) for q in r.quirks]


@pytest.mark.parametrize("band", ["VIS", "NIR"])
def test_smic_e_vis_nir_readers(tmp_path, band):
    long_dir = tmp_path / f"{band}_long"
    write_sheet(
        long_dir / f"SMIC-{band}-E_annotation.xlsx",
        [SMIC_E_HEADER, (11, "s11_ne_01", "long clip", 10, 15, 11, 14, "negative")],
    )
    write_named_frames(
        long_dir / f"SMIC-{band}-E" / band / "s11" / "s11_ne_01",
        [f"image {n:06d}.jpg" for n in range(10, 16)],
    )
    r = open_long_videos(long_dir)
    name = f"smic-e-{band.lower()}-long"
    assert (
        r.name == name
        and r.videos[0].fps == 25.0
        and r.videos[0].id == f"smic-e-{band.lower()}/s11/s11_ne_01"
    )
    assert r.videos[0].expressions == (Expression(11, 14, "micro", None, "negative", None, "s11_ne_01"),)


def test_smic_e_unreadable_sheet_is_an_error_naming_it(tmp_path):
    top = build_smic_e(tmp_path)
    (top / "HS_long" / "SMIC-HS-E_annotation.xlsx").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DatasetError, match="no readable SMIC-E HS long video") as err:
        open_long_videos(top)
    assert "HS_long/SMIC-HS-E_annotation.xlsx" in err.value.hint


# ------------------------------------------------------------------------------------------------
# CAS(ME)^3 part A


def test_casme3_full_videos_with_micro_and_macro(tmp_path):
    r = open_long_videos(casme3(tmp_path))
    assert r.name == "casme3-long"
    assert [v.id for v in r.videos] == ["casme3/spNO.1/j", "casme3/spNO.2/b"]
    j, b = r.videos
    assert (j.subject, j.video, j.fps, j.dataset) == ("spNO.1", "j", 30.0, "casme3")
    assert j.frame_numbers == (28, 29, 30, *range(40, 61), 102, 103, 105)
    assert j.frames[0].parts[-4:] == ("spNO.1", "j", "color", "28.jpg")
    assert j.expressions == (
        Expression(28, 30, "micro", 29, "happy", "24", "j_28"),
        Expression(40, 60, "macro", 45, "happy", None, "j_40"),  # MaE Filename "J": case folded
        Expression(102, 105, "micro", 103, "surprise", "26+25", "j_102"),
    )
    assert b.expressions == (
        Expression(1, 4, "macro", 2, "disgust", None, "b_1"),
        Expression(5, 7, "micro", 6, "others", "4", "b_5"),
    )
    assert j.extra["annotated"] == ("micro", "macro")
    assert r.annotation_files == [tmp_path / "part_A" / ME_BOOK, tmp_path / "part_A" / MAE_BOOK]
    assert has_quirk(r, ME_BOOK, 3, "frame(s) 104 missing inside 102..105")
    assert has_quirk(r, MAE_BOOK, 3, "frame(s) 3-4 missing inside 1..4")
    assert len(r.quirks) == 2


def test_casme3_mae_sheet_with_the_me_headers(tmp_path):
    r = open_long_videos(
        casme3(tmp_path, mae_header=["Subject", "Filename", "Onset", "Apex", "Offset", "emotion"])
    )
    assert r.info()["macro"] == 2


def test_casme3_without_mae_sheet_is_micro_only(tmp_path):
    r = open_long_videos(casme3(tmp_path, mae=False))
    assert r.info()["macro"] == 0 and r.info()["micro"] == 3
    assert all(v.extra["annotated"] == ("micro",) for v in r.videos)
    assert has_quirk(r, "annotation", None, "no MaE sheet", "macro-expressions not annotated")


def test_casme3_unreadable_mae_sheet(tmp_path):
    root = casme3(tmp_path)
    (root / MAE_BOOK).write_bytes(b"PK\x03\x04 cut short")
    r = open_long_videos(root)
    assert r.info()["macro"] == 0 and r.videos[0].extra["annotated"] == ("micro",)
    assert has_quirk(r, MAE_BOOK, None, "cannot read this MaE sheet")


@pytest.mark.parametrize(
    "row, words",
    [
        (["spNO.3", "c", 1, 2, 3, "4", "I", "happy"], ["no folder", "spNO.3/c/color", "not read"]),
        (["spNO.1", "j", 28, "/", 30, "4", "I", "happy"], ["apex '/'", "kept missing"]),
        (["spNO.1", "j", 30, 29, 28, "4", "I", "happy"], ["offset 28 before onset 30"]),
        (["spNO.1", None, 28, 29, 30, "4", "I", "happy"], ["row without Subject/Filename"]),
        (["spNO.1", "j", 28, 29, 30, "4", "I", "happy"], ["repeats an earlier micro row"]),
        (["spNO.1", "j", 41, 42, 43, "4", "I", "joy"], ["unknown emotion 'joy'"]),
    ],
    ids=[
        "no-video-folder",
        "apex-slash",
        "offset-before-onset",
        "no-filename",
        "repeated-row",
        "unknown-emotion",
    ],
)
def test_casme3_row_quirks(tmp_path, row, words):
    r = open_long_videos(casme3(tmp_path, me_rows=[*CASME3_ROWS, row]))
    assert has_quirk(r, ME_BOOK, 5, *words), [str(q) for q in r.quirks]
    assert len(r.videos) == 2


def test_casme3_unannotated_video_folders_are_counted(tmp_path):
    root = casme3(tmp_path)
    base = root / "data" / "part_A_split" / "part_A"
    write_named_frames(base / "spNO.2" / "z" / "color", ["1.jpg"])
    r = open_long_videos(root)
    assert len(r.videos) == 2
    assert has_quirk(
        r, "data/part_A_split/part_A", None, "1 video folder(s) with no annotated expression", "spNO.2/z"
    )


def test_casme3_clip_release_only_is_an_error(tmp_path):
    root = build_casme3(tmp_path, layout="clip")
    with pytest.raises(DatasetError, match="no readable CAS\\(ME\\)\\^3 part A long video") as err:
        open_long_videos(root)
    assert "per-ME clip release is not read" in err.value.hint


# ------------------------------------------------------------------------------------------------
# synthetic long videos: what mertool.synth.long_layouts writes, the readers read back


def write_synthetic(layout: str, out: Path, rows) -> Path:
    """Tiny grey JPEG frames at ``frame_path`` for every row, then the annotation; returns the release folder."""
    import cv2
    import numpy as np

    from mertool.synth import long_layouts as L

    root = out / L.ROOT_NAMES[layout]
    for r in rows:
        for n in range(r.first_frame, r.first_frame + r.n_frames):
            path = L.frame_path(layout, root, r.subject_number, r.video_index, n)
            path.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(path), np.full((8, 8), 100 + n % 50, np.uint8))
    written = L.write_annotation(layout, root, rows)
    assert all(p.is_file() and p.parent == root for p in written)
    return root


def synthetic_rows(layout: str):
    from mertool.synth.long_layouts import LongVideoRow

    if layout == "casme2sq-long":
        first, second, labels = (15, 1), (19, 5), ("positive", "negative", "surprise")
    else:
        first, second, labels = (6, 1), (9, 4), ("happiness", "anger", "surprise")
    return [
        LongVideoRow(
            *first,
            first_frame=1,
            n_frames=60,
            expressions=(
                Expression(30, 52, "macro", 40, labels[1], "4+7"),
                Expression(5, 9, "micro", 7, labels[0], "12"),
                Expression(12, 15, "micro", 13, labels[2]),
            ),
        ),
        LongVideoRow(
            *second,
            first_frame=1200,
            n_frames=40,
            expressions=(Expression(1210, 1230, "macro", 1220, labels[0]),),
        ),
    ]


@pytest.mark.parametrize("layout", ["casme2sq-long", "samm-long"])
def test_synthetic_layout_round_trip(tmp_path, layout):
    from mertool.synth import long_layouts as L

    rows = synthetic_rows(layout)
    root = write_synthetic(layout, tmp_path, rows)
    r = open_long_videos(tmp_path)  # found one folder above the release
    assert r.name == layout and r.root == root and r.quirks == []
    assert len(r.videos) == len(rows)
    for row, video in zip(rows, r.videos):
        assert video.frame_numbers == tuple(range(row.first_frame, row.first_frame + row.n_frames))
        assert video.frames[0] == L.frame_path(
            layout, root, row.subject_number, row.video_index, row.first_frame
        )
        assert video.frames[0].parent == L.video_dir(layout, root, row.subject_number, row.video_index)
        assert video.fps == L.default_fps(layout)
        got = [(e.onset, e.apex, e.offset, e.kind, e.label, e.aus) for e in video.expressions]
        want = sorted((e.onset, e.apex, e.offset, e.kind, e.label, e.aus) for e in row.expressions)
        assert got == want
    subjects = [v.subject for v in r.videos]
    assert subjects == (["s15", "s19"] if layout == "casme2sq-long" else ["006", "009"])


def test_synthetic_names_and_missing_apex(tmp_path):
    from mertool.synth.long_layouts import LongVideoRow

    rows = [
        LongVideoRow(16, 2, 1, 20, (Expression(3, 6, "micro", None, "others"), Expression(8, 9, "micro", 9)))
    ]
    r = open_long_videos(write_synthetic("casme2sq-long", tmp_path, rows))
    (video,) = r.videos
    assert video.id == "casme2sq/s16/16_0102eatingworms"
    assert [(e.name, e.apex, e.label) for e in video.expressions] == [
        ("disgust2_1", None, "others"),
        ("disgust2_2", 9, None),
    ]
    assert [q.row for q in r.quirks] == [1] and "apex 0 (not coded)" in r.quirks[0].message
    rows = [LongVideoRow(6, 3, 1, 20, (Expression(3, 6, "macro", None, None),))]
    r = open_long_videos(write_synthetic("samm-long", tmp_path / "s", rows))
    assert r.videos[0].expressions == (Expression(3, 6, "macro", None, None, None, "006_3_1"),)
    assert "apex -1 (not coded)" in r.quirks[0].message


def test_synthetic_layouts_are_reproducible_and_check_their_input(tmp_path):
    from mertool.errors import MertoolError
    from mertool.synth import long_layouts as L

    rows = synthetic_rows("samm-long")
    a = L.write_annotation("samm-long", tmp_path / "a", rows)[0].read_bytes()
    b = L.write_annotation("samm-long", tmp_path / "b", list(reversed(rows)))[0].read_bytes()
    assert a == b
    assert L.frame_path("samm-long", tmp_path, 6, 1, 12345).name == "006_1_12345.jpg"
    assert L.frame_path("casme2sq-long", tmp_path, 40, 9, 7).relative_to(tmp_path).as_posix() == (
        "rawpic/s40/40_0508funnydance/img007.jpg"
    )
    assert not (tmp_path / "rawpic").exists()  # paths only: nothing created
    with pytest.raises(MertoolError, match="unknown long layout"):
        L.default_fps("casme2")
    bad = L.LongVideoRow(6, 1, 10, 5, (Expression(8, 12, "micro"),))
    with pytest.raises(ValueError, match="outside video"):
        L.write_annotation("samm-long", tmp_path, [bad])
    with pytest.raises(ValueError, match="given twice"):
        L.write_annotation("samm-long", tmp_path, [rows[0], rows[0]])
