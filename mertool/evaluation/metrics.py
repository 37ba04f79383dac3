"""Classification metrics from a confusion matrix: accuracy, UF1, UAR, per-class P/R/F1, ROC-AUC.

All functions take integer class indices ``y_true``, ``y_pred`` of shape (N,) and, for ROC-AUC,
probabilities ``probs`` of shape (N, K) float. ``num_classes`` K fixes the confusion matrix size
so that folds and pooled predictions share one class order (the label map's).

Which classes count (the rule for a class absent from a fold)
-------------------------------------------------------------
A class is *present* when it occurs in ``y_true`` or in ``y_pred``. UF1 and UAR average over the
present classes only; a class that is neither a true label nor a prediction of the samples at hand
(typical for one LOSO fold, which holds one subject) has every count zero, its precision, recall
and F1 are 0/0, and it is left out of the averages and reported as ``None``. This is the same
convention as scikit-learn's ``f1_score(average="macro")`` / ``recall_score(average="macro")``
with default ``labels`` (union of true and predicted labels) and ``zero_division=0``:

* precision of a present class with no predictions (tp + fp = 0) is 0;
* recall of a present class with no support (tp + fn = 0, i.e. only predicted) is 0;
* F1 = 2 tp / (2 tp + fp + fn), which is 0 when tp = 0 and the class is present.

So pooled UF1/UAR equal scikit-learn's numbers on the pooled predictions (tests assert it).
The headline numbers of ``eval-loso`` are the pooled ones (DESIGN section 3); per-fold numbers use
the same rule over the fold's own present classes and are reported beside them.

ROC-AUC is one-vs-rest per class from the rank statistic (ties counted half); a class whose
one-vs-rest problem has no positives or no negatives has no AUC (``None``) and the macro mean
is over the classes that have one (``None`` when none has).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts; row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"{name} holds a class index outside 0..{num_classes - 1}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (the zero_division=0 convention, applied explicitly)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class PerClass:
    """Per-class counts and scores; entries of absent classes are ``None`` in :meth:`as_dict`."""

    support: np.ndarray  # (K,) true samples per class
    predicted: np.ndarray  # (K,) predictions per class
    precision: np.ndarray  # (K,)
    recall: np.ndarray  # (K,)
    f1: np.ndarray  # (K,)
    present: np.ndarray  # (K,) bool: class occurs in y_true or y_pred


def per_class(cm: np.ndarray) -> PerClass:
    """Precision, recall and F1 of every class from a confusion matrix (see module rules)."""
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    fp = predicted - tp
    fn = support - tp
    return PerClass(
        support=support,
        predicted=predicted,
        precision=_safe_ratio(tp, predicted),
        recall=_safe_ratio(tp, support),
        f1=_safe_ratio(2 * tp, 2 * tp + fp + fn),
        present=(support + predicted) > 0,
    )


def _rank_average(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    i = 0
    n = len(values)
    while i < n:
        j = i
        while j + 1 < n and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def binary_auc(is_positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg)); None without both classes."""
    is_positive = np.asarray(is_positive, dtype=bool)
    n_pos = int(is_positive.sum())
    n_neg = int(is_positive.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _rank_average(np.asarray(scores, dtype=np.float64))
    u = ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_auc_ovr(y_true: np.ndarray, probs: np.ndarray) -> tuple[float | None, list[float | None]]:
    """(macro AUC over classes that have one, per-class one-vs-rest AUC or None)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    per = [binary_auc(y_true == k, probs[:, k]) for k in range(probs.shape[1])]
    defined = [a for a in per if a is not None]
    return (float(np.mean(defined)) if defined else None), per


def compute_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    num_classes: int,
    probs: np.ndarray | None = None,
    classes: list[str] | None = None,
) -> dict[str, Any]:
    """Every metric of one set of predictions, JSON-ready.

    Returns ``{"n", "accuracy", "uf1", "uar", "auc", "classes_present", "per_class": {name:
    {"precision", "recall", "f1", "support", "predicted", "auc"}}, "confusion": [[...]]}``;
    scores of absent classes are ``None`` and ``uf1``/``uar`` are ``None`` for an empty set.
    """
    classes = list(classes) if classes is not None else [str(k) for k in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f"{len(classes)} class names for {num_classes} classes")
    cm = confusion_matrix(y_true, y_pred, num_classes)
    pc = per_class(cm)
    n = int(cm.sum())
    present = pc.present
    auc, auc_per = (None, [None] * num_classes)
    if probs is not None and n:
        auc, auc_per = roc_auc_ovr(y_true, probs)
    out: dict[str, Any] = {
        "n": n,
        "accuracy": float(np.trace(cm) / n) if n else None,
        "uf1": float(pc.f1[present].mean()) if present.any() else None,
        "uar": float(pc.recall[present].mean()) if present.any() else None,
        "auc": auc,
        "classes_present": [c for c, p in zip(classes, present) if p],
        "per_class": {},
        "confusion": cm.tolist(),
    }
    for k, name in enumerate(classes):
        ok = bool(present[k])
        out["per_class"][name] = {
            "precision": float(pc.precision[k]) if ok else None,
            "recall": float(pc.recall[k]) if ok else None,
            "f1": float(pc.f1[k]) if ok else None,
            "support": int(pc.support[k]),
            "predicted": int(pc.predicted[k]),
            "auc": auc_per[k],
        }
    return out
