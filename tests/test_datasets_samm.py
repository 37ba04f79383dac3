"""SAMM reader on fixture trees built per DATASETS.md recipe 2 (both header variants)."""

from __future__ import annotations

import json

import pytest
from fixtures.mer_trees import build_samm, write_sheet

from mertool.datasets import open_dataset
from mertool.datasets.base import detect_dataset
from mertool.errors import DatasetError

IDS = ["samm/006/006_1_2", "samm/007/007_3_1", "samm/007/007_6_1"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("samm")
    return {
        "A": build_samm(base / "a", variant="A"),
        "B": build_samm(base / "b", variant="B"),
        "quirks": build_samm(base / "q", variant="A", quirks=True),
    }


def by_id(result):
    return {s.id: s for s in result.samples}


@pytest.mark.parametrize("variant, first_data_row", [("A", 15), ("B", 2)])
def test_both_header_variants_read_the_same(trees, variant, first_data_row):
    result = open_dataset(trees[variant])
    assert result.name == "samm" and detect_dataset(trees[variant]) == ["samm"]
    assert [s.id for s in result.samples] == IDS
    assert result.subjects == ["006", "007"]
    s = by_id(result)
    long = s["samm/006/006_1_2"]
    assert (long.subject, long.clip, long.fps) == ("006", "006_1_2", 200.0)
    assert long.frame_numbers == (5562, 5563, 5564)
    assert [p.name for p in long.frames] == ["006_05562.jpg", "006_05563.jpg", "006_05564.jpg"]  # 5 digits
    assert (long.onset, long.apex, long.offset) == (5562, 5563, 5564)
    assert long.aus == ("R12", "R15") and long.aus_raw == "R12 + R15"
    assert long.extra["row"] == first_data_row
    short = s["samm/007/007_3_1"]
    assert short.frame_numbers == (1001, 1002, 1003) and short.frames[0].name == "007_1001.jpg"  # 4 digits
    assert (short.onset, short.apex, short.offset) == (1001, None, 1003)  # blank apex kept missing
    assert short.aus == ("R14A", "17A") and short.aus_raw == "R14A or 17A"  # intensity letters kept
    assert s["samm/007/007_6_1"].emotion == "others"  # "Other" (A) and "Others" (B)
    assert s["samm/006/006_1_2"].labels == {"native": "anger", "megc2019": "negative"}
    assert s["samm/007/007_3_1"].labels == {"native": "happiness", "megc2019": "positive"}
    assert s["samm/007/007_6_1"].labels == {"native": "others", "megc2019": None}
    assert result.class_counts() == {"anger": 1, "happiness": 1, "others": 1}
    assert result.class_counts("megc2019") == {"negative": 1, "positive": 1}
    assert [str(q) for q in result.quirks] == [
        f"SAMM_Micro_FACS_Codes_v2.xlsx, row {first_data_row + 1}: samm/007/007_3_1: apex frame is blank "
        "(not a number); kept as missing"
    ]


def test_every_quirk_is_reported_with_file_and_row(trees):
    result = open_dataset(trees["quirks"])
    assert [s.id for s in result.samples] == IDS + ["samm/006/006_2_1", "samm/007/007_4_1"]
    rows = {q.row: q.message for q in result.quirks if q.row is not None}
    assert set(rows) == {16, 18, 19, 20, 21}
    assert "no frames folder 007/007_9_9" in rows[18]
    assert "duplicated id samm/006/006_1_2 (first on row 15)" in rows[19]
    assert "unknown emotion 'Confusion'" in rows[20]
    assert "frame(s) 1103 missing inside 1101..1104" in rows[21]
    files = {q.file: q.message for q in result.quirks if q.row is None}
    assert set(files) == {"006/006_1_2/Thumbs.db", "007/007_8_8"}
    assert all(q.file == "SAMM_Micro_FACS_Codes_v2.xlsx" for q in result.quirks if q.row is not None)
    assert by_id(result)["samm/006/006_2_1"].labels == {"native": "confusion", "megc2019": None}


def test_other_sheet_name_and_sheet_in_csv(tmp_path):
    root = build_samm(tmp_path, variant="B", sheet_name="SAMM_20181215_Micro_FACS_Codes_v2.xlsx")
    assert [s.id for s in open_dataset(root).samples] == IDS
    csv_root = build_samm(tmp_path / "csv", variant="B", sheet_name="SAMM_Micro_FACS_Codes_v2.csv")
    result = open_dataset(csv_root)
    assert [s.id for s in result.samples] == IDS
    assert by_id(result)["samm/007/007_3_1"].apex is None


def test_no_header_row_is_a_clear_error(tmp_path):
    root = build_samm(tmp_path, variant="B")
    write_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [("a", "b"), (1, 2)])
    with pytest.raises(DatasetError) as err:
        open_dataset(root)
    assert "SAMM_Micro_FACS_Codes_v2.xlsx" in err.value.message and "no header row" in err.value.message


def test_cli_info_json_both_variants(cli, trees):
    for key, warnings in (("A", 1), ("B", 1), ("quirks", 7)):
        res = cli("datasets", "info", trees[key], "--json")
        assert res.exit_code == 0, res.stderr
        info = json.loads(res.stdout)
        assert info["dataset"] == "samm" and info["subjects"] == 2
        assert info["samples"] == (5 if key == "quirks" else 3)
        assert len(info["warnings"]) == warnings
    info = json.loads(cli("datasets", "info", trees["A"], "--json", "--dataset", "samm").stdout)
    assert info["classes"] == {"anger": 1, "happiness": 1, "others": 1}


def test_cli_corrupt_sheet(cli, tmp_path):
    root = build_samm(tmp_path, variant="A")
    sheet = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    sheet.write_bytes(b"PK\x03\x04 truncated zip")
    res = cli("datasets", "info", root, "--dataset", "samm")
    assert res.exit_code == 2 and str(sheet) in res.stderr.replace("\n", "")
