"""CK+ reader on the recipe-4 fixture tree: emotion codes, FACS, landmarks, unlabelled sequences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.more_trees import build_ckplus

from mertool.datasets import open_dataset
from mertool.datasets.ckplus import parse_emotion, parse_facs
from mertool.datasets.labels import LABEL_MAPS


@pytest.fixture
def root(tmp_path):
    return build_ckplus(tmp_path)


def test_one_labelled_sequence_two_subjects(root):
    r = open_dataset(root)
    assert r.name == "ckplus" and r.default_label_map == "ckplus-7"
    assert [s.id for s in r.samples] == ["ckplus/S005/001", "ckplus/S010/002"]
    assert r.subjects == ["S005", "S010"]
    labelled, unlabelled = r.samples
    assert labelled.emotion == "disgust"
    assert labelled.labels == {"native": "disgust", "ckplus-7": "disgust", "ckplus-8": "disgust"}
    # no Emotion file: still a sample (frames, AUs), but no label under any map
    assert unlabelled.emotion is None
    assert unlabelled.labels == {"native": None, "ckplus-7": None, "ckplus-8": None}
    assert r.class_counts() == {"disgust": 1}
    assert r.class_counts("ckplus-8") == {"disgust": 1}
    assert LABEL_MAPS["ckplus-7"].index("disgust") == 2 and LABEL_MAPS["ckplus-8"].index("disgust") == 3


def test_frames_onset_apex_and_aus(root):
    s = open_dataset(root).samples[0]
    assert s.frame_numbers == (1, 2, 3)
    assert [p.name for p in s.frames] == [f"S005_001_{n:08d}.png" for n in (1, 2, 3)]
    # neutral -> peak: onset is the first frame, apex the peak named by the label files, offset unknown
    assert (s.onset, s.apex, s.offset) == (1, 3, None)
    assert s.aus == ("4", "17") and s.aus_raw == "4:0+17:3"
    assert s.fps == 30.0
    landmarks = s.extra["landmark_files"]
    assert [p.name for p in landmarks] == [f"S005_001_{n:08d}_landmarks.txt" for n in (1, 2, 3)]
    assert np.loadtxt(landmarks[0]).shape == (68, 2)


def test_facs_without_image_is_skipped_with_a_quirk(root):
    quirks = open_dataset(root).quirks
    assert len(quirks) == 1
    assert quirks[0].file == "FACS/S011/001/S011_001_00000003_facs.txt"
    assert (
        "cohn-kanade-images/S011/001/S011_001_00000003.png, which does not exist: skipped"
        in quirks[0].message
    )


def test_parsers(tmp_path):
    e = tmp_path / "e.txt"
    e.write_text("   7.0000000e+00\n")
    assert parse_emotion(e) == 7
    f = tmp_path / "f.txt"
    f.write_text("   1.0000000e+00   2.0000000e+00\n\n   2.5000000e+01   0.0000000e+00\n")
    assert parse_facs(f) == [(1, 2), (25, 0)]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("   9.0000000e+00\n", "outside 0..7"),
        ("happy\n", "unreadable emotion file"),
        ("", "unreadable emotion file"),
    ],
)
def test_bad_emotion_file_leaves_the_sequence_unlabelled(tmp_path, text, fragment):
    r = open_dataset(build_ckplus(tmp_path, emotion_code=text))
    assert r.samples[0].emotion is None and r.class_counts() == {}
    q = [q for q in r.quirks if q.file == "Emotion/S005/001/S005_001_00000003_emotion.txt"]
    assert len(q) == 1 and fragment in q[0].message


def test_missing_landmarks_and_stray_files(root):
    (root / "Landmarks" / "S010" / "002" / "S010_002_00000002_landmarks.txt").unlink()
    (root / "cohn-kanade-images" / "S010" / "002" / ".DS_Store").write_bytes(b"x")
    r = open_dataset(root)
    s = r.samples[1]
    assert s.extra["landmark_files"][1] is None and s.extra["landmark_files"][0] is not None
    msgs = {q.file: q.message for q in r.quirks}
    assert msgs["cohn-kanade-images/S010/002"] == "1 of 3 frame(s) have no landmark file"
    assert "not a frame image" in msgs["cohn-kanade-images/S010/002/.DS_Store"]


def test_cli_info_json(cli, root):
    res = cli("datasets", "info", root, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["dataset"], info["samples"], info["subjects"]) == ("ckplus", 2, 2)
    assert info["label_map"] == "ckplus-7"
    assert info["classes"] == {"disgust": 1}
    assert len(info["warnings"]) == 1 and "S011_001_00000003_facs.txt" in info["warnings"][0]
    assert open_dataset(root, "ck+").name == "ckplus"
