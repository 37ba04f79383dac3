"""SMIC readers (HS/VIS/NIR, raw/cropped) and SMIC-E on fixture trees built per DATASETS.md recipe 3."""

from __future__ import annotations

import json

import pytest
from fixtures.mer_trees import build_smic, build_smic_e

from mertool.datasets import open_dataset
from mertool.datasets.base import detect_dataset
from mertool.datasets.smic import clip_name, normalise_smic_emotion, subject_id
from mertool.errors import DatasetError

HS_IDS = ["smic/s1/s1_ne_01", "smic/s1/s1_po_01", "smic/s2/s2_sur_01"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("smic")
    return {
        "full": build_smic(base / "full"),
        "quirks": build_smic(base / "quirks", quirks=True, cropped=False, vis_nir=False),
        "cropped_only": build_smic(base / "cropped", raw=False, vis_nir=False, smic_e=False),
    }


def by_id(result):
    return {s.id: s for s in result.samples}


def test_hs_raw_labels_from_folders_no_apex(trees):
    result = open_dataset(trees["full"])
    assert result.name == "smic" and detect_dataset(trees["full"]) == ["smic"]
    assert [s.id for s in result.samples] == HS_IDS  # non_micro/ skipped
    assert result.subjects == ["s1", "s2"]
    assert result.annotation_files == [] and result.quirks == []
    ne = by_id(result)["smic/s1/s1_ne_01"]
    assert (ne.dataset, ne.subject, ne.clip, ne.fps) == ("smic", "s1", "s1_ne_01", 100.0)
    assert ne.frame_numbers == (101, 102, 103)
    assert [p.name for p in ne.frames] == ["image000101.bmp", "image000102.bmp", "image000103.bmp"]
    assert (ne.onset, ne.apex, ne.offset) == (101, None, 103)  # apex never guessed
    assert ne.extra["variant"] == "HS" and ne.aus == ()
    assert ne.labels == {"native": "negative", "megc2019": "negative"}
    assert by_id(result)["smic/s2/s2_sur_01"].labels == {"native": "surprise", "megc2019": "surprise"}
    assert result.class_counts() == {"negative": 1, "positive": 1, "surprise": 1}
    assert result.class_counts("megc2019") == {"negative": 1, "positive": 1, "surprise": 1}


def test_cropped_variant(trees):
    result = open_dataset(trees["full"], "smic-cropped")
    assert [s.id for s in result.samples] == HS_IDS
    po = by_id(result)["smic/s1/s1_po_01"]
    assert po.frames[0].name == "reg_image000201.bmp" and po.frame_numbers == (201, 202, 203)
    assert po.extra["variant"] == "HS-cropped"
    # a tree with only the cropped release is detected as smic-cropped
    assert detect_dataset(trees["cropped_only"]) == ["smic-cropped"]
    with pytest.raises(DatasetError) as err:
        open_dataset(trees["cropped_only"], "smic")
    assert "--dataset smic-cropped" in err.value.hint


@pytest.mark.parametrize(
    "name, band", [("smic-vis", "VIS"), ("smic-nir", "NIR"), ("smic-nir-cropped", "NIR")]
)
def test_vis_nir_by_dataset_only(trees, name, band):
    result = open_dataset(trees["full"], name)
    assert result.name == name
    (s,) = result.samples
    assert s.id == f"smic-{band.lower()}/s1/s1_ne_01" and s.dataset == f"smic-{band.lower()}"
    assert s.fps == 25.0 and s.frame_numbers == (501, 502) and s.apex is None
    assert s.labels == {"native": "negative", "megc2019": "negative"}


def test_root_may_be_the_raw_or_band_folder(trees):
    raw = trees["full"] / "SMIC_all_raw"
    assert [s.id for s in open_dataset(raw).samples] == HS_IDS
    assert [s.id for s in open_dataset(raw / "HS").samples] == HS_IDS
    assert [s.id for s in open_dataset(raw, "smic-vis").samples] == ["smic-vis/s1/s1_ne_01"]


def test_every_quirk_is_reported(trees):
    result = open_dataset(trees["quirks"])
    assert [s.id for s in result.samples] == [
        "smic/s1/s1_ne_01",
        "smic/s1/s1_po_01",
        "smic/s2/s2_co_01",
        "smic/s2/s2_sur_01",
        "smic/s2/s2_sur_02",
    ]
    q = {x.file: x.message for x in result.quirks}
    hs = "SMIC_all_raw/HS"
    assert "stray" in q[f"{hs}/s1/micro/negative/s1_ne_01/Thumbs.db"]
    assert "duplicated id smic/s1/s1_ne_01" in q[f"{hs}/s1/micro/positive/s1_ne_01"]
    assert "no frames" in q[f"{hs}/s1/micro/positive/s1_po_02"]
    assert "unknown emotion folder 'contempt'" in q[f"{hs}/s2/micro/contempt"]
    assert "frame(s) 313 missing inside 311..314" in q[f"{hs}/s2/micro/surprise/s2_sur_02"]
    assert len(result.quirks) == 5
    co = by_id(result)["smic/s2/s2_co_01"]
    assert co.labels == {"native": "contempt", "megc2019": None}


def test_smic_e_reads_the_long_clip_annotation(trees):
    result = open_dataset(trees["full"], "smic-e")
    assert result.name == "smic-e"
    assert [s.id for s in result.samples] == ["smic-e/s1/s1_ne_01", "smic-e/s2/s2_po_01"]
    assert result.subjects == ["s1", "s2"]
    assert [p.name for p in result.annotation_files] == ["SMIC-HS-E_annotation.xlsx"]
    ne = by_id(result)["smic-e/s1/s1_ne_01"]
    assert ne.frame_numbers == tuple(range(100, 106)) and ne.frames[0].name == "image000100.jpg"
    assert ne.frames[0].parent.parent.name == "s01"  # zero-padded subject folder, unpadded clip
    assert (ne.onset, ne.apex, ne.offset) == (101, None, 104) and ne.extra["first"] == 100
    assert ne.fps == 100.0 and ne.labels == {"native": "negative", "megc2019": "negative"}
    assert result.quirks == []  # the trailing note row (empty Subject) is not data


def test_smic_e_detected_alone_with_quirks_and_2019_apex(tmp_path):
    top = build_smic_e(tmp_path / "SMIC", quirks=True, apex_2019=True)
    assert detect_dataset(top) == ["smic-e"]
    result = open_dataset(top)
    s = by_id(result)
    assert s["smic-e/s1/s1_ne_01"].apex == 103 and s["smic-e/s2/s2_po_01"].apex == 52
    assert [p.name for p in result.annotation_files] == [
        "SMIC-HS-E_annotation.xlsx",
        "SMIC-HS-E_annotation_2019.xlsx",
    ]
    rows = {q.row: q for q in result.quirks if q.row is not None}
    assert set(rows) == {4}
    assert rows[4].file == "HS_long/SMIC-HS-E_annotation.xlsx" and "s3_sur_01" in rows[4].message
    assert any(q.file.endswith("s02/s2_sur_09") and "no row" in q.message for q in result.quirks)


def test_name_normalisation():
    assert subject_id("s01") == subject_id("s1") == subject_id(1) == "s1"
    assert subject_id("x1") is None
    assert clip_name("s01_ne_01") == "s1_ne_01" and clip_name("s12_sur_03") == "s12_sur_03"
    assert normalise_smic_emotion("Negative") == "negative" and normalise_smic_emotion("sur") == "surprise"


def test_cli_info(cli, trees):
    info = json.loads(cli("datasets", "info", trees["full"], "--json").stdout)
    assert info["dataset"] == "smic" and info["samples"] == 3 and info["subjects"] == 2
    assert info["classes"] == {"negative": 1, "positive": 1, "surprise": 1} and info["warnings"] == []
    res = cli("datasets", "info", trees["quirks"], "--json")
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert info["samples"] == 5 and len(info["warnings"]) == 5
    res = cli("datasets", "info", trees["full"], "--dataset", "smic-e", "--json")
    info = json.loads(res.stdout)
    assert info["dataset"] == "smic-e" and info["samples"] == 2 and info["warnings"] == []
    res = cli("datasets", "info", trees["cropped_only"], "--dataset", "smic-vis")
    assert res.exit_code == 2 and "no SMIC VIS folder" in res.stderr
