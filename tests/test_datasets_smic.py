"""SMIC readers (HS/VIS/NIR, raw/cropped) and SMIC-E on fixture trees built per DATASETS.md recipe 3."""

from __future__ import annotations

import json

import pytest
from fixtures.mer_trees import SMIC_E_HEADER, build_smic, build_smic_e, write_frames, write_sheet

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


# --- VIS and NIR (DATASETS.md 3.1, 3.3): trees built here, one clip per quirk --------------------------

#: VIS/NIR were recorded for the latter 10 subjects only (s11..s20). Frame names are not
#: documented: HS-style ``image012301.bmp``, a space before the number (``image 012401.bmp``, as
#: MEAN meets in SMIC-E), or the bare number (``012501.bmp``). s14 has only non_micro/.
VIS_NIR_CLIPS = (
    ("s11", "negative", "s11_ne_01", (12301, 12302, 12303), "image{:06d}.bmp"),
    ("s12", "positive", "s12_po_01", (12401, 12402), "image {:06d}.bmp"),
    ("s13", "surprise", "s13_sur_01", (12501, 12502), "{:06d}.bmp"),
)
VIS_NIR_IDS = ["s11/s11_ne_01", "s12/s12_po_01", "s13/s13_sur_01"]


def build_vis_nir(root, bands=("VIS", "NIR"), kinds=("raw", "cropped")):
    """``root/SMIC_all_{raw,cropped}/<band>/...`` for :data:`VIS_NIR_CLIPS`; cropped frames keep the
    raw names for s12/s13 (no ``reg_``), ``reg_`` for s11. Returns ``root``."""
    for kind in kinds:
        for band in bands:
            base = root / f"SMIC_all_{kind}" / band
            for subject, emotion, clip, numbers, pattern in VIS_NIR_CLIPS:
                name = "reg_" + pattern if kind == "cropped" and subject == "s11" else pattern
                write_frames(base / subject / "micro" / emotion / clip, numbers, name)
            write_frames(base / "s14" / "non_micro" / "s14_n1", (13001, 13002), "image{:06d}.bmp")
    return root


@pytest.fixture(scope="module")
def vis_nir(tmp_path_factory):
    base = tmp_path_factory.mktemp("smic_vis_nir")
    return {
        "bands": build_vis_nir(base / "SMIC"),  # VIS and NIR, no HS
        "vis_only": build_vis_nir(base / "VIS_ONLY", bands=("VIS",)),
        "with_hs": build_vis_nir(build_smic(base, name="FULL", vis_nir=False, smic_e=False)),
    }


@pytest.mark.parametrize("band", ["VIS", "NIR"])
@pytest.mark.parametrize("kind", ["raw", "cropped"])
def test_vis_nir_band_folder_is_detected_and_read(vis_nir, band, kind):
    folder = vis_nir["bands"] / f"SMIC_all_{kind}" / band
    name = f"smic-{band.lower()}" + ("-cropped" if kind == "cropped" else "")
    assert detect_dataset(folder) == [name]
    result = open_dataset(folder)
    assert result.name == name and result.root == folder
    assert [s.id for s in result.samples] == [f"smic-{band.lower()}/{i}" for i in VIS_NIR_IDS]
    assert result.subjects == ["s11", "s12", "s13"]  # the latter subjects only; s14 has no micro/
    assert result.quirks == []  # non_micro/ skipped, every naming read
    s = by_id(result)
    for sample in result.samples:
        assert sample.fps == 25.0 and sample.apex is None
        assert sample.extra["variant"] == band + ("-cropped" if kind == "cropped" else "")
    ne, po, sur = (s[f"smic-{band.lower()}/{i}"] for i in VIS_NIR_IDS)
    assert ne.frame_numbers == (12301, 12302, 12303) and (ne.onset, ne.offset) == (12301, 12303)
    assert po.frame_numbers == (12401, 12402) and po.frames[0].name == "image 012401.bmp"
    assert sur.frame_numbers == (12501, 12502) and sur.frames[0].name == "012501.bmp"
    if kind == "cropped":
        assert ne.frames[0].name == "reg_image012301.bmp"
    assert po.labels == {"native": "positive", "megc2019": "positive"}
    attrs = po.to_attrs("native")
    assert attrs["variant"] == po.extra["variant"] and attrs["fps"] == 25.0


def test_vis_nir_auto_detected_where_there_is_no_hs(vis_nir):
    assert detect_dataset(vis_nir["vis_only"]) == ["smic-vis"]
    assert detect_dataset(vis_nir["vis_only"] / "SMIC_all_raw") == ["smic-vis"]
    assert detect_dataset(vis_nir["vis_only"] / "SMIC_all_cropped") == ["smic-vis-cropped"]
    assert open_dataset(vis_nir["vis_only"]).name == "smic-vis"
    # HS beside VIS and NIR: HS is read; the bands by name, from the SMIC root or SMIC_all_raw/
    assert detect_dataset(vis_nir["with_hs"]) == ["smic"]
    assert [s.id for s in open_dataset(vis_nir["with_hs"]).samples] == HS_IDS
    for root in (vis_nir["with_hs"], vis_nir["with_hs"] / "SMIC_all_raw"):
        result = open_dataset(root, "smic-nir")
        assert [s.id for s in result.samples] == [f"smic-nir/{i}" for i in VIS_NIR_IDS]
    assert open_dataset(vis_nir["with_hs"], "smic-vis-cropped").name == "smic-vis-cropped"


