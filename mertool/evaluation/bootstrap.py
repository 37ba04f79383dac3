"""Confidence intervals of pooled UF1 and UAR by resampling *subjects* (a cluster bootstrap).

A LOSO result is one draw: the few subjects of a MER dataset (CASME II has 26) decide most of
its spread, and samples of one subject are not independent. So the bootstrap resamples whole
subjects with replacement (each draw takes as many subjects as there are, every sample of a
drawn subject comes along, a subject drawn twice counts twice), recomputes the *pooled* metric on
the resampled predictions with the same rules as the headline number
(:func:`mertool.evaluation.metrics.compute_metrics`), and reports the percentile interval.

Inputs: ``y_true``, ``y_pred`` (N,) int class indices; ``groups`` (N,) subject keys (any
hashable, e.g. ``"casme2/sub01"``); ``num_classes`` K. Draws are seeded (``seed``), so the same
inputs give the same interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mertool.evaluation.metrics import confusion_matrix, per_class

DEFAULT_DRAWS = 1000
DEFAULT_LEVEL = 0.95


def subject_bootstrap(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: list | np.ndarray,
    num_classes: int,
    draws: int = DEFAULT_DRAWS,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    metrics: tuple[str, ...] = ("uf1", "uar"),
) -> dict[str, Any]:
    """Percentile intervals of pooled ``metrics`` over ``draws`` subject resamples.

    Returns ``{"uf1": [low, high], "uar": [low, high], "level": 0.95, "draws": 1000,
    "subjects": S, "resampled": "subjects", "seed": seed}``; a metric is ``None`` when there is
    nothing to resample (no samples, or no draw where it is defined).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    keys = np.asarray([str(g) for g in groups], dtype=object)
    if not (len(y_true) == len(y_pred) == len(keys)):
        raise ValueError("y_true, y_pred and groups differ in length")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    subjects = sorted(set(keys.tolist()))
    out: dict[str, Any] = {
        "level": level,
        "draws": int(draws),
        "subjects": len(subjects),
        "resampled": "subjects",
        "seed": int(seed),
    }
    if not subjects or draws < 1:
        return {**out, **{m: None for m in metrics}}
    rows = [np.flatnonzero(keys == s) for s in subjects]
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(draws):
        pick = rng.integers(0, len(subjects), len(subjects))
        idx = np.concatenate([rows[i] for i in pick])
        pc = per_class(confusion_matrix(y_true[idx], y_pred[idx], num_classes))
        if not pc.present.any():
            continue
        m = {"uf1": pc.f1[pc.present].mean(), "uar": pc.recall[pc.present].mean()}
        for name in metrics:
            values[name].append(float(m[name]))
    alpha = (1.0 - level) / 2.0
    for name in metrics:
        v = np.asarray(values[name], dtype=np.float64)
        out[name] = [float(np.quantile(v, alpha)), float(np.quantile(v, 1.0 - alpha))] if v.size else None
    return out
