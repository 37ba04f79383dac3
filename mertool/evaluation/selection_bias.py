"""The selection-bias report: what choosing epochs on the test fold would have claimed.

Much published MER code trains each LOSO fold for a fixed number of epochs, evaluates the test
subject after every epoch, and reports the best of those numbers. That picks a model on the data
it is scored on (DESIGN section 3 forbids it), and on small folds it inflates UF1 by several
points. ``eval-loso --selection-bias`` records every epoch's test predictions apart from the
run's own (``folds/<fold>/test_curve.json``; no choice ever reads them) so the report can put the
honest number beside the two optimistic ones:

``best_epoch_per_fold``
    each fold's epoch with the highest test accuracy on that fold (ties: the earliest epoch),
    predictions pooled. This is the "best epoch per subject" practice.
``best_common_epoch``
    one epoch number for every fold, the one whose pooled test UF1 is highest (ties: the
    earliest); only epochs that every fold ran count.

Inputs are the curve records: ``{"fold": str, "true": [N ints], "epochs": [{"epoch": int, "pred":
[N ints]}, ...]}``, predictions in the order of ``true``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mertool.evaluation.metrics import compute_metrics


def _scores(true: np.ndarray, pred: np.ndarray, k: int) -> dict[str, float | None]:
    m = compute_metrics(true, pred, k)
    return {"uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"]}


def best_epoch_per_fold(curves: list[dict[str, Any]]) -> dict[str, int]:
    """fold -> the epoch whose predictions are most accurate on that fold (earliest on ties)."""
    chosen = {}
    for c in curves:
        true = np.asarray(c["true"], dtype=np.int64)
        best, best_acc = None, -1.0
        for e in c["epochs"]:
            acc = float(np.mean(np.asarray(e["pred"]) == true)) if len(true) else 0.0
            if acc > best_acc:
                best, best_acc = e["epoch"], acc
        if best is not None:
            chosen[c["fold"]] = int(best)
    return chosen


def selection_bias(
    curves: list[dict[str, Any]], honest: dict[str, float | None], num_classes: int
) -> dict[str, Any] | None:
    """The report's ``selection_bias`` block (module docstring); None without curves."""
    curves = [c for c in curves if c.get("epochs")]
    if not curves:
        return None
    per_fold = best_epoch_per_fold(curves)
    true = np.concatenate([np.asarray(c["true"], dtype=np.int64) for c in curves])

    def pooled_at(epoch_of: dict[str, int]) -> np.ndarray:
        preds = []
        for c in curves:
            by_epoch = {e["epoch"]: e["pred"] for e in c["epochs"]}
            preds.append(np.asarray(by_epoch[epoch_of[c["fold"]]], dtype=np.int64))
        return np.concatenate(preds)

    oracle = _scores(true, pooled_at(per_fold), num_classes)
    common_epochs = sorted(set.intersection(*[{e["epoch"] for e in c["epochs"]} for c in curves]))
    common: dict[str, Any] = {"epoch": None, "uf1": None, "uar": None, "accuracy": None}
    for epoch in common_epochs:
        s = _scores(true, pooled_at({c["fold"]: epoch for c in curves}), num_classes)
        if common["uf1"] is None or (s["uf1"] is not None and s["uf1"] > common["uf1"]):
            common = {"epoch": epoch, **s}

    def gap(value: float | None, key: str) -> float | None:
        return None if value is None or honest.get(key) is None else float(value - honest[key])

    return {
        "folds": len(curves),
        "honest": {"uf1": honest.get("uf1"), "uar": honest.get("uar")},
        "best_epoch_per_fold": {**oracle, "epochs": per_fold},
        "best_common_epoch": common,
        "inflation": {
            "best_epoch_per_fold": {"uf1": gap(oracle["uf1"], "uf1"), "uar": gap(oracle["uar"], "uar")},
            "best_common_epoch": {"uf1": gap(common["uf1"], "uf1"), "uar": gap(common["uar"], "uar")},
        },
        "note": "test-fold predictions recorded apart; the honest number above never used them",
    }
