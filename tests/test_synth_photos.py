"""``mertool synth --photos`` / ``--photo-dir``: which face photos the subjects are made from."""

from __future__ import annotations

import json
import shutil

import pytest

from mertool.store import SampleFile
from mertool.synth import truth as T

TINY = ("--subjects", "2", "--clips-per-subject", "1", "--size", "256x192", "--seed", "11")


def _params(out):
    with SampleFile(out / T.DEFAULT_NAME) as sf:
        return sf.provenance["params"], [i["path"] for i in sf.provenance["inputs"]]


def test_photos_picks_bundled_photos_with_their_mirror_images(cli, tmp_path):
    out = tmp_path / "gh"
    r = cli("synth", out, "--photos", "grace_hopper", *TINY, "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["photos"] == ["grace_hopper"]
    assert sorted(summary["sources"]) == ["grace_hopper", "grace_hopper~mirror"]
    params, inputs = _params(out)
    assert params["photos"] == ["grace_hopper"] and sorted(params["sources"]) == sorted(summary["sources"])
    assert len(inputs) == 1 and inputs[0].endswith("grace_hopper.jpg")


def test_photos_order_does_not_matter_and_default_records_no_photos(tmp_path):
    from mertool.synth.generate import order_sources
    from mertool.synth.sources import load_sources, select_sources

    a = [s.name for s in select_sources(("bus", "astronaut"))]
    b = [s.name for s in select_sources("astronaut,bus")]
    assert a == b == ["astronaut", "astronaut~mirror", "bus", "bus~mirror"]
    assert select_sources() is load_sources()
    # a subset keeps the default's seeded order rule: originals first, then mirror images
    names = [s.name for s in order_sources(select_sources(("astronaut", "zidane", "bus")), 0)]
    assert [n.endswith("~mirror") for n in names] == [False] * 3 + [True] * 3


def test_default_truth_params_have_no_photo_keys(cli, tmp_path):
    out = tmp_path / "all"
    assert cli("synth", out, *TINY).exit_code == 0
    params, _ = _params(out)
    assert "photos" not in params and "photo_dir" not in params and len(params["sources"]) >= 2


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ("--photos", "grace_hoper,bus"),
            ["grace_hoper", "no such bundled photo", "available:", "astronaut", "zidane"],
        ),
        (("--photos", ","), ["names no photo", "available:", "grace_hopper"]),
    ],
)
def test_unknown_photo_names_list_what_is_available(cli, tmp_path, args, words):
    r = cli("synth", tmp_path / "x", *args, *TINY)
    message = " ".join(r.stderr.split())
    assert r.exit_code == 2 and all(w in message for w in words), message
    assert not (tmp_path / "x" / "CASME2").exists()


def test_photo_dir_uses_the_users_faces_and_refuses_folders_without_one(cli, tmp_path):
    from mertool.synth.sources import photo_paths

    mine = tmp_path / "faces"
    mine.mkdir()
    r = cli("synth", tmp_path / "a", "--photo-dir", mine, *TINY)
    message = " ".join(r.stderr.split())
    assert r.exit_code == 2 and str(mine) in message and "empty" in message and "grace_hopper" in message

    (mine / "notes.txt").write_text("no photo here")
    import cv2
    import numpy as np

    cv2.imwrite(str(mine / "wall.png"), np.full((240, 320, 3), 128, np.uint8))
    r = cli("synth", tmp_path / "b", "--photo-dir", mine, *TINY)
    message = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "no usable face" in message and "wall.png" in message, message

    shutil.copy(photo_paths()["grace_hopper"], mine / "me.JPG")
    out = tmp_path / "c"
    r = cli("synth", out, "--photo-dir", mine, *TINY, "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    # wall.png holds no face and is skipped once another photo has one
    assert summary["photos"] == ["me.JPG"] and sorted(summary["sources"]) == ["me.JPG", "me.JPG~mirror"]
    params, inputs = _params(out)
    assert params["photos"] == ["me.JPG"] and params["photo_dir"] == str(mine)
    assert inputs == [str(mine / "me.JPG")]

    both = cli("synth", tmp_path / "d", "--photos", "astronaut", "--photo-dir", mine, *TINY, "--json")
    assert both.exit_code == 0, both.stderr
    assert json.loads(both.stdout)["photos"] == ["astronaut", "me.JPG"]
