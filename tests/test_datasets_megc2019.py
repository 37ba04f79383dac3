"""The MEGC2019 composite: the fixture tree of recipe 11, and the real per-dataset counts.

The counts test feeds Sample lists with the real class counts of DATASETS.md (BOB's 257-row
CASME II export, SAMM's 159 rows, SMIC-HS's 164 clips) through the readers' own label functions
and the composite, and checks 442 = SMIC 164 + CASME II 145 + SAMM 133 over 68 subjects.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from fixtures.mer_trees import MEGC_LIST, build_casme2, build_megc2019, build_samm, build_smic

from mertool.datasets import open_dataset
from mertool.datasets.base import DatasetRead, Sample, detect_dataset
from mertool.datasets.casme2 import casme2_labels
from mertool.datasets.labels import normalise_emotion
from mertool.datasets.megc2019 import compose, list_key
from mertool.datasets.samm import samm_labels
from mertool.datasets.smic import smic_labels


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("megc")
    return {
        "list": build_megc2019(base / "a"),
        "nolist": build_megc2019(base / "b", with_list=False),
        "quirks": build_megc2019(base / "c", quirks=True),
    }


def test_composite_without_list_is_the_union_of_megc_labelled_samples(trees):
    root = trees["nolist"]
    assert detect_dataset(root) == ["megc2019"]
    result = open_dataset(root)
    assert result.name == "megc2019" and result.default_label_map == "megc2019"
    assert [s.id for s in result.samples] == [
        "casme2/sub01/EP02_01f",
        "casme2/sub01/EP19_05f",
        "samm/006/006_1_2",
        "samm/007/007_3_1",
        "smic/s1/s1_ne_01",
        "smic/s1/s1_po_01",
        "smic/s2/s2_sur_01",
    ]
    assert Counter(s.dataset for s in result.samples) == {"casme2": 2, "samm": 2, "smic": 3}
    assert result.subjects == ["006", "007", "s1", "s2", "sub01"]
    assert result.class_counts() == {"negative": 3, "positive": 3, "surprise": 1}
    assert list(result.class_counts()) == ["negative", "positive", "surprise"]  # LABEL_MAPS order
    names = {p.name for p in result.annotation_files}
    assert names == {"CASME2-coding-20140508.xlsx", "SAMM_Micro_FACS_Codes_v2.xlsx"}
    # the parts' quirks are kept, their files prefixed with the part's folder
    assert [str(q) for q in result.quirks] == [
        "CASME2/CASME2-coding-20140508.xlsx, row 4: casme2/sub04/EP12_01f: apex frame is '/' (not a number); "
        "kept as missing",
        "SAMM/SAMM_Micro_FACS_Codes_v2.xlsx, row 16: samm/007/007_3_1: apex frame is blank (not a number); "
        "kept as missing",
    ]


def test_list_restricts_and_maps_smic_and_samm_names(trees):
    result = open_dataset(trees["list"])
    assert [s.id for s in result.samples] == [
        "casme2/sub01/EP02_01f",
        "samm/006/006_1_2",
        "smic/s1/s1_ne_01",  # listed as s01 / s01_ne_01
        "smic/s2/s2_sur_01",
    ]
    assert result.subjects == ["006", "s1", "s2", "sub01"]
    assert result.class_counts() == {"negative": 2, "positive": 1, "surprise": 1}
    assert result.annotation_files[-1].name == MEGC_LIST
    left_out = [str(q) for q in result.quirks if q.file == MEGC_LIST]
    assert left_out == [
        f"{MEGC_LIST}: 1 casme2 sample(s) with a MEGC2019 label are not in the list; left out",
        f"{MEGC_LIST}: 1 samm sample(s) with a MEGC2019 label are not in the list; left out",
        f"{MEGC_LIST}: 1 smic sample(s) with a MEGC2019 label are not in the list; left out",
    ]


def test_list_quirks_name_the_csv_row(trees):
    result = open_dataset(trees["quirks"])
    rows = {q.row: q for q in result.quirks if q.file == MEGC_LIST and q.row is not None}
    assert set(rows) == {6, 7}
    assert "samm 007 007_9_9: matches no sample" in rows[6].message
    assert "casme2/sub01/EP19_05f: the list says surprise" in rows[7].message
    s = {x.id: x for x in result.samples}
    assert s["casme2/sub01/EP19_05f"].labels["megc2019"] == "surprise"  # the list's label is used
    assert s["casme2/sub01/EP19_05f"].labels["native"] == "disgust"
    assert len(result.samples) == 5


def test_parts_found_under_any_folder_names(tmp_path):
    build_casme2(tmp_path, name="casme_ii_copy")
    build_smic(tmp_path, name="smic data", vis_nir=False, smic_e=False)
    assert detect_dataset(tmp_path) == ["megc2019"]
    result = open_dataset(tmp_path)
    assert Counter(s.dataset for s in result.samples) == {"casme2": 2, "smic": 3}
    assert any(q.message.startswith("no samm folder found") for q in result.quirks)
    build_samm(tmp_path, name="z")
    assert Counter(s.dataset for s in open_dataset(tmp_path).samples) == {"casme2": 2, "samm": 2, "smic": 3}


def test_a_single_part_is_not_detected_as_the_composite(tmp_path):
    build_casme2(tmp_path, name="CASME2")
    assert detect_dataset(tmp_path) == []
    assert len(open_dataset(tmp_path, "megc2019").samples) == 2  # by name it still reads


def test_list_key_mapping():
    assert list_key("smic", "s01", "s01_ne_01") == ("smic", "s1", "s1_ne_01")
    assert list_key("samm", "006", "006_1_2") == ("samm", "006", "006_1_2")
    assert list_key("samm", 6, "006_1_2") == ("samm", "006", "006_1_2")
    assert list_key("casme2", "sub01", "EP02_01f") == ("casme2", "sub01", "EP02_01f")
    assert list_key("CASME2", 1, "EP02_01f") == ("casme2", "sub01", "EP02_01f")


def test_cli_info_json(cli, trees):
    res = cli("datasets", "info", trees["list"], "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert {"dataset", "samples", "subjects", "classes", "warnings"} <= set(info)
    assert info["dataset"] == "megc2019" and info["samples"] == 4 and info["subjects"] == 4
    assert info["classes"] == {"negative": 2, "positive": 1, "surprise": 1}
    assert len(info["warnings"]) == 5
    res = cli("datasets", "info", trees["nolist"] / "CASME2", "--json", "--dataset", "casme2")
    assert json.loads(res.stdout)["samples"] == 5


# --- the real counts (DATASETS.md sections 1.4, 1.5, 2.3, 2.4, 3.4, 11) ----------------------------

CASME2_SUBJECT_COUNTS = {
    1: 9, 2: 13, 3: 7, 4: 5, 5: 19, 6: 5, 7: 9, 8: 3, 9: 15, 10: 14, 11: 10, 12: 12, 13: 8,
    14: 4, 15: 3, 16: 4, 17: 36, 18: 3, 19: 16, 20: 11, 21: 2, 22: 2, 23: 12, 24: 11, 25: 7, 26: 17,
}  # fmt: skip
CASME2_EMOTIONS = {
    "others": 99, "disgust": 63, "happiness": 33, "repression": 27, "surprise": 25, "sadness": 8, "fear": 2,
}  # fmt: skip
#: The three rows the MEGC2019 list leaves out although their emotion is kept (DATASETS.md 1.5).
CASME2_EXCLUDED_ROWS = (
    ("sub04", "EP12_01f", "disgust"),
    ("sub05", "EP09_05f", "disgust"),
    ("sub09", "EP02_02f", "happiness"),
)
SAMM_EMOTIONS = {
    "Anger": 57, "Contempt": 12, "Happiness": 26, "Surprise": 15, "Other": 13, "Others": 13, "Disgust": 9,
    "Fear": 8, "Sadness": 6,
}  # fmt: skip
SAMM_SUBJECTS = [
    6,
    7,
    *range(9, 25),
    26,
    28,
    *range(30, 38),
]  # 28 subjects with kept samples; 025: Other only
SMIC_EMOTIONS = {"negative": 70, "positive": 51, "surprise": 43}
SMIC_SUBJECTS = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]


def _sample(dataset: str, subject: str, clip: str, emotion: str | None, labels: dict) -> Sample:
    return Sample(
        id=f"{dataset}/{subject}/{clip}", dataset=dataset, subject=subject, clip=clip, frames=(Path("f.jpg"),),
        frame_numbers=(1,), fps=None, emotion=emotion, labels=labels,
    )  # fmt: skip


def _round_robin(subjects: list[str], emotions: list[str]) -> list[tuple[str, str]]:
    """Deal ``emotions`` to ``subjects`` in turn, so every subject gets one before any gets two."""
    return [(subjects[i % len(subjects)], e) for i, e in enumerate(emotions)]


def casme2_part() -> DatasetRead:
    """257 CASME II samples with BOB's per-subject and per-class counts; sub10/sub18 only excluded classes."""
    kept = ("happiness", "disgust", "repression", "surprise")
    left = Counter(CASME2_EMOTIONS)
    samples = []
    fixed = Counter()
    for subject, clip, emotion in CASME2_EXCLUDED_ROWS:
        samples.append(_sample("casme2", subject, clip, emotion, casme2_labels(subject, clip, emotion)))
        left[emotion] -= 1
        fixed[subject] += 1
    only_excluded = {"sub10": 14, "sub18": 3}  # all their 17 samples from others/sadness/fear
    pool_excluded = [e for e in ("others", "sadness", "fear") for _ in range(left[e])]
    slots: dict[str, list[str]] = {s: [] for s in only_excluded}
    for s, n in only_excluded.items():
        slots[s] = [pool_excluded.pop() for _ in range(n)]
    kept_emotions = [e for e in kept for _ in range(left[e])]
    rest = kept_emotions + pool_excluded
    others = [f"sub{n:02d}" for n in CASME2_SUBJECT_COUNTS if f"sub{n:02d}" not in only_excluded]
    capacity = {s: CASME2_SUBJECT_COUNTS[int(s[3:])] - fixed[s] for s in others}
    order = [s for k in range(max(capacity.values())) for s in others if capacity[s] > k]
    for subject, emotion in zip(order, rest, strict=True):
        slots.setdefault(subject, []).append(emotion)
    for subject, emotions in slots.items():
        for k, emotion in enumerate(emotions):
            clip = f"EP{k:02d}_{k % 7}f"
            samples.append(_sample("casme2", subject, clip, emotion, casme2_labels(subject, clip, emotion)))
    return DatasetRead("casme2", Path("CASME2"), samples)


