"""Protocols: subject independence, validation inside training, k-fold stratification, shards,
and the composite (per-dataset) breakdown of the pooled report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from mertool.errors import MertoolError
from mertool.evaluation.protocols import (
    check_folds,
    loso_folds,
    make_folds,
    parse_protocol,
    sample_groups,
    select_folds,
    stratified_group_kfold,
    validation_split,
)


def _data(seed=0, datasets=("casme2", "samm", "smic"), subjects=5):
    rng = np.random.default_rng(seed)
    ds, subj, ids, labels = [], [], [], []
    for d in datasets:
        for s in range(subjects):
            for c in range(int(rng.integers(1, 7))):
                ds.append(d)
                subj.append(f"s{s}" if d != "smic" else f"{s}")  # same names across datasets on purpose
                ids.append(f"{d}/s{s}/c{c}")
                labels.append(int(rng.integers(0, 3)))
    return ds, subj, ids, np.array(labels)


def test_loso_never_shares_a_subject_and_keys_by_dataset():
    ds, subj, ids, y = _data()
    groups = sample_groups(ds, subj, ids)
    folds = loso_folds(groups)
    g = np.array(groups, dtype=object)
    assert len(folds) == len(set(groups)) == 15  # 's0' of casme2 and samm are different people
    seen = np.zeros(len(ids), bool)
    for f in folds:
        assert not set(g[f.test]) & set(g[f.train])
        assert len(set(g[f.test])) == 1
        assert len(f.test) + len(f.train) == len(ids)
        seen[f.test] = True
    assert seen.all()
    check_folds(folds, groups, len(ids))


def test_sample_without_subject_is_its_own_group():
    groups = sample_groups(["rafdb", "rafdb"], [None, ""], ["rafdb/a", "rafdb/b"])
    assert groups == ["rafdb/rafdb/a", "rafdb/rafdb/b"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_split_is_inside_the_training_subjects(seed):
    ds, subj, ids, y = _data(seed)
    groups = sample_groups(ds, subj, ids)
    g = np.array(groups, dtype=object)
    for f in loso_folds(groups):
        tr, va, vgroups = validation_split(f.train, groups, 3, seed)
        assert len(vgroups) == 3
        assert set(va) <= set(f.train) and set(tr) <= set(f.train)
        assert not set(va) & set(tr) and len(va) + len(tr) == len(f.train)
        assert not set(g[va]) & set(g[f.test]) and not set(g[tr]) & set(g[f.test])
        assert not set(g[va]) & set(g[tr])  # whole subjects


def test_validation_split_keeps_one_training_subject():
    groups = ["a", "a", "b"]
    tr, va, vg = validation_split(np.array([0, 1, 2]), groups, 5, 0)
    assert len(vg) == 1 and len(tr) > 0
    tr, va, vg = validation_split(np.array([0, 1]), groups, 2, 0)
    assert len(va) == 0 and vg == []


def test_kfold_spreads_each_class_evenly_and_keeps_subjects_whole():
    rng = np.random.default_rng(3)
    groups, labels = [], []
    for s in range(20):
        for _ in range(int(rng.integers(2, 8))):
            groups.append(f"d/s{s}")
            labels.append(int(rng.integers(0, 3)))
    y = np.array(labels)
    folds = stratified_group_kfold(groups, y, 5, seed=0)
    check_folds(folds, groups, len(y))
    g = np.array(groups, dtype=object)
    per_fold = np.array([np.bincount(y[f.test], minlength=3) for f in folds])
    biggest = max(np.bincount(y[g == s], minlength=3).max() for s in set(groups))
    for c in range(3):
        assert per_fold[:, c].max() - per_fold[:, c].min() <= biggest  # as even as whole subjects allow
    # deterministic for a seed
    again = stratified_group_kfold(groups, y, 5, seed=0)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again))


def test_kfold_needs_enough_subjects():
    with pytest.raises(MertoolError):
        stratified_group_kfold(["a", "b"], np.array([0, 1]), 5, 0)


def test_parse_protocol():
    assert str(parse_protocol("kfold")) == "kfold:5" and parse_protocol("KFOLD:3").k == 3
    assert parse_protocol("composite").name == "composite"
    with pytest.raises(MertoolError):
        parse_protocol("holdout")


def test_split_protocol_uses_the_dataset_split():
    folds = make_folds(
        parse_protocol("split"), ["a", "b", "c"], np.array([0, 1, 0]), ["train", "test", "train"]
    )
    assert folds[0].test.tolist() == [1] and folds[0].train.tolist() == [0, 2]


def test_shards_partition_the_folds_and_folds_select_by_name():
    ds, subj, ids, y = _data()
    folds = loso_folds(sample_groups(ds, subj, ids))
    shards = [select_folds(folds, shard=f"{i}/4") for i in range(1, 5)]
    names = [f.name for s in shards for f in s]
    assert sorted(names) == sorted(f.name for f in folds) and len(names) == len(set(names))
    picked = select_folds(folds, ["casme2/s1", "samm/s2"])
    assert [f.name for f in picked] == ["casme2/s1", "samm/s2"]
    assert [f.name for f in select_folds(folds, ["3"])] == ["smic/3"]  # bare subject, unambiguous
    with pytest.raises(MertoolError, match="several"):
        select_folds(folds, ["s1"])  # casme2/s1 and samm/s1
    with pytest.raises(MertoolError, match="no fold"):
        select_folds(folds, ["nobody"])
    with pytest.raises(MertoolError):
        select_folds(folds, shard="5/4")
    # names and shard combine
    sub = select_folds(folds, [f.name for f in folds[:6]], shard="1/2")
    assert {f.name for f in sub} <= {f.name for f in folds[:6]}


def test_composite_breakdown_is_the_pooled_predictions_per_dataset(tmp_path):
    """report.build_summary: Full = all pooled; each dataset = pooled restricted to it."""
    from mertool.folds.report import build_summary
    from mertool.folds.results import CONFIG, FOLDS_DIR, PREDICTIONS

    ds, subj, ids, y = _data(4)
    groups = sample_groups(ds, subj, ids)
    folds = loso_folds(groups)
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(y)) < 0.6, y, rng.integers(0, 3, len(y)))
    probs = np.eye(3)[pred] * 0.7 + 0.1
    classes = ["negative", "positive", "surprise"]
    cfg = {"arch": "x", "protocol": "composite", "seed": 0, "options": {}, "fit": {}}
    (tmp_path / CONFIG).write_text(
        json.dumps(
            {
                "identity": {
                    "config": cfg,
                    "classes": classes,
                    "label_map": "megc2019",
                    "folds": [f.name for f in folds],
                    "data": "x",
                }
            }
        )
    )
    for f in folds[:-1]:  # the last fold unfinished
        d = tmp_path / FOLDS_DIR / f.dirname
        d.mkdir(parents=True)
        rec = {
            "fold": f.name,
            "ids": [ids[i] for i in f.test],
            "datasets": [ds[i] for i in f.test],
            "true": y[f.test].tolist(),
            "pred": pred[f.test].tolist(),
            "probs": probs[f.test].tolist(),
        }
        (d / PREDICTIONS).write_text(json.dumps(rec))
    s = build_summary(tmp_path)
    done = np.concatenate([f.test for f in folds[:-1]])
    assert s["folds_missing"] == [folds[-1].name] and not s["complete"]
    assert s["n_samples"] == len(done)
    assert s["uf1"] == pytest.approx(f1_score(y[done], pred[done], average="macro", zero_division=0))
    assert s["uar"] == pytest.approx(recall_score(y[done], pred[done], average="macro", zero_division=0))
    dsa = np.array(ds, dtype=object)
    for name in ("casme2", "samm", "smic"):
        m = done[dsa[done] == name]
        assert s["per_dataset"][name]["uf1"] == pytest.approx(
            f1_score(y[m], pred[m], average="macro", zero_division=0)
        )
        assert s["per_dataset"][name]["n"] == len(m)
    assert len(s["per_fold"]) == len(folds) - 1
