"""Training and the evaluation runner: the rules of DESIGN section 3, resume, Ctrl-C, model
files, presets, augmentation and the data loader."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers_training import TINY, write_flow_file

from mertool.errors import MertoolError
from mertool.folds.results import PREDICTIONS, fold_dir
from mertool.folds.run import run_evaluation
from mertool.training.config import resolve_config


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory):
    return write_flow_file(
        tmp_path_factory.mktemp("flow") / "flow.h5", subjects=4, per_class=2, size=16, failed=1, unlabelled=1
    )


def _cfg(**kw):
    base = {"arch": TINY, "epochs": 3, "lr": 0.05, "batch_size": 8, "input_size": 16}
    base.update(kw)
    seed = base.pop("seed", 0)
    return resolve_config(None, base, seed=seed)


def _preds(out_dir):
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out_dir.glob(f"folds/*/{PREDICTIONS}"))}


# ------------------------------------------------------------------------------------------------
# DESIGN section 3


def test_model_selection_never_sees_the_test_fold(flow_file, tmp_path):
    cfg = _cfg(epochs=5, val_subjects=1, early_stop=2)
    outcome = run_evaluation(flow_file, cfg, tmp_path, workers=1, plots=False)
    preds = _preds(tmp_path)
    assert len(preds) == 4 and outcome.summary["complete"]
    for rec in preds.values():
        test_ids = set(rec["ids"])
        test_subjects = {i.split("/")[1] for i in test_ids}
        sel = set(rec["selection_ids"])
        assert sel, "a validation set was used"
        assert not sel & test_ids
        assert {i.split("/")[1] for i in sel} == {g.split("/")[1] for g in rec["val_groups"]}
        assert not test_subjects & {g.split("/")[1] for g in rec["val_groups"]}
        # the kept epoch is the best *validation* epoch, found without the test data
        losses = [h["val_loss"] for h in rec["history"]]
        assert rec["best_epoch"] == int(np.argmin(losses)) + 1 and rec["selected_on"] == "validation"
        if rec["stopped_early"]:
            assert rec["epochs_run"] - rec["best_epoch"] >= 2


def test_fit_records_exactly_the_validation_ids(flow_file):
    from mertool.evaluation.protocols import sample_groups, validation_split
    from mertool.training.data import load_table
    from mertool.training.trainer import train_on_rows

    cfg = _cfg(val_subjects=2)
    table = load_table(flow_file, ("flow", "apex"), 16, progress=False)
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    rows = np.arange(len(table))[np.array(table.subjects) != "s01"]  # s01 plays the test subject
    trained = train_on_rows(table, rows, groups, cfg, seed=3)
    _, val_rows, _ = validation_split(rows, groups, 2, 3)
    assert trained.result.selection_ids == sorted(table.ids[i] for i in val_rows)
    assert not any("/s01/" in i for i in trained.result.selection_ids)
    # normalisation statistics come from the training rows only
    flow = table.inputs["flow"][trained.train_rows].astype(np.float64)
    assert trained.normalizer.stats["flow"]["*"]["mean"] == pytest.approx(flow.mean(axis=(0, 2, 3)).tolist())


def test_fixed_seed_gives_identical_numbers_twice(flow_file, tmp_path):
    cfg = _cfg(augment="hflip,crop,rotate,contrast", val_subjects=1, seed=7)
    a = run_evaluation(flow_file, cfg, tmp_path / "a", workers=1, plots=False).summary
    b = run_evaluation(flow_file, cfg, tmp_path / "b", workers=1, plots=False).summary
    pa, pb = _preds(tmp_path / "a"), _preds(tmp_path / "b")
    assert [r["probs"] for r in pa.values()] == [r["probs"] for r in pb.values()]
    for key in ("uf1", "uar", "accuracy", "auc"):
        assert a[key] == b[key]
    assert a["seed"] == 7
    c = run_evaluation(
        flow_file,
        _cfg(augment="hflip,crop,rotate,contrast", val_subjects=1, seed=8),
        tmp_path / "c",
        workers=1,
        plots=False,
    )
    assert [r["probs"] for r in _preds(tmp_path / "c").values()] != [r["probs"] for r in pa.values()]
    assert c.summary["seed"] == 8


@pytest.mark.slow
def test_fold_processes_give_the_same_numbers_as_one_process(flow_file, tmp_path):
    cfg = _cfg(epochs=2)
    # the same intra-op thread count: float sums in the same order (the default plan keeps it)
    one = run_evaluation(flow_file, cfg, tmp_path / "one", workers=1, threads=1, plots=False)
    two = run_evaluation(flow_file, cfg, tmp_path / "two", workers=2, threads=1, plots=False)
    assert two.workers == 2 and not two.failed
    assert [r["probs"] for r in _preds(tmp_path / "one").values()] == [
        r["probs"] for r in _preds(tmp_path / "two").values()
    ]
    assert one.summary["uf1"] == two.summary["uf1"]


# ------------------------------------------------------------------------------------------------
# folds as units: resume, subsets, Ctrl-C


def test_resume_skips_finished_folds_and_subsets_share_a_directory(flow_file, tmp_path):
    cfg = _cfg(epochs=1)
    first = run_evaluation(flow_file, cfg, tmp_path, fold_names=["s01", "s02"], workers=1, plots=False)
    assert sorted(first.ran) == ["synth/s01", "synth/s02"]
    assert not first.summary["complete"] and sorted(first.summary["folds_missing"]) == [
        "synth/s03",
        "synth/s04",
    ]
    done = fold_dir(tmp_path, "synth/s01") / PREDICTIONS
    stamp = done.stat().st_mtime_ns
    second = run_evaluation(flow_file, cfg, tmp_path, resume=True, workers=1, plots=False)
    assert sorted(second.skipped) == ["synth/s01", "synth/s02"]
    assert sorted(second.ran) == ["synth/s03", "synth/s04"]
    assert done.stat().st_mtime_ns == stamp
    assert second.summary["complete"] and second.summary["n_folds_complete"] == 4
    # another configuration may not pool into the same directory
    with pytest.raises(MertoolError, match="different run"):
        run_evaluation(flow_file, _cfg(epochs=2), tmp_path, resume=True, workers=1, plots=False)


def test_ctrl_c_inside_a_fold_keeps_finished_folds(flow_file, tmp_path, monkeypatch):
    import mertool.training.trainer as trainer

    real = trainer.train_on_rows
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_on_rows", interrupted)
    with pytest.raises(KeyboardInterrupt) as info:
        run_evaluation(flow_file, _cfg(epochs=1), tmp_path, workers=1, plots=False)
    outcome = info.value.args[0]
    assert outcome.interrupted and outcome.ran == ["synth/s01"]
    assert sorted(_preds(tmp_path)) == ["synth__s01"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_folds_complete"] == 1 and len(summary["folds_missing"]) == 3
    monkeypatch.setattr(trainer, "train_on_rows", real)
    again = run_evaluation(flow_file, _cfg(epochs=1), tmp_path, resume=True, workers=1, plots=False)
    assert again.skipped == ["synth/s01"] and again.summary["complete"]


# ------------------------------------------------------------------------------------------------
# model files, train and predict through the CLI


def test_train_then_predict_needs_only_the_model_file(flow_file, tmp_path, cli):
    from mertool.training.checkpoint import load_model

    model = tmp_path / "m.pt"
    r = cli(
        "train",
        flow_file,
        "--arch",
        TINY,
        "--epochs",
        "2",
        "--input-size",
        "16",
        "--lr",
        "0.05",
        "--val-subjects",
        "1",
        "-o",
        model,
    )
    assert r.exit_code == 0, r.stderr
    mf = load_model(model)
    assert mf.arch == TINY and mf.classes == ["negative", "positive", "surprise"]
    pre = mf.preprocessing
    assert pre["inputs"] == ["flow", "apex"] and pre["input_size"] == [16, 16]
    assert set(pre["normalization"]["stats"]) == {"flow", "apex"} and len(mf.meta["history"]) == 2
    assert mf.meta["seed"] == 0 and mf.meta["selected_on"] == "validation"
    r = cli("predict", model, flow_file, "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert len(res["predictions"]) == 25 and res["classes"] == mf.classes
    assert len(res["skipped"]) == 1  # the failed sample; the unlabelled one is predicted
    assert res["n_labelled"] == 24 and [p["true"] for p in res["predictions"]].count(None) == 1
    for p in res["predictions"]:
        assert sum(p["probs"].values()) == pytest.approx(1.0, abs=1e-4)
        assert p["label"] == max(p["probs"], key=p["probs"].get)
    # the same numbers as the weights give in process
    from mertool.training.data import BatchSet, Normalizer, load_table
    from mertool.training.loop import evaluate

    table = load_table(
        flow_file, ("flow", "apex"), 16, classes=mf.classes, require_labels=False, progress=False
    )
    ev = evaluate(
        mf.build(),
        BatchSet(table, np.arange(len(table)), Normalizer.from_dict(pre["normalization"])),
        64,
        "cpu",
    )
    got = {p["id"]: p["probs"]["surprise"] for p in res["predictions"]}
    for row, probs in zip(ev["rows"], ev["probs"]):
        assert got[table.ids[row]] == pytest.approx(float(probs[2]), abs=1e-6)


def test_foreign_model_files_are_refused(tmp_path):
    from mertool.training.checkpoint import load_model

    text = tmp_path / "notes.pt"
    text.write_text("hello")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    for path, what in ((text, "not a mertool model file"), (other, "PyTorch file")):
        with pytest.raises(MertoolError, match=what):
            load_model(path)
    with pytest.raises(MertoolError, match="no such model file"):
        load_model(tmp_path / "missing.pt")


def test_train_se_resnext50_focal_as_written(flow_file, tmp_path, cli):
    model = tmp_path / "se.pt"
    r = cli(
        "train",
        flow_file,
        "--arch",
        "se-resnext50",
        "--focal",
        "--epochs",
        "1",
        "--input-size",
        "32",
        "--batch-size",
        "12",
        "-o",
        model,
    )
    assert r.exit_code == 0, r.stderr
    from mertool.training.checkpoint import load_model

    mf = load_model(model)
    assert mf.meta["config"]["fit"]["loss"] == "focal" and mf.preprocessing["inputs"] == ["face"]


def test_preset_help_shows_its_settings_and_flags_override(cli):
    r = cli("train", "--preset", "dfr-net-004", "--help")
    assert r.exit_code == 0
    assert "--preset dfr-net-004" in r.stdout and "Adam" in r.stdout and "1e-05" in r.stdout
    cfg = resolve_config("dfr-net-004", {"lr": 1e-3, "epochs": 5}, seed=1)
    assert (
        cfg.fit.lr == 1e-3
        and cfg.fit.epochs == 5
        and cfg.fit.optimizer == "adam"
        and cfg.fit.batch_size == 32
    )
    assert cfg.fit.early_stop == 10 and cfg.val_subjects == 4 and cfg.protocol == "composite"
    for name in ("se-resnet50-000", "abn-001", "dual-branch-002", "se-resnext50-003"):
        c = resolve_config(name, {}, seed=0)
        from mertool.models.registry import model_spec

        model_spec(c.arch)  # every preset names a registered architecture
    assert resolve_config("abn-001", {}).augment.endswith("x10")


def test_early_stop_without_validation_is_refused():
    with pytest.raises(MertoolError, match="validation"):
        resolve_config(None, {"arch": TINY, "early_stop": 5})


# ------------------------------------------------------------------------------------------------
# augmentation and data


def test_hflip_negates_u_and_rotation_rotates_flow_vectors():
    from mertool.training.augment import AugmentConfig, _map_flow_vectors, _theta, augment_batch

    flow = torch.zeros(1, 3, 8, 8)
    flow[0, 0] = 1.0  # u = 1 everywhere
    flow[0, 2] = 0.5  # strain
    g = torch.Generator().manual_seed(0)
    out = None
    for _ in range(10):  # a flip happens with probability 1/2
        o = augment_batch({"flow": flow}, AugmentConfig(hflip=True), g)["flow"]
        if o[0, 0, 4, 4] < 0:
            out = o
            break
    assert out is not None and torch.allclose(out[0, 0, 2:6, 2:6], torch.tensor(-1.0))
    assert torch.allclose(out[0, 2, 2:6, 2:6], torch.tensor(0.5))  # strain unchanged
    # rotating the content by +90 degrees turns a rightward vector (1, 0) into (0, +-1)
    theta = _theta(torch.ones(1), torch.tensor([math.pi / 2]), torch.ones(1), torch.zeros(1), torch.zeros(1))
    v = _map_flow_vectors(flow, theta)
    assert torch.allclose(v[0, 0], torch.zeros(8, 8), atol=1e-6) and torch.allclose(
        v[0, 1].abs(), torch.ones(8, 8)
    )
    # a zoom (crop) scales the vectors by 1/scale
    theta = _theta(torch.ones(1), torch.zeros(1), torch.tensor([0.5]), torch.zeros(1), torch.zeros(1))
    assert torch.allclose(_map_flow_vectors(flow, theta)[0, 0], torch.full((8, 8), 2.0))


def test_offline_x10_expansion_and_spec_parsing():
    from mertool.training.augment import expand_offline, parse_augment

    cfg = parse_augment("rotate=15,hflip,contrast=0.3,x10")
    assert cfg.offline == 10 and not cfg.online and cfg.spec() == "hflip,rotate=15,contrast=0.3,x10"
    x = {"apex": np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)}
    out, labels, src = expand_offline(x, np.arange(5), cfg, torch.Generator().manual_seed(0))
    assert out["apex"].shape == (50, 1, 8, 8) and labels.tolist() == list(range(5)) * 10
    assert np.array_equal(out["apex"][:5], x["apex"])  # the originals come first, untouched
    assert not np.allclose(out["apex"][5:10], x["apex"])
    assert parse_augment("none").spec() == "none"
    with pytest.raises(MertoolError):
        parse_augment("mixup")


def test_loader_skips_and_reports_failed_and_unlabelled(flow_file):
    from mertool.training.data import load_table

    t = load_table(flow_file, ("flow", "apex", "diff"), 16, progress=False)
    reasons = dict(t.skipped)
    assert len(t) == 24 and len(reasons) == 2
    assert "failed at an earlier stage" in reasons["synth/s01/bad0"]
    assert "no label" in reasons["synth/s02/other0"]
    assert t.inputs["flow"].shape == (24, 3, 16, 16) and t.inputs["apex"].shape == (24, 1, 16, 16)
    assert t.classes == ["negative", "positive", "surprise"] and t.label_map == "megc2019"
    # resizing flow rescales its vectors into pixels of the new size
    big = load_table(flow_file, ("flow",), 32, progress=False)
    assert big.inputs["flow"][:, :2].std() == pytest.approx(2 * t.inputs["flow"][:, :2].std(), rel=0.15)


def test_eval_loso_cli_shards_resume_and_report_only(flow_file, tmp_path, cli):
    out = tmp_path / "res"
    common = [
        "--arch",
        TINY,
        "--epochs",
        "1",
        "--input-size",
        "16",
        "--workers",
        "1",
        "--no-plots",
        "-o",
        out,
    ]
    r = cli("eval-loso", flow_file, *common, "--shard", "1/2", "--json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["n_folds_complete"] == 2 and not s["complete"] and len(s["folds_missing"]) == 2
    r = cli("eval-loso", flow_file, *common, "--shard", "2/2")
    assert r.exit_code == 0 and "UF1" in r.stdout
    r = cli("eval-loso", flow_file, *common, "--resume", "--report-only", "--json")
    s = json.loads(r.stdout)
    assert s["complete"] and s["n_folds_complete"] == 4 and {"uf1", "uar", "accuracy", "per_fold"} <= set(s)
    assert (out / "report.md").read_text().startswith("# eval-loso")
    r = cli("eval-loso", flow_file, *common, "--folds", "nobody")
    assert r.exit_code == 2 and "no fold" in r.stderr
