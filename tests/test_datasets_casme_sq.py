"""CAS(ME)^2 reader on the recipe-6 fixture tree: header-less sheets, offset 0, micro vs macro."""

from __future__ import annotations

import json

import pytest
from fixtures.more_trees import CASME_SQ_ROWS, build_casme_sq, write_frames

from mertool.datasets import open_dataset
from mertool.errors import DatasetError

BOOK = "CAS(ME)^2code_final.xlsx"


@pytest.fixture
def root(tmp_path):
    return build_casme_sq(tmp_path)


def test_micro_expressions_by_default(root):
    r = open_dataset(root)
    assert r.name == "casme2sq"
    assert [s.id for s in r.samples] == ["casme2sq/s15/disgust1_1", "casme2sq/s16/happy1_1"]
    assert r.subjects == ["s15", "s16"]  # participant 1, 2 -> folders via naming rule 1
    a, b = r.samples
    # offset 0 = not coded: kept unknown (never replaced by the apex); frames onset..apex
    assert (a.onset, a.apex, a.offset) == (1, 3, None)
    assert a.frame_numbers == (1, 2, 3)
    assert [p.name for p in a.frames] == ["img001.jpg", "img002.jpg", "img003.jpg"]
    assert a.frames[0].parent.name == "15_0101disgustingteeth"
    assert (b.onset, b.apex, b.offset) == (1, 2, 3) and b.frame_numbers == (1, 2, 3)
    assert b.frames[0].parent.name == "16_0502funnyerrors"
    assert a.emotion == "negative" and b.emotion == "positive"
    assert a.aus == ("4", "7") and b.aus == ("6", "12")
    assert a.fps == 30.0
    assert a.extra["expression_type"] == "micro" and a.extra["video_code"] == "0101"
    assert b.extra["self_report"] == "happiness"  # the sheet's typo 'happyiness' normalised
    assert "variant" not in a.extra
    assert r.class_counts() == {"negative": 1, "positive": 1}


def test_offset_zero_is_the_only_quirk(root):
    quirks = open_dataset(root).quirks
    assert len(quirks) == 1
    assert (quirks[0].file, quirks[0].row) == (BOOK, 1)
    assert "offset 0 (not coded)" in quirks[0].message and "disgust1_1" in quirks[0].message


def test_all_variant_reads_macro_expressions_too(root):
    r = open_dataset(root, "casme2sq-all")
    assert r.name == "casme2sq-all"
    by_id = {s.id: s for s in r.samples}
    assert sorted(by_id) == ["casme2sq/s15/disgust1_1", "casme2sq/s15/disgust1_2", "casme2sq/s16/happy1_1"]
    macro = by_id["casme2sq/s15/disgust1_2"]
    assert macro.extra["variant"] == "macro" and macro.frame_numbers == (2, 3, 4, 5)
    assert (macro.onset, macro.apex, macro.offset) == (2, 4, 5)
    assert by_id["casme2sq/s16/happy1_1"].to_attrs("native")["variant"] == "micro"


def test_aliases(root):
    assert open_dataset(root, "casme^2").name == "casme2sq"


def test_header_row_unknown_names_and_mismatched_folder(tmp_path):
    rows = [
        *CASME_SQ_ROWS,
        [3, "disgust1_1", 1, 2, 3, "4", "negative", "micro-expression", "disgust"],  # participant 3 unknown
        [1, "anger2_1", 1, 2, 3, "4", "negative", "micro-expression", "anger"],  # video not in rule 2
        [2, "happy1_1", 4, 4, 5, "12", "positive", "micro-expression", "happy"],  # duplicated id
        [2, "happy1_2", 1, 2, 9, "12", "delight", "micro-expression", "happy"],  # unknown emotion, gap
        [1, "disgust1_3", 1, 2, 3, "4", "negative", "spontaneous", "disgust"],  # unknown type
    ]
    root = build_casme_sq(tmp_path, rows=rows, header_row=True)
    r = open_dataset(root)
    assert [s.id for s in r.samples] == [
        "casme2sq/s15/disgust1_1",
        "casme2sq/s16/happy1_1",
        "casme2sq/s16/happy1_2",
    ]
    assert r.samples[2].frame_numbers == (1, 2, 3, 4, 5) and r.samples[2].emotion == "delight"
    msgs = {q.row: q.message for q in r.quirks if q.file == BOOK}
    assert "looks like a header row" in msgs[1]
    assert "offset 0" in msgs[2]
    assert "participant 3 is not in the naming rule 1 sheet" in msgs[5]
    assert "video 'anger2_1' is not in the naming rule 2 sheet" in msgs[6]
    assert "duplicated id casme2sq/s16/happy1_1" in msgs[7]
    assert "neither micro- nor macro-expression" in msgs[9]
    row8 = [q.message for q in r.quirks if q.row == 8]
    assert any("unknown emotion category 'delight'" in m for m in row8)
    assert any("frame(s) 6-9 missing inside 1..9" in m for m in row8)


def test_folder_prefix_mismatch_is_reported(tmp_path):
    root = build_casme_sq(tmp_path)
    old = root / "rawpic" / "s16" / "16_0502funnyerrors"
    for f in old.iterdir():
        f.unlink()
    old.rmdir()
    write_frames(root / "rawpic" / "s16" / "23_0502funnyerrors", [f"img{n:03d}.jpg" for n in range(1, 4)])
    r = open_dataset(root)
    assert [s.id for s in r.samples][-1] == "casme2sq/s16/happy1_1"
    assert any(
        q.file == "rawpic/s16/23_0502funnyerrors" and "does not match its subject folder s16" in q.message
        for q in r.quirks
    )


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["dataset"], info["samples"], info["subjects"]) == ("casme2sq", 2, 2)
    assert info["classes"] == {"negative": 1, "positive": 1}
    assert info["warnings"] == [q for q in info["warnings"] if "offset 0" in q] and len(info["warnings"]) == 1
    res = cli("datasets", "info", root, "--dataset", "casme2sq-all", "--json")
    assert json.loads(res.stdout)["samples"] == 3


def test_workbook_with_too_few_sheets(tmp_path):
    from fixtures.more_trees import write_xlsx

    root = build_casme_sq(tmp_path)
    write_xlsx(root / BOOK, [("only", CASME_SQ_ROWS)])
    with pytest.raises(DatasetError, match=r"1 sheet\(s\).*needs 3"):
        open_dataset(root)


def test_bad_input_is_one_clear_message(cli, root, tmp_path):
    (root / BOOK).write_bytes(b"PK\x03\x04 truncated")  # an xlsx cut short

    def flat(text: str) -> str:  # the console wraps long lines: compare without whitespace
        return "".join(text.split())

    res = cli("datasets", "info", root)
    assert res.exit_code != 0
    err = flat(res.stderr)
    assert flat(str(root / BOOK)) in err and "cannotreadspreadsheet" in err and "whattodo" in err
    assert "Traceback" not in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    for path, fragment in ((tmp_path / "nope", ": no such folder"), (empty, " is empty")):
        res = cli("datasets", "info", path, "--json")
        assert res.exit_code != 0 and flat(f"{path}{fragment}") in flat(res.stderr)
        assert res.stdout == ""
