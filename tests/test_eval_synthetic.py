"""End to end on the synthetic dataset: the stages, then eval-loso with DFR-Net.

The ``synth_casme2`` fixture (2 subjects x 3 clips) checks the wiring through a real shell pipe;
two LOSO folds that train on three clips each are too few to measure learning, so the accuracy
test makes its own, slightly larger synthetic set (4 subjects x 6 clips) with the same generator.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mertool.store import SampleFile


def test_stages_pipe_into_eval_loso(synth_casme2, tmp_path, mertool_bin):
    out = tmp_path / "results"
    m = mertool_bin
    cmd = (
        f"{m} detect-faces {synth_casme2.dataset_root} | {m} spot-apex | {m} flow | "
        f"{m} eval-loso - --arch dfr-net --branches T --stages 1 --opt width=8 --input-size 24 "
        f"--label-map megc2019 --epochs 2 --batch-size 4 -o {out}"
    )
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["complete"] and s["n_folds"] == 2 and s["n_samples"] == 6
    assert {"uf1", "uar", "accuracy"} <= set(s) and len(s["per_fold"]) == 2
    assert s["classes"] == ["negative", "positive", "surprise"]
    assert (
        (out / "report.md").is_file() and (out / "confusion.png").is_file() and (out / "curves.png").is_file()
    )
    assert "UF1" in r.stdout  # the results table is printed


@pytest.fixture(scope="module")
def synth_flow(tmp_path_factory):
    """4 subjects x 6 clips (2 per MEGC2019 class), through detect-faces, spot-apex and flow."""
    from mertool.stages.chain import stage
    from mertool.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("synth24")
    result = generate(
        root / "synth",
        SynthConfig(
            layout="casme2",
            seed=0,
            subjects=4,
            clips_per_subject=6,
            size=(256, 192),
            duration_ms=(100.0, 140.0),
        ),
        progress=False,
    )
    faces, apex, flow = root / "faces.h5", root / "apex.h5", root / "flow.h5"
    stage("detect-faces").run(result.dataset_root, faces)
    stage("spot-apex").run(faces, apex)
    stage("flow").run(apex, flow)
    return flow


@pytest.mark.slow
def test_dfr_net_loso_is_well_above_chance(synth_flow, tmp_path):
    from mertool.folds.run import run_evaluation
    from mertool.training.config import resolve_config

    with SampleFile(synth_flow) as sf:
        assert len(sf) == 24
    cfg = resolve_config(
        None,
        {
            "arch": "dfr-net",
            "options": {"branches": "T", "stages": 1, "width": 16},
            "input_size": 32,
            "label_map": "megc2019",
            "epochs": 30,
            "lr": 3e-3,
            "batch_size": 8,
            "augment": "hflip,crop",
        },
        seed=0,
    )
    outcome = run_evaluation(synth_flow, cfg, tmp_path, plots=False)
    s = outcome.summary
    assert s["complete"] and s["n_samples"] == 24 and s["n_folds"] == 4
    # three balanced classes: chance UF1 is about 1/3; measured 0.67-0.71 over seeds 0-2
    assert s["uf1"] > 0.5 and s["uar"] > 0.5, s


@pytest.mark.slow
def test_predict_on_a_dataset_root_replays_the_recorded_stages(synth_casme2, tmp_path, cli):
    """A model trained on a flow file predicts straight from the dataset root: detect-faces,
    spot-apex and flow run first with the settings the model file recorded."""
    from mertool.stages.chain import stage

    faces, apex, flow = tmp_path / "faces.h5", tmp_path / "apex.h5", tmp_path / "flow.h5"
    stage("detect-faces").run(synth_casme2.dataset_root, faces, size=96)
    stage("spot-apex").run(faces, apex)
    stage("flow").run(apex, flow)
    model = tmp_path / "m.pt"
    r = cli("train", flow, "--arch", "dfr-net", "--branches", "T", "--stages", "1", "--opt", "width=8", "--input-size", "24", "--label-map", "megc2019", "--epochs", "1", "-o", model)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    from mertool.training.checkpoint import load_model

    pre = load_model(model).preprocessing
    assert (
        pre["stages"] == ["detect-faces", "spot-apex", "flow"]
        and pre["stage_params"]["detect-faces"]["size"] == 96
    )
    r = cli("predict", model, synth_casme2.dataset_root, "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert sorted(p["id"] for p in res["predictions"]) == synth_casme2.ids
    assert res["n_labelled"] == 6 and "with the recorded settings" in r.stderr
    # the same predictions as on the flow file the model was trained from
    r2 = cli("predict", model, flow, "--json")
    by_id = {p["id"]: p["probs"] for p in json.loads(r2.stdout)["predictions"]}
    for p in res["predictions"]:
        assert p["probs"] == pytest.approx(by_id[p["id"]], abs=1e-4)