def samm_part() -> DatasetRead:
    raw = [e for e, n in SAMM_EMOTIONS.items() for _ in range(n)]
    raw.sort(key=lambda e: e.startswith("Other"))  # kept classes dealt first
    subjects = [f"{n:03d}" for n in SAMM_SUBJECTS]
    dealt = _round_robin(subjects, raw[:-3]) + [("025", e) for e in raw[-3:]]
    samples = []
    for k, (subject, emotion_raw) in enumerate(dealt):
        emotion = normalise_emotion(emotion_raw)
        samples.append(_sample("samm", subject, f"{subject}_{k}_1", emotion, samm_labels(emotion)))
    return DatasetRead("samm", Path("SAMM"), samples)


def smic_part() -> DatasetRead:
    emotions = [e for e, n in SMIC_EMOTIONS.items() for _ in range(n)]
    codes = {"negative": "ne", "positive": "po", "surprise": "sur"}
    samples = []
    for k, (subject, emotion) in enumerate(_round_robin([f"s{n}" for n in SMIC_SUBJECTS], emotions)):
        clip = f"{subject}_{codes[emotion]}_{k:02d}"
        samples.append(_sample("smic", subject, clip, emotion, smic_labels(emotion)))
    return DatasetRead("smic", Path("SMIC"), samples)


