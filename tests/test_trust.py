"""Numbers a reviewer can trust: subject-bootstrap intervals, --seeds, the selection-bias report,
``mertool rescore``, and user models (a file, an entry point) through eval-loso."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from helpers_training import TINY, write_flow_file

from mertool.evaluation.bootstrap import subject_bootstrap
from mertool.evaluation.rescore import read_predictions_csv, rescore
from mertool.evaluation.seeds import aggregate_seeds
from mertool.evaluation.selection_bias import best_epoch_per_fold, selection_bias
from mertool.folds.results import TEST_CURVE
from mertool.folds.run import run_evaluation, run_seeds
from mertool.training.config import resolve_config


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory):
    return write_flow_file(tmp_path_factory.mktemp("trust") / "flow.h5", subjects=3, per_class=2, size=16)


def _cfg(**kw):
    base = {"arch": TINY, "epochs": 3, "lr": 0.05, "batch_size": 8, "input_size": 16}
    base.update(kw)
    seed = base.pop("seed", 0)
    return resolve_config(None, base, seed=seed)


# ------------------------------------------------------------------------------------------------
# bootstrap


def test_bootstrap_of_perfect_predictions_is_a_point():
    ci = subject_bootstrap([0, 1, 2, 0], [0, 1, 2, 0], ["a", "a", "b", "b"], 3, draws=200)
    assert ci["uf1"] == [1.0, 1.0] and ci["uar"] == [1.0, 1.0]
    assert ci["subjects"] == 2 and ci["resampled"] == "subjects"


def test_bootstrap_two_subjects_spans_every_reachable_value():
    # subject a: both right; subject b: both wrong. Resamples: aa (UF1 1), bb (UF1 0), ab/ba:
    # true 0,1,0,1 pred 0,1,1,0 -> each class tp 1, fp 1, fn 1: F1 0.5. P(aa) = P(bb) = 1/4, so
    # the 95% percentile interval is [0, 1] and the middle of the draws is 0.5.
    true, pred, groups = [0, 1, 0, 1], [0, 1, 1, 0], ["a", "a", "b", "b"]
    ci = subject_bootstrap(true, pred, groups, 2, draws=2000, seed=3)
    assert ci["uf1"] == [0.0, 1.0]
    half = subject_bootstrap(true, pred, groups, 2, draws=2000, seed=3, level=0.4)
    assert half["uf1"] == [0.5, 0.5]  # the central 40 % of draws all land on the mixed resample
    # same seed, same interval; every sample of a subject travels together
    assert subject_bootstrap(true, pred, groups, 2, draws=2000, seed=3) == ci


def test_bootstrap_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        subject_bootstrap([0, 1], [0], ["a", "b"], 2)


# ------------------------------------------------------------------------------------------------
# selection bias


def test_selection_bias_hand_computed():
    # fold A (2 samples, true 0 1), fold B (2 samples, true 1 0), epochs 1..3
    curves = [
        {"fold": "A", "true": [0, 1], "epochs": [
            {"epoch": 1, "pred": [0, 0]}, {"epoch": 2, "pred": [0, 1]}, {"epoch": 3, "pred": [1, 1]}]},
        {"fold": "B", "true": [1, 0], "epochs": [
            {"epoch": 1, "pred": [1, 0]}, {"epoch": 2, "pred": [0, 0]}, {"epoch": 3, "pred": [0, 0]}]},
    ]  # fmt: skip
    assert best_epoch_per_fold(curves) == {"A": 2, "B": 1}
    honest = {"uf1": 0.5, "uar": 0.5}
    sb = selection_bias(curves, honest, 2)
    # per-fold best: every prediction right -> 1.0
    assert sb["best_epoch_per_fold"]["uf1"] == 1.0
    assert sb["inflation"]["best_epoch_per_fold"]["uf1"] == pytest.approx(0.5)
    # common epoch 1: true 0 1 1 0, pred 0 0 1 0: class 0 tp 2 fp 1 fn 0 -> F1 .8, class 1 tp 1
    # fp 0 fn 1 -> 2/3; epoch 2 (pred 0 1 0 0) ties at the same UF1, so the earliest, 1, is kept;
    # epoch 3 (pred 1 1 0 0) is 0.5 for each class
    assert sb["best_common_epoch"]["epoch"] == 1
    assert sb["best_common_epoch"]["uf1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert selection_bias([], honest, 2) is None


@pytest.mark.parametrize("arch", [TINY, "ststnet"])  # ststnet: dropout, so any stray draw would show
def test_selection_bias_recording_changes_nothing_honest(flow_file, tmp_path, arch):
    cfg = _cfg(arch=arch, augment="hflip", val_subjects=1)
    plain = run_evaluation(flow_file, cfg, tmp_path / "plain", workers=1, plots=False)
    rec = run_evaluation(flow_file, cfg, tmp_path / "rec", workers=1, plots=False, test_curve=True)
    for key in ("uf1", "uar", "accuracy", "auc"):
        assert plain.summary[key] == rec.summary[key]
    assert plain.summary["selection_bias"] is None
    sb = rec.summary["selection_bias"]
    assert sb["folds"] == 3 and sb["honest"]["uf1"] == rec.summary["uf1"]
    curve = json.loads(next((tmp_path / "rec").glob(f"folds/*/{TEST_CURVE}")).read_text())
    assert [e["epoch"] for e in curve["epochs"]] == [1, 2, 3]
    assert len(curve["epochs"][0]["pred"]) == len(curve["ids"]) == len(curve["true"])
    # the best per-fold choice can never be below the last epoch's own accuracy
    assert sb["best_epoch_per_fold"]["accuracy"] >= 0
    report = (tmp_path / "rec" / "report.md").read_text()
    assert "best epoch per test fold" in report and "Selection bias" in report


# ------------------------------------------------------------------------------------------------
# seeds and the interval in summary.json


def test_aggregate_seeds_hand_computed():
    runs = [{"seed": 0, "uf1": 0.5, "uar": 0.6, "accuracy": 0.7, "complete": True},
            {"seed": 1, "uf1": 0.7, "uar": 0.6, "accuracy": 0.9, "complete": True},
            {"seed": 2, "uf1": 0.9, "uar": 0.6, "accuracy": None, "complete": False}]  # fmt: skip
    agg = aggregate_seeds(runs)
    assert agg["mean"]["uf1"] == pytest.approx(0.7)
    assert agg["std"]["uf1"] == pytest.approx(0.2)  # sample std: sqrt((0.04 + 0 + 0.04) / 2)
    assert agg["std"]["uar"] == pytest.approx(0.0)
    assert agg["mean"]["accuracy"] == pytest.approx(0.8)  # the run without it is left out
    assert agg["complete"] is False and agg["seeds"] == [0, 1, 2]
    assert aggregate_seeds(runs[:1])["std"]["uf1"] == 0.0


def test_seeds_run_each_seed_into_its_own_directory(flow_file, tmp_path):
    out = tmp_path / "s"
    outcomes = run_seeds(flow_file, _cfg(seed=5, epochs=2), out, 2, workers=1, plots=False)
    assert [o.summary["seed"] for o in outcomes] == [5, 6]
    agg = json.loads((out / "seeds.json").read_text())
    uf1 = [o.summary["uf1"] for o in outcomes]
    assert agg["mean"]["uf1"] == pytest.approx(np.mean(uf1))
    assert agg["std"]["uf1"] == pytest.approx(np.std(uf1, ddof=1))
    # each seed is an ordinary run: identical to running that seed alone
    alone = run_evaluation(flow_file, _cfg(seed=6, epochs=2), tmp_path / "alone", workers=1, plots=False)
    assert alone.summary["uf1"] == outcomes[1].summary["uf1"]
    assert (out / "seed-5" / "summary.json").is_file() and (out / "seeds.md").is_file()
    ci = outcomes[0].summary["ci"]
    assert ci["subjects"] == 3 and ci["uf1"][0] <= outcomes[0].summary["uf1"] <= ci["uf1"][1]


def test_eval_loso_cli_seeds_and_selection_bias(flow_file, tmp_path, cli):
    out = tmp_path / "cli"
    r = cli("eval-loso", flow_file, "--arch", TINY, "--epochs", "2", "--input-size", "16", "--seeds", "2",
            "--selection-bias", "-j", "1", "--no-plots", "--json", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    agg = json.loads(r.stdout)
    assert agg["n_seeds"] == 2 and set(agg["mean"]) == {"uf1", "uar", "accuracy"}
    s = json.loads((out / "seed-1" / "summary.json").read_text())
    assert s["selection_bias"]["folds"] == 3


# ------------------------------------------------------------------------------------------------
# rescore


def _csv(tmp_path, text):
    p = tmp_path / "p.csv"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def test_rescore_hand_computed(tmp_path, cli):
    p = _csv(
        tmp_path,
        """
        Predicted,True,Sample,Subject,Dataset
        negative,negative,a,s1,casme2
        positive,positive,b,s1,casme2
        negative,surprise,c,s2,casme2
        negative,negative,d,s2,casme2
        surprise,positive,e,006,samm
        surprise,surprise,f,006,samm
        """,
    )
    res = rescore(read_predictions_csv(p))
    # negative: tp2 fp1 fn0 F1 .8; positive: tp1 fp0 fn1 F1 2/3; surprise: tp1 fp1 fn1 F1 .5
    assert res["uf1"] == pytest.approx((0.8 + 2 / 3 + 0.5) / 3)
    assert res["uar"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert res["classes"] == ["negative", "positive", "surprise"]  # megc2019's order
    assert [f["fold"] for f in res["per_fold"]] == ["casme2/s1", "casme2/s2", "samm/006"]
    assert res["per_fold"][0]["accuracy"] == 1.0 and res["per_fold"][2]["accuracy"] == 0.5
    assert res["per_dataset"]["samm"]["n"] == 2
    from sklearn.metrics import f1_score

    t = [r["true"] for r in read_predictions_csv(p)]
    q = [r["predicted"] for r in read_predictions_csv(p)]
    assert res["uf1"] == pytest.approx(f1_score(t, q, average="macro"))
    r = cli("rescore", p, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["uf1"] == pytest.approx(res["uf1"])


def test_rescore_fold_column_numbers_and_bad_files(tmp_path, cli):
    p = _csv(tmp_path, "subject,true,pred,fold\n1,0,0,f1\n2,1,1,f1\n3,1,0,f2\n")
    res = rescore(read_predictions_csv(p))
    assert [f["fold"] for f in res["per_fold"]] == ["f1", "f2"] and res["classes"] == ["0", "1"]
    assert res["folds_from"] == "fold column"
    bad = _csv(tmp_path, "subject,label\n1,0\n")
    r = cli("rescore", bad)
    assert r.exit_code == 2 and "no column for predicted" in r.output
    empty_cell = _csv(tmp_path, "subject,true,predicted\n1,,0\n")
    r = cli("rescore", empty_cell)
    assert r.exit_code == 2 and "row 2" in r.output


# ------------------------------------------------------------------------------------------------
# user models


USER_MODEL = """
import torch
from torch import nn


