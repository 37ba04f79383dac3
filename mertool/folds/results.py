"""The layout of a results directory, and reading it back.

::

    RESULTS_DIR/config.json                     what the run is (config, protocol, data fingerprint)
    RESULTS_DIR/folds/<fold>/predictions.json   ids, true, pred, probs, history, selection ids
    RESULTS_DIR/folds/<fold>/metrics.json       the fold's own metrics
    RESULTS_DIR/folds/<fold>/test_curve.json    --selection-bias only: every epoch's test predictions
    RESULTS_DIR/folds/<fold>/model.pt           the fold's model file (--save-models)
    RESULTS_DIR/summary.json, report.md, confusion*.png, curves.png   (:mod:`mertool.folds.report`)

A fold is *finished* when its ``predictions.json`` exists; it is written atomically as the fold's
last file, so a killed run loses at most the folds in progress. The files are written by the
driver process only (:func:`mertool.folds.fold.write_fold`), whichever executor computed the fold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mertool.evaluation.protocols import Fold
from mertool.store.json_files import read_json

PREDICTIONS = "predictions.json"
TEST_CURVE = "test_curve.json"  # --selection-bias: every epoch's test predictions, never used for a choice
METRICS = "metrics.json"
CONFIG = "config.json"
SUMMARY = "summary.json"
MODEL = "model.pt"
FOLDS_DIR = "folds"


def fold_dir(out_dir: Path, fold: Fold | str) -> Path:
    name = fold.dirname if isinstance(fold, Fold) else Fold(fold, np.zeros(0), np.zeros(0)).dirname
    return out_dir / FOLDS_DIR / name


def is_finished(out_dir: Path, fold: Fold) -> bool:
    return (fold_dir(out_dir, fold) / PREDICTIONS).is_file()


def load_folds(out_dir: Path) -> list[dict[str, Any]]:
    """Every finished fold's predictions record, sorted by fold name."""
    root = out_dir / FOLDS_DIR
    recs = [read_json(p) for p in sorted(root.glob(f"*/{PREDICTIONS}"))] if root.is_dir() else []
    return sorted(recs, key=lambda r: r["fold"])


def load_curves(out_dir: Path) -> list[dict[str, Any]]:
    """Every fold's ``test_curve.json`` (``eval-loso --selection-bias``), sorted by fold name."""
    root = out_dir / FOLDS_DIR
    recs = [read_json(p) for p in sorted(root.glob(f"*/{TEST_CURVE}"))] if root.is_dir() else []
    return sorted(recs, key=lambda r: r["fold"])