def test_vis_and_nir_without_hs_ask_which(vis_nir):
    with pytest.raises(DatasetError) as err:
        open_dataset(vis_nir["bands"])
    assert "matches several datasets: smic-vis (SMIC-VIS), smic-nir (SMIC-NIR)" in err.value.message
    assert err.value.hint == "pick one with --dataset smic-vis or --dataset smic-nir"
    assert open_dataset(vis_nir["bands"], "smic-vis").name == "smic-vis"


def test_band_missing_says_which_bands_there_are(vis_nir):
    with pytest.raises(DatasetError) as err:
        open_dataset(vis_nir["vis_only"], "smic-nir")
    assert "no SMIC NIR folder" in err.value.message
    assert err.value.hint == "this copy has smic-vis, smic-vis-cropped: use --dataset smic-vis"


#: SMIC-E VIS/NIR (DATASETS.md 3.3): ``<band>_long/SMIC-<band>-E/<band>/sNN/<clip>/`` with the
#: workbook in ``<band>_long/``; MEAN meets frame names with a space (``... 559700.jpg``) or the bare
#: number (``559700.jpg``).
SMIC_E_BAND_ROWS = (
    (11, "s11_ne_01", "long clip", 559700, 559705, 559701, 559704, "negative"),
    (12, "s12_sur_01", "long clip", 20, 24, 21, 23, "surprise"),
)


def build_smic_e_band(top, band):
    long_dir = top / f"{band}_long"
    write_sheet(
        long_dir / f"SMIC-{band}-E_annotation.xlsx",
        [SMIC_E_HEADER, *SMIC_E_BAND_ROWS, (None, "Note: frame numbers of the long recordings")],
    )
    clips = long_dir / f"SMIC-{band}-E" / band
    write_frames(clips / "s11" / "s11_ne_01", range(559700, 559706), f"{band}_s11_ne_01 {{}}.jpg")
    write_frames(clips / "s12" / "s12_sur_01", range(20, 25), "{:06d}.jpg")
    return long_dir


@pytest.mark.parametrize("band", ["VIS", "NIR"])
def test_smic_e_vis_nir(tmp_path, band):
    top = tmp_path / "SMIC-E_raw image"
    long_dir = build_smic_e_band(top, band)
    name = f"smic-e-{band.lower()}"
    assert detect_dataset(long_dir) == [name] and detect_dataset(top) == [name]
    result = open_dataset(long_dir)
    assert result.name == name and result.quirks == []
    assert [s.id for s in result.samples] == [f"{name}/s11/s11_ne_01", f"{name}/s12/s12_sur_01"]
    ne, sur = result.samples
    assert (
        ne.frame_numbers == tuple(range(559700, 559706))
        and ne.frames[0].name == f"{band}_s11_ne_01 559700.jpg"
    )
    assert (ne.onset, ne.apex, ne.offset, ne.fps) == (559701, None, 559704, 25.0)
    assert sur.frame_numbers == tuple(range(20, 25)) and sur.extra["variant"] == f"{band}-E"
    assert result.subjects == ["s11", "s12"]


def test_smic_e_bands_side_by_side(tmp_path):
    top = build_smic_e(tmp_path / "SMIC")  # HS_long
    build_smic_e_band(top, "VIS")
    build_smic_e_band(top, "NIR")
    assert detect_dataset(top) == ["smic-e"]  # HS first, as in the recognition release
    assert open_dataset(top, "smic-e-nir").samples[0].id == "smic-e-nir/s11/s11_ne_01"
    bands = tmp_path / "bands"
    for band in ("VIS", "NIR"):
        build_smic_e_band(bands, band)
    with pytest.raises(DatasetError, match="matches several datasets: smic-e-vis"):
        open_dataset(bands)


def test_cli_vis_folder_and_a_folder_above_smic(cli, vis_nir, trees):
    res = cli("datasets", "info", vis_nir["bands"] / "SMIC_all_raw" / "VIS", "--json")
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert (
        info["dataset"] == "smic-vis"
        and info["samples"] == 3
        and info["subject_ids"] == ["s11", "s12", "s13"]
    )
    res = cli("datasets", "info", vis_nir["bands"])
    assert res.exit_code == 2 and "--dataset smic-vis or --dataset smic-nir" in res.stderr
    res = cli("datasets", "info", trees["full"].parent, "--json")  # the folder SMIC/ was unzipped into
    assert res.exit_code == 0 and json.loads(res.stdout)["dataset"] == "smic"
    assert f"found SMIC-HS at {trees['full']}; reading it" in res.stderr