class FlowNet(nn.Module):
    \"\"\"A user's tiny flow CNN.\"\"\"

    input_names = ("flow",)
    input_size = 16

    def __init__(self, num_classes, width=4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(4 * width, num_classes),
        )

    def forward(self, flow):
        return self.body(flow)
"""


def test_user_model_from_a_file_runs_through_eval_loso(flow_file, tmp_path, cli, monkeypatch):
    (tmp_path / "mine.py").write_text(USER_MODEL)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res"
    r = cli(
        "eval-loso",
        flow_file,
        "--arch",
        "mine.py:FlowNet",
        "--opt",
        "width=6",
        "--epochs",
        "2",
        "--lr",
        "0.05",
        "--no-plots",
        "-o",
        out,
    )  # fmt: skip  (default workers: spawned processes)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["arch"] == "mine.py:FlowNet" and s["options"]["width"] == 6 and s["complete"]
    bad = cli("eval-loso", flow_file, "--arch", "mine.py:Nope", "-o", tmp_path / "x")
    assert bad.exit_code == 2 and "has no 'Nope'" in bad.output
    missing = cli("eval-loso", flow_file, "--arch", "gone.py:FlowNet", "-o", tmp_path / "y")
    assert missing.exit_code == 2 and "no such Python file" in missing.output


def test_user_model_from_an_entry_point(flow_file, tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    (pkg / "mer_plugin").mkdir(parents=True)
    (pkg / "mer_plugin" / "__init__.py").write_text(USER_MODEL)
    dist = pkg / "mer_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mer-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mertool.models]\nplugin-flownet = mer_plugin:FlowNet\n")
    monkeypatch.syspath_prepend(str(pkg))
    import importlib

    import mertool.models.registry as registry

    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    assert "plugin-flownet" in registry.model_names()
    try:
        spec = registry.model_spec("plugin-flownet")
        assert spec.paper == "external" and spec.input_names() == ("flow",)
        cfg = _cfg(arch="plugin-flownet", epochs=2)
        out = run_evaluation(flow_file, cfg, tmp_path / "res", workers=1, plots=False)
        assert out.summary["complete"] and out.summary["arch"] == "plugin-flownet"
    finally:
        registry._MODELS.pop("plugin-flownet", None)


# ------------------------------------------------------------------------------------------------
# the Python API and its documented example


def test_python_api_example_runs_as_documented(flow_file, capsys):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    example = next(b for b in blocks if "fold_plan(" in b)
    exec(compile(example.replace('"demo/flow.h5"', repr(str(flow_file))), "python-api.md", "exec"), {})
    printed = capsys.readouterr().out
    uf1 = float(re.search(r"pooled UF1 ([0-9.]+)", printed).group(1))
    assert uf1 > 0.6  # the tiny file's classes differ by where the flow moves: a linear model sees it


def test_sample_dataset_and_fold_plan_keep_subjects_apart(flow_file):
    import torch

    from mertool.api import SampleDataset, fold_plan

    ds = SampleDataset(flow_file, inputs=("flow", "apex"), size=12, label_map="megc2019")
    x, y = ds[0]
    assert x["flow"].shape == (3, 12, 12) and x["apex"].shape[1:] == (12, 12) and isinstance(y, int)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch[0]["flow"].shape == (4, 3, 12, 12)
    plan = fold_plan(ds, "loso")
    assert len(plan) == 3
    subj = np.asarray(ds.subjects, dtype=object)
    for f in plan:
        assert not set(subj[f.train]) & set(subj[f.test]) and list(set(subj[f.test])) == f.test_subjects
    assert sorted(np.concatenate([f.test for f in plan]).tolist()) == list(range(len(ds)))
