"""Folds on Ray (issue 15): the Ray executor gives the local executor's numbers, retries a fold
whose worker dies, names a fold that always fails while the others are pooled, runs a table's
rows at once, and refuses a bad cluster before writing anything.

One local Ray instance (2 CPUs, no dashboard) serves the whole module: starting one costs ~5-8 s.
Its workers get this folder on their PYTHONPATH, so they import the tests' tiny model and
:mod:`helpers_cluster` as the driver does."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from helpers_training import TINY, write_flow_file

from mertool.errors import MertoolError
from mertool.folds.results import PREDICTIONS
from mertool.folds.run import run_evaluation
from mertool.training.config import resolve_config

ray = pytest.importorskip("ray")
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_local():
    from mertool.folds import ray_executor

    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield ray
    ray.shutdown()
    ray_executor._STATE["probed"].clear()


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory):
    return write_flow_file(tmp_path_factory.mktemp("flow") / "flow.h5", subjects=3, per_class=2, size=16)


def _cfg(**kw):
    base = {"arch": TINY, "epochs": 2, "lr": 0.05, "batch_size": 8, "input_size": 16}
    base.update(kw)
    return resolve_config(None, base, seed=base.pop("seed", 0))


def _preds(out_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out_dir.glob(f"folds/*/{PREDICTIONS}"))}


def _numbers(summary: dict) -> dict:
    """summary.json without what depends on the clock."""
    s = {k: v for k, v in summary.items() if k != "created"}
    s["per_fold"] = [{k: v for k, v in f.items() if k != "seconds"} for f in summary["per_fold"]]
    return s


# ------------------------------------------------------------------------------------------------
# the same numbers as the local executor


def test_ray_gives_the_local_executors_summary(ray_local, flow_file, tmp_path):
    cfg = _cfg(seed=3)
    local = run_evaluation(flow_file, cfg, tmp_path / "local", plots=False)
    on_ray = run_evaluation(flow_file, cfg, tmp_path / "ray", plots=False, executor="ray")
    assert not on_ray.failed and sorted(on_ray.ran) == ["synth/s01", "synth/s02", "synth/s03"]
    assert on_ray.devices == ["cpu"] and on_ray.threads == 1
    assert on_ray.summary["complete"] and on_ray.summary["seed"] == 3
    assert _numbers(on_ray.summary) == _numbers(local.summary)
    a, b = _preds(tmp_path / "local"), _preds(tmp_path / "ray")
    assert a.keys() == b.keys()
    for fold in a:
        for key in ("ids", "true", "pred", "probs", "seed", "best_epoch", "n_train", "selection_ids"):
            assert a[fold][key] == b[fold][key], (fold, key)
        clockless = [
            [{k: v for k, v in h.items() if k != "seconds"} for h in r[fold]["history"]] for r in (a, b)
        ]
        assert clockless[0] == clockless[1]
    # the results directory is an ordinary one: --resume on the local executor finds it finished
    again = run_evaluation(flow_file, cfg, tmp_path / "ray", resume=True, plots=False)
    assert sorted(again.skipped) == ["synth/s01", "synth/s02", "synth/s03"] and not again.ran


# ------------------------------------------------------------------------------------------------
# faults


def test_a_fold_whose_worker_dies_is_retried(ray_local, flow_file, tmp_path):
    from helpers_cluster import DyingExecutor

    markers = tmp_path / "markers"
    markers.mkdir()
    executor = DyingExecutor(crash="synth/s02", marker_dir=str(markers), max_retries=2)
    outcome = run_evaluation(flow_file, _cfg(epochs=1), tmp_path / "r", plots=False, executor=executor)
    assert (markers / "synth__s02.attempt").read_text() == "2"  # died once, then ran again
    assert not outcome.failed and outcome.summary["complete"]
    assert sorted(_preds(tmp_path / "r")) == ["synth__s01", "synth__s02", "synth__s03"]


def test_a_fold_that_always_dies_is_named_and_the_others_are_pooled(ray_local, flow_file, tmp_path):
    from helpers_cluster import DyingExecutor

    markers = tmp_path / "markers"
    markers.mkdir()
    executor = DyingExecutor(crash="synth/s01", marker_dir=str(markers), always=True, max_retries=1)
    out = tmp_path / "r"
    outcome = run_evaluation(flow_file, _cfg(epochs=1), out, plots=False, executor=executor)
    assert (markers / "synth__s01.attempt").read_text() == "2"  # the first try and one retry
    assert [name for name, _ in outcome.failed] == ["synth/s01"]
    assert "worker died 2 time(s)" in outcome.failed[0][1]
    assert sorted(outcome.ran) == ["synth/s02", "synth/s03"]
    s = outcome.summary
    assert not s["complete"] and s["folds_missing"] == ["synth/s01"] and s["n_folds_complete"] == 2
    assert "synth/s01" in (out / "report.md").read_text()


def test_stopping_cancels_the_tasks_and_keeps_finished_folds(ray_local, flow_file, tmp_path):
    """Ctrl-C in the driver (here: request_stop, what the table runner's main thread sends every
    row on Ctrl-C) cancels the fold still running and keeps the finished ones for --resume."""
    import threading
    import time

    from helpers_cluster import DyingExecutor

    from mertool.folds import ray_executor

    out = tmp_path / "r"
    executor = DyingExecutor(crash="synth/s03", marker_dir=str(tmp_path), hang=120.0)

    def stop_when_two_are_done():
        while len(list(out.glob(f"folds/*/{PREDICTIONS}"))) < 2:
            time.sleep(0.2)
        ray_executor.request_stop()

    threading.Thread(target=stop_when_two_are_done, daemon=True).start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            run_evaluation(flow_file, _cfg(epochs=1), out, plots=False, executor=executor)
    finally:
        ray_executor.STOP.clear()
    assert time.perf_counter() - t0 < 60  # the hanging fold was cancelled, not waited for
    outcome = stop.value.args[0]
    assert outcome.interrupted and sorted(outcome.ran) == ["synth/s01", "synth/s02"]
    assert outcome.summary["folds_missing"] == ["synth/s03"]
    resumed = run_evaluation(flow_file, _cfg(epochs=1), out, resume=True, plots=False, executor="ray")
    assert resumed.ran == ["synth/s03"] and resumed.summary["complete"]


# ------------------------------------------------------------------------------------------------
# bad input, refused before anything is written


def test_an_unreachable_address_is_refused_before_any_fold(flow_file, tmp_path, cli):
    from mertool.folds.ray_executor import RayExecutor

    out = tmp_path / "r"
    with pytest.raises(MertoolError, match=r"no Ray cluster reachable at --address 127\.0\.0\.1:9") as exc:
        run_evaluation(flow_file, _cfg(), out, plots=False, executor=RayExecutor("127.0.0.1:9"))
    assert "ray start --head" in exc.value.hint
    assert not out.exists()  # nothing written, not even config.json
    with pytest.raises(MertoolError, match="expected auto, HOST:PORT"):
        RayExecutor("ray://head:port").prepare()
    with pytest.raises(MertoolError, match="needs --gpus-per-fold"):
        RayExecutor(device="cuda")
    # the command line: the same error, the same nothing written
    r = cli(
        "eval-loso", flow_file, "--arch", TINY, "--executor", "ray", "--address", "127.0.0.1:9", "-o", out
    )
    assert r.exit_code == 2 and "no Ray cluster reachable at --address 127.0.0.1:9" in r.stderr
    assert not out.exists()


def test_no_gpu_and_another_mertool_version_are_refused(ray_local, flow_file, tmp_path, monkeypatch):
    from mertool.folds import ray_executor
    from mertool.folds.ray_executor import RayExecutor

    out = tmp_path / "r"
    with pytest.raises(MertoolError, match="asks for a GPU, but the Ray cluster") as exc:
        run_evaluation(flow_file, _cfg(), out, plots=False, executor=RayExecutor(gpus_per_fold=0.5))
    assert "--gpus-per-fold" in exc.value.hint
    with pytest.raises(MertoolError, match="no node of the Ray cluster has --cpus-per-fold 64"):
        run_evaluation(flow_file, _cfg(), out, plots=False, executor=RayExecutor(cpus_per_fold=64))
    # a driver of another version than the workers (the probe task returns the workers' version)
    monkeypatch.setattr(ray_executor, "__version__", "99.0")
    monkeypatch.setattr(ray_executor, "_STATE", {**ray_executor._STATE, "probed": set()})
    with pytest.raises(MertoolError, match=r"run mertool \S+ .*the driver mertool 99\.0") as exc:
        run_evaluation(flow_file, _cfg(), out, plots=False, executor="ray")
    assert "install mertool" in exc.value.hint
    assert not out.exists()


def test_the_probe_reports_a_worker_without_mertool(ray_local):
    """The probe is sent by value, so it runs where mertool cannot be imported and says so."""
    from mertool.folds.ray_executor import _probe_function

    @ray.remote
    def without_mertool(probe):
        import sys

        sys.modules["mertool"] = None  # an import of mertool now fails, as on a bare worker
        try:
            return probe()
        finally:
            del sys.modules["mertool"]

    answer = ray.get(without_mertool.remote(_probe_function()))
    assert answer["ok"] is False and "mertool" in answer["error"]


# ------------------------------------------------------------------------------------------------
# a table: every row's folds at once


@pytest.mark.slow
def test_a_smoke_table_on_ray_reports_the_local_numbers(ray_local, tmp_path):
    from mertool.tables import runner

    local = runner.Context(results=tmp_path / "local", smoke=True, quiet=True)
    _, csv_local = runner.run_target("table-004-8", local)
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "cache").symlink_to(tmp_path / "local" / "cache")  # prepared inputs once
    on_ray = runner.Context(results=tmp_path / "ray", smoke=True, quiet=True, executor="ray")
    md, csv_ray = runner.run_target("table-004-8", on_ray)
    rows_local = list(csv.reader(csv_local.open()))
    rows_ray = list(csv.reader(csv_ray.open()))
    assert rows_ray == rows_local and len(rows_ray) == 5  # header + 4 rows, the same numbers
    text = md.read_text()
    assert "--executor ray" in text and "6/6 folds" in text
