"""Metrics against scikit-learn: pooled UF1/UAR, per-class scores, ROC-AUC, absent classes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from mertool.evaluation.metrics import binary_auc, compute_metrics, confusion_matrix, roc_auc_ovr


def _random_folds(rng, n_folds=7, k=4, absent_in=(0, 3)):
    """Per-fold (true, pred, probs); class 2 never occurs in the folds listed in ``absent_in``."""
    folds = []
    for f in range(n_folds):
        n = int(rng.integers(3, 12))
        classes = [c for c in range(k) if not (f in absent_in and c == 2)]
        true = rng.choice(classes, n)
        logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[true]
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        folds.append((true, probs.argmax(1), probs))
    return folds


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pooled_uf1_uar_equal_sklearn_macro(seed):
    rng = np.random.default_rng(seed)
    folds = _random_folds(rng)
    true = np.concatenate([f[0] for f in folds])
    pred = np.concatenate([f[1] for f in folds])
    probs = np.concatenate([f[2] for f in folds])
    m = compute_metrics(true, pred, 4, probs)
    assert m["uf1"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0), abs=1e-12)
    assert m["uar"] == pytest.approx(recall_score(true, pred, average="macro", zero_division=0), abs=1e-12)
    assert m["accuracy"] == pytest.approx((true == pred).mean())
    for k in range(4):
        pc = m["per_class"][str(k)]
        assert pc["precision"] == pytest.approx(
            precision_score(true, pred, labels=[k], average="macro", zero_division=0)
        )
        assert pc["recall"] == pytest.approx(
            recall_score(true, pred, labels=[k], average="macro", zero_division=0)
        )
        assert pc["f1"] == pytest.approx(f1_score(true, pred, labels=[k], average="macro", zero_division=0))
    assert m["auc"] == pytest.approx(
        roc_auc_score(true, probs, multi_class="ovr", average="macro"), abs=1e-12
    )


def test_fold_without_a_class_matches_sklearn_default_labels():
    """A fold lacking class 2 in truth and predictions: class 2 is absent, not a zero in the mean."""
    true = np.array([0, 0, 1, 1, 3])
    pred = np.array([0, 1, 1, 1, 0])
    m = compute_metrics(true, pred, 4, classes=["a", "b", "c", "d"])
    assert m["per_class"]["c"]["f1"] is None and m["per_class"]["c"]["recall"] is None
    assert m["classes_present"] == ["a", "b", "d"]
    assert m["uf1"] == pytest.approx(f1_score(true, pred, average="macro"))
    assert m["uar"] == pytest.approx(recall_score(true, pred, average="macro", zero_division=0))
    # class d has support but no predictions: precision 0 (explicit), recall 0
    assert m["per_class"]["d"]["precision"] == 0.0 and m["per_class"]["d"]["recall"] == 0.0


def test_class_only_predicted_counts_with_zero_recall():
    true = np.array([0, 0, 1])
    pred = np.array([0, 2, 1])  # class 2 predicted but never true
    m = compute_metrics(true, pred, 3)
    assert m["per_class"]["2"]["recall"] == 0.0 and m["per_class"]["2"]["f1"] == 0.0
    assert m["uf1"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))
    assert m["uar"] == pytest.approx(recall_score(true, pred, average="macro", zero_division=0))


def test_empty_predictions_are_none_not_errors():
    m = compute_metrics(np.array([], int), np.array([], int), 3)
    assert m["n"] == 0 and m["uf1"] is None and m["uar"] is None and m["accuracy"] is None


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)


def test_auc_with_ties_and_missing_positives():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 50).astype(bool)
    s = np.round(rng.random(50), 1)  # many ties
    assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert binary_auc(np.zeros(5, bool), s[:5]) is None
    macro, per = roc_auc_ovr(
        np.array([0, 0, 1, 1]), np.array([[0.9, 0.1, 0], [0.6, 0.4, 0], [0.2, 0.8, 0], [0.3, 0.7, 0]])
    )
    assert per[2] is None and per[0] == 1.0 and macro == 1.0


def test_per_fold_numbers_use_each_fold_alone():
    rng = np.random.default_rng(7)
    for true, pred, probs in _random_folds(rng):
        m = compute_metrics(true, pred, 4, probs)
        assert m["uf1"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))
        assert m["n"] == len(true)