def test_real_counts_give_442_over_68_subjects():
    parts = [casme2_part(), samm_part(), smic_part()]
    assert [len(p.samples) for p in parts] == [257, 159, 164]
    assert Counter(s.emotion for s in parts[0].samples) == CASME2_EMOTIONS
    assert Counter(s.emotion for s in parts[1].samples)["others"] == 26
    assert len(parts[0].subjects) == 26 and len(parts[1].subjects) == 29

    result = compose(parts, Path("MEGC2019"))
    assert len(result.samples) == 442 and len(result.subjects) == 68
    per = {d: [s for s in result.samples if s.dataset == d] for d in ("casme2", "samm", "smic")}
    counts = {d: Counter(s.labels["megc2019"] for s in v) for d, v in per.items()}
    assert counts["casme2"] == {"positive": 32, "negative": 88, "surprise": 25}
    assert counts["samm"] == {"positive": 26, "negative": 92, "surprise": 15}
    assert counts["smic"] == {"positive": 51, "negative": 70, "surprise": 43}
    assert {d: len({s.subject for s in v}) for d, v in per.items()} == {"casme2": 24, "samm": 28, "smic": 16}
    assert {"sub10", "sub18", "025"}.isdisjoint(result.subjects)
    excluded = {(s.subject, s.clip) for s in per["casme2"]}
    assert not excluded & {(s, c) for s, c, _ in CASME2_EXCLUDED_ROWS}
    assert result.class_counts() == {"negative": 250, "positive": 109, "surprise": 83}


def test_real_counts_through_a_megc_list(tmp_path):
    """The same 442 through an HTNet-style list that spells SMIC ``s01``/``s01_ne_01``."""
    parts = [casme2_part(), samm_part(), smic_part()]
    classes = ["negative", "positive", "surprise"]
    path = tmp_path / MEGC_LIST
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename"])
        for s in compose(parts, tmp_path).samples:
            sub, clip = s.subject, s.clip
            if s.dataset == "smic":
                n = int(sub[1:])
                sub, clip = f"s{n:02d}", f"s{n:02d}" + clip[len(s.subject) :]
            w.writerow(
                [s.dataset, sub, clip, classes.index(s.labels["megc2019"]), "", f"{sub}_{clip}.jpg", ""]
            )
    result = compose(parts, tmp_path, path)
    assert len(result.samples) == 442 and len(result.subjects) == 68
    assert result.quirks == []
    assert result.class_counts() == {"negative": 250, "positive": 109, "surprise": 83}
