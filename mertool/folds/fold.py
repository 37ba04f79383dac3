"""One fold: train on its training rows, predict its test rows (:func:`compute_fold`, which any
executor may run anywhere), and write its files into the results directory
(:func:`write_fold`, which only the driver runs).

The split lets a fold be computed in a process, on another machine or on a cluster worker with no
access to the results directory: the executor hands the :class:`FoldOutput` back and the driver
writes it, atomically, ``predictions.json`` last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mertool.evaluation.protocols import Fold
from mertool.folds.results import METRICS, MODEL, PREDICTIONS, TEST_CURVE, fold_dir
from mertool.training.config import RunConfig, fold_seed
from mertool.training.data import SampleTable


@dataclass
class FoldOutput:
    """Everything a finished fold writes; plain data, so it crosses process boundaries."""

    fold: str
    record: dict[str, Any]  # predictions.json
    metrics: dict[str, Any]  # metrics.json
    test_curve: dict[str, Any] | None = None  # test_curve.json (--selection-bias)
    model: bytes | None = None  # model.pt (--save-models)

    @property
    def summary(self) -> dict[str, Any]:
        m = self.metrics
        return {"fold": self.fold, "n": m["n"], "accuracy": m["accuracy"], "uf1": m["uf1"]}


def compute_fold(
    table: SampleTable,
    groups: list[str],
    fold: Fold,
    cfg: RunConfig,
    device: str,
    save_model: bool,
    emit: Callable[..., None],
    test_curve: bool = False,
    command: str | None = None,
) -> FoldOutput:
    """Train on the fold's training rows and predict its test rows; writes nothing.

    ``emit(kind, fold_name, ...)`` receives progress events (``fold_start``, ``batch``, ``epoch``).
    With ``test_curve`` the test rows are also predicted after every epoch, for the selection-bias
    report only (:mod:`mertool.evaluation.selection_bias`): training and model selection never
    see them."""
    import torch

    from mertool.evaluation.metrics import compute_metrics
    from mertool.training.data import BatchSet
    from mertool.training.loop import evaluate
    from mertool.training.trainer import train_on_rows

    seed = fold_seed(cfg.seed, fold.name)
    t0 = time.perf_counter()
    emit("fold_start", fold.name, cfg.fit.epochs)
    curve: list[dict[str, Any]] = []
    observer = None
    if test_curve:
        test_sets: dict[int, BatchSet] = {}

        def observer(model, epoch: int, normalizer) -> None:
            # the test rows normalised with the fold's training statistics, as the final test is
            if id(normalizer) not in test_sets:  # built once: the normaliser is the fold's own
                test_sets[id(normalizer)] = BatchSet(table, fold.test, normalizer)
            ts = test_sets[id(normalizer)]
            ev = evaluate(model, ts, max(cfg.fit.batch_size, 64), device)
            curve.append(
                {"epoch": epoch, "rows": ev["rows"].tolist(), "pred": ev["probs"].argmax(1).tolist()}
            )

    trained = train_on_rows(
        table,
        fold.train,
        groups,
        cfg,
        seed,
        device,
        on_epoch=lambda rec: emit("epoch", fold.name, rec),
        on_batch=lambda b, n, loss: emit("batch", fold.name, b, n, loss),
        after_epoch=observer,
    )
    g = np.asarray(groups, dtype=object)
    test_groups = set(g[fold.test])
    # DESIGN section 3, checked on every fold at run time as well as in the tests
    for what, rows in (("training", trained.train_rows), ("validation", trained.val_rows)):
        leak = test_groups & set(g[rows])
        if leak:
            raise AssertionError(f"fold {fold.name}: test subject(s) {sorted(leak)} in the {what} set")
    if set(trained.result.selection_ids) & {table.ids[i] for i in fold.test}:
        raise AssertionError(f"fold {fold.name}: model selection looked at test samples")

    test_set = BatchSet(table, fold.test, trained.normalizer)
    ev = evaluate(trained.model, test_set, max(cfg.fit.batch_size, 64), device)
    rows = ev["rows"]
    probs = ev["probs"]
    pred = probs.argmax(1)
    true = table.labels[rows]
    metrics = compute_metrics(true, pred, len(table.classes), probs, table.classes)
    model = None
    if save_model:
        from mertool.training.checkpoint import model_bytes
        from mertool.training.trainer import input_size, model_inputs, model_meta, three_frames

        model = model_bytes(
            trained.model,
            model_meta(
                table,
                cfg,
                trained,
                model_inputs(cfg),
                input_size(cfg),
                three_frames(cfg),
                seed,
                command=command,
            ),
        )
    curve_record = None
    if test_curve:
        curve_record = {
            "fold": fold.name,
            "note": "every epoch's test predictions, for the selection-bias report only; no choice used them",
            "ids": [table.ids[i] for i in fold.test],
            "true": table.labels[fold.test].tolist(),
            "epochs": [
                {"epoch": c["epoch"], "pred": _in_order(c["rows"], c["pred"], fold.test)} for c in curve
            ],
        }
    record = {
        "fold": fold.name,
        "test_groups": sorted(test_groups),
        "classes": table.classes,
        "ids": [table.ids[i] for i in rows],
        "datasets": [table.datasets[i] for i in rows],
        "groups": [groups[i] for i in rows],
        "true": true.tolist(),
        "pred": pred.tolist(),
        "probs": np.round(probs.astype(np.float64), 6).tolist(),
        "seed": seed,
        "n_train": int(len(trained.train_rows)),
        "n_val": int(len(trained.val_rows)),
        "val_groups": trained.val_groups,
        "selection_ids": trained.result.selection_ids,
        "best_epoch": trained.result.best_epoch,
        "selected_on": trained.result.selected_on,
        "stopped_early": trained.result.stopped_early,
        "epochs_run": len(trained.result.history),
        "history": trained.result.history,
        "seconds": time.perf_counter() - t0,
        "device": device,
        "threads": torch.get_num_threads(),
    }
    return FoldOutput(fold.name, record, {"fold": fold.name, **metrics}, curve_record, model)


def write_fold(out_dir: Path, output: FoldOutput) -> dict[str, Any]:
    """Write a computed fold into ``out_dir`` (``predictions.json`` last: it marks the fold
    finished); returns the fold's one-line summary. Raises OSError when the directory cannot
    take the files (:func:`cannot_write` turns it into the clear message)."""
    from mertool.store.json_files import write_bytes_atomic, write_json_atomic

    d = fold_dir(out_dir, output.fold)
    d.mkdir(parents=True, exist_ok=True)
    if output.model is not None:
        write_bytes_atomic(d / MODEL, output.model)
    write_json_atomic(d / METRICS, output.metrics)
    if output.test_curve is not None:
        write_json_atomic(d / TEST_CURVE, output.test_curve)
    write_json_atomic(d / PREDICTIONS, output.record)  # last: marks the fold finished
    return output.summary


def cannot_write(out_dir: Path, fold_name: str, exc: OSError):
    """The clear error for a fold whose files the results directory cannot take (full disk,
    read-only): the run stops, finished folds stay for ``--resume``."""
    from mertool.store.locks import cannot_write_error

    err = cannot_write_error(fold_dir(out_dir, fold_name), exc, f"fold {fold_name}")
    err.hint = "free space or write elsewhere (-o OTHER/DIR); finished folds are kept: re-run with --resume"
    return err


def _in_order(rows: list[int], values: list[int], order: np.ndarray) -> list[int]:
    """``values`` given for table ``rows``, re-listed in the order of ``order``."""
    by_row = dict(zip(rows, values))
    return [int(by_row[int(r)]) for r in order]
