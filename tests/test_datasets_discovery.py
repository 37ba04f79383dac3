"""A root one or two folders above a dataset (the folder it was unzipped into, ``synth``'s output)
is read through the one dataset below it, for every reader; several datasets below are listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.mer_trees import build_casme2, build_megc2019, build_samm, build_smic, build_smic_e
from fixtures.more_trees import (
    build_casme,
    build_casme3,
    build_casme_sq,
    build_ckplus,
    build_mmew,
    build_rafdb,
)
from fixtures.wider_tree import build_widerface

from mertool.datasets import discovery, open_dataset
from mertool.datasets.base import detect_dataset, resolve_root
from mertool.errors import DatasetError

#: Every builder writes one dataset under the folder it is given and returns the dataset's root.
BUILDERS = {
    "casme2": build_casme2,
    "samm": build_samm,
    "smic": lambda p: build_smic(p, vis_nir=False, smic_e=False),
    "smic-e": lambda p: build_smic_e(p / "SMIC"),
    "megc2019": build_megc2019,
    "casme": build_casme,
    "casme2sq": build_casme_sq,
    "casme3": build_casme3,
    "ckplus": build_ckplus,
    "mmew": build_mmew,
    "rafdb": build_rafdb,
    "widerface": build_widerface,
}


def ids(result):
    return [s.id for s in result.samples]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_reader_is_found_from_the_folder_above(tmp_path, name):
    unzipped = tmp_path / "unzipped"
    root = BUILDERS[name](unzipped)
    direct = open_dataset(root)
    assert direct.name == name
    result = open_dataset(unzipped)
    assert result.name == name and ids(result) == ids(direct)
    assert unzipped in result.root.parents or result.root == unzipped
    # and by name too: --dataset NAME on the folder above
    assert ids(open_dataset(unzipped, name)) == ids(direct)


@pytest.mark.parametrize("name", ["casme2", "samm", "smic"])
def test_two_levels_down_is_found_and_said(tmp_path, name, capsys):
    root = BUILDERS[name](tmp_path / "downloads")  # tmp_path/downloads/<dataset>
    assert detect_dataset(tmp_path) == []
    spec, where = resolve_root(tmp_path)
    assert (spec.name, where) == (name, root)
    result = open_dataset(tmp_path)
    assert result.root == root and result.name == name
    title = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS"}[name]
    assert f"found {title} at {root}; reading it" in capsys.readouterr().err


def test_three_levels_down_is_not_searched(tmp_path):
    build_casme2(tmp_path / "a" / "b" / "c")
    with pytest.raises(
        DatasetError, match="does not look like any supported dataset, nor does any of its subfolders"
    ):
        open_dataset(tmp_path)


def test_a_variant_named_with_dataset_is_found_below(tmp_path):
    root = build_casme2(tmp_path / "unzipped")
    result = open_dataset(tmp_path / "unzipped", "casme2-cropped")
    assert result.name == "casme2-cropped" and result.root == root
    sq = build_casme_sq(tmp_path / "other")
    assert open_dataset(tmp_path / "other", "casme2sq-all").root == sq  # a by---dataset-only variant


def test_several_datasets_below_are_listed_with_their_names(tmp_path, cli):
    casme2 = build_casme2(tmp_path)
    ck = build_ckplus(tmp_path)
    with pytest.raises(DatasetError) as err:
        open_dataset(tmp_path)
    msg = err.value.message
    assert msg.startswith(f"{tmp_path} holds 2 datasets, not one; say which to read:")
    lines = [" ".join(line.split()) for line in msg.splitlines()[1:]]
    assert lines == [f"{casme2} --dataset casme2 (CASME II)", f"{ck} --dataset ckplus (CK+)"]
    assert (
        err.value.hint
        == "give one of those folders as the root, or keep this root and add its --dataset NAME"
    )
    # the names tell them apart: --dataset picks one from the same root
    assert open_dataset(tmp_path, "ckplus").root == ck
    res = cli("datasets", "info", tmp_path)
    assert res.exit_code == 2
    assert str(casme2) in res.stderr and str(ck) in res.stderr and "--dataset ckplus" in res.stderr
    res = cli("datasets", "info", tmp_path, "--dataset", "casme2", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["root"] == str(casme2)


def test_two_copies_of_one_dataset_are_listed_without_the_dataset_hint(tmp_path):
    a = build_ckplus(tmp_path / "copy1")
    b = build_ckplus(tmp_path / "copy2")
    for name in (None, "ckplus"):
        with pytest.raises(DatasetError) as err:
            open_dataset(tmp_path, name)
        assert str(a) in err.value.message and str(b) in err.value.message
        assert err.value.hint == "give one of those folders as the root"


def test_casme2_samm_smic_side_by_side_stay_the_megc2019_composite(tmp_path):
    build_casme2(tmp_path)
    build_samm(tmp_path)
    assert open_dataset(tmp_path).name == "megc2019"


def test_no_dataset_anywhere_keeps_the_clear_errors(tmp_path, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="is empty"):
        open_dataset(empty)
    junk = tmp_path / "junk"
    (junk / "photos" / "2020").mkdir(parents=True)
    (junk / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError) as err:
        open_dataset(junk)
    assert err.value.message == (
        f"{junk} does not look like any supported dataset, nor does any of its subfolders (2 levels)"
    )
    assert "--dataset" in err.value.hint
    res = cli("datasets", "info", junk)
    assert res.exit_code == 2 and "does not look like any supported dataset" in res.stderr
    # a named reader with nothing below reads the root itself and says what it misses there
    with pytest.raises(DatasetError, match="no CASME II coding sheet"):
        open_dataset(junk, "casme2")


def test_the_search_is_bounded(tmp_path):
    wide = tmp_path / "wide"
    for i in range(discovery.MAX_FOLDERS + 5):
        (wide / f"d{i:03d}").mkdir(parents=True)
    with pytest.raises(
        DatasetError, match=f"nor does any of the first {discovery.MAX_FOLDERS} of its subfolders"
    ):
        open_dataset(wide)


def test_datasets_below_skips_hidden_frame_and_recognised_folders(tmp_path):
    for d in ("a/inner", "a/inner2", ".hidden/x", "__MACOSX/x", "frames/sub", "b"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "frames" / "img1.jpg").write_bytes(b"")
    asked: list[str] = []

    def recognise(folder: Path):
        asked.append(folder.relative_to(tmp_path).as_posix())
        return ("x",) if folder.name in ("a", "inner") else ()

    search = discovery.datasets_below(tmp_path, recognise)
    assert [(f.path.name, f.names) for f in search.found] == [("a", ("x",))]
    assert asked == ["a", "b", "frames"]  # not below a/, not into a folder of frames, no hidden ones
    assert not search.cut_short and search.looked_at == 3
    cut = discovery.datasets_below(tmp_path, recognise, limit=2)
    assert cut.cut_short and cut.looked_at == 2


def test_detect_faces_takes_the_folder_above(tmp_path):
    from mertool.stages.detect_faces import raw_jobs

    root = build_casme2(tmp_path / "unzipped")
    jobs, inputs = raw_jobs(tmp_path / "unzipped")
    assert sorted(j.clip.sample_id for j in jobs) == sorted(ids(open_dataset(root)))
