"""mertool compare: paired t-test over common folds, degenerate cases, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from mertool.errors import MertoolError
from mertool.evaluation.compare import compare_runs, paired_test


def _summary(path, per_fold, pooled=0.5, data="abc"):
    path.mkdir(parents=True, exist_ok=True)
    s = {
        "arch": path.name,
        "options": {},
        "protocol": "loso",
        "uf1": pooled,
        "uar": pooled,
        "accuracy": pooled,
        "data_fingerprint": data,
        "per_fold": [{"fold": f, "uf1": v, "uar": v, "accuracy": v} for f, v in per_fold.items()],
    }
    (path / "summary.json").write_text(json.dumps(s))
    return path


def test_paired_test_equals_scipy():
    rng = np.random.default_rng(0)
    a = rng.random(12)
    b = a + rng.normal(0.05, 0.1, 12)
    res = paired_test(a.tolist(), b.tolist())
    ref = stats.ttest_rel(b, a)
    assert res["p"] == pytest.approx(ref.pvalue) and res["t"] == pytest.approx(ref.statistic)
    assert res["mean_diff"] == pytest.approx((b - a).mean()) and res["n"] == 12


def test_degenerate_cases_are_explicit():
    same = paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same["p"] == 1.0 and same["t"] == 0.0 and "identical" in same["note"]
    shifted = paired_test([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert shifted["p"] == 0.0 and shifted["t"] == np.inf and "zero variance" in shifted["note"]
    one = paired_test([0.5], [0.7])
    assert one["p"] is None and "fewer than two" in one["note"]


def test_compare_runs_pairs_common_folds_only(tmp_path):
    rng = np.random.default_rng(1)
    folds = [f"casme2/sub{i:02d}" for i in range(10)]
    va = {f: float(v) for f, v in zip(folds, rng.random(10))}
    vb = {f: min(1.0, v + 0.1 + 0.05 * rng.standard_normal()) for f, v in va.items()}
    vb.pop(folds[0])  # B did not finish one fold
    vb["casme2/extra"] = 0.9
    a = _summary(tmp_path / "a", va)
    b = _summary(tmp_path / "b", vb)
    res = compare_runs(a, b)
    assert res["common_folds"] == 9 and res["only_a"] == [folds[0]] and res["only_b"] == ["casme2/extra"]
    common = folds[1:]
    ref = stats.ttest_rel([vb[f] for f in common], [va[f] for f in common])
    assert res["tests"]["uf1"]["p"] == pytest.approx(ref.pvalue)
    assert res["tests"]["uf1"]["n"] == 9


def test_compare_refuses_unrelated_runs(tmp_path):
    a = _summary(tmp_path / "a", {"x": 0.1, "y": 0.2})
    b = _summary(tmp_path / "b", {"z": 0.1})
    with pytest.raises(MertoolError, match="no fold in common"):
        compare_runs(a, b)
    with pytest.raises(MertoolError, match="summary.json"):
        compare_runs(tmp_path / "a", tmp_path / "nothing")


def test_compare_cli(tmp_path, cli):
    a = _summary(tmp_path / "a", {"f1": 0.4, "f2": 0.5, "f3": 0.45})
    b = _summary(tmp_path / "b", {"f1": 0.6, "f2": 0.65, "f3": 0.7})
    r = cli("compare", a, b, "--json")
    assert r.exit_code == 0
    res = json.loads(r.stdout)
    assert res["tests"]["accuracy"]["p"] == pytest.approx(
        stats.ttest_rel([0.6, 0.65, 0.7], [0.4, 0.5, 0.45]).pvalue
    )
    r = cli("compare", a, b, "--metric", "uf1")
    assert r.exit_code == 0 and "uf1" in r.stdout and "uar" not in r.stdout
    r = cli("compare", a, b, "--metric", "auc")
    assert r.exit_code == 2
