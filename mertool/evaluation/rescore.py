"""Re-score any code's per-sample predictions by mertool's rules (``mertool rescore``).

Published MER models often ship only their predictions, scored by rules that differ from paper to
paper (per-fold averages, best epochs, dropped classes). :func:`rescore` takes one row per test
sample and computes what ``eval-loso`` reports: pooled UF1/UAR/accuracy (DESIGN section 3), the
same per fold, per dataset for a composite, the per-class table and the subject-bootstrap
interval (:mod:`mertool.evaluation.bootstrap`).

The CSV (:func:`read_predictions_csv`) has a header row; columns are found by name, in any order,
case-insensitive: ``dataset``, ``subject``, ``sample`` (an id; ``id``/``clip`` also accepted),
``true`` (``label``/``y_true``), ``predicted`` (``pred``/``prediction``/``y_pred``) and, optional,
``fold`` (without it every dataset/subject is its own fold: LOSO). Labels may be names or numbers;
the class order is ``--classes`` if given, else that of the smallest of mertool's label maps
holding every label, else sorted (numerically for numbers).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError

COLUMNS = {
    "dataset": ("dataset", "database", "db"),
    "subject": ("subject", "subj", "sub"),
    "sample": ("sample", "id", "sample_id", "clip", "filename"),
    "true": ("true", "label", "y_true", "target", "gt"),
    "predicted": ("predicted", "pred", "prediction", "y_pred"),
    "fold": ("fold",),
}
REQUIRED = ("subject", "true", "predicted")


def read_predictions_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows as dicts with the canonical keys of :data:`COLUMNS`; clear errors naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise MertoolError(f"{path}: no such file", hint="give a CSV with one row per test sample")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise MertoolError(f"{path} is empty", hint="the first row names the columns") from None
        names = [h.strip().lower() for h in header]
        where: dict[str, int] = {}
        for key, aliases in COLUMNS.items():
            for i, n in enumerate(names):
                if n in aliases:
                    where[key] = i
                    break
        missing = [k for k in REQUIRED if k not in where]
        if missing:
            raise MertoolError(
                f"{path}: no column for {', '.join(missing)} (header: {', '.join(header)})",
                hint="columns: dataset, subject, sample, true, predicted [, fold]",
            )
        rows = []
        for lineno, raw in enumerate(reader, start=2):
            if not any(c.strip() for c in raw):
                continue
            if len(raw) < len(header):
                raise MertoolError(
                    f"{path}, row {lineno}: {len(raw)} cells where the header has {len(header)}"
                )
            row = {k: raw[i].strip() for k, i in where.items()}
            for k in REQUIRED:
                if not row[k]:
                    raise MertoolError(f"{path}, row {lineno}: empty {k!r} cell")
            row.setdefault("dataset", "")
            row.setdefault("sample", f"row{lineno}")
            rows.append(row)
    if not rows:
        raise MertoolError(f"{path}: a header but no predictions")
    return rows


def class_order(labels: set[str], classes: list[str] | None = None) -> list[str]:
    """``classes`` if given (every label must be in it), else a label map's order, else sorted."""
    if classes:
        extra = sorted(labels - set(classes))
        if extra:
            raise MertoolError(f"labels {extra} are not in --classes {', '.join(classes)}")
        return list(classes)
    from mertool.datasets.labels import LABEL_MAPS

    fitting = sorted((len(lm.classes), name) for name, lm in LABEL_MAPS.items() if labels <= set(lm.classes))
    if fitting:
        return list(LABEL_MAPS[fitting[0][1]].classes)  # the smallest map that holds every label
    numeric = all(lab.lstrip("-").isdigit() for lab in labels)
    return sorted(labels, key=int) if numeric else sorted(labels)


def rescore(
    rows: list[dict[str, str]], classes: list[str] | None = None, draws: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Pooled, per-fold and per-dataset metrics of ``rows`` (see module docstring)."""
    from mertool.evaluation.bootstrap import subject_bootstrap
    from mertool.evaluation.metrics import compute_metrics

    order = class_order({r["true"] for r in rows} | {r["predicted"] for r in rows}, classes)
    k = len(order)
    index = {c: i for i, c in enumerate(order)}
    true = np.array([index[r["true"]] for r in rows], dtype=np.int64)
    pred = np.array([index[r["predicted"]] for r in rows], dtype=np.int64)
    subjects = [f"{r['dataset']}/{r['subject']}" if r["dataset"] else r["subject"] for r in rows]
    folds = [r.get("fold") or s for r, s in zip(rows, subjects)]
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (r["dataset"], r["sample"])
        if r["sample"] and not r["sample"].startswith("row") and key in seen:
            raise MertoolError(f"sample {r['sample']!r} ({r['dataset'] or 'no dataset'}) is listed twice")
        seen.add(key)
    pooled = compute_metrics(true, pred, k, None, order)
    fold_arr = np.asarray(folds, dtype=object)
    per_fold = []
    for f in sorted(set(folds)):
        m = compute_metrics(true[fold_arr == f], pred[fold_arr == f], k, None, order)
        per_fold.append({"fold": f, **{key: m[key] for key in ("n", "accuracy", "uf1", "uar")}})
    ds_arr = np.asarray([r["dataset"] for r in rows], dtype=object)
    per_dataset = {}
    for ds in sorted(set(ds_arr.tolist())):
        m = compute_metrics(true[ds_arr == ds], pred[ds_arr == ds], k, None, order)
        per_dataset[ds or "(none)"] = {key: m[key] for key in ("n", "accuracy", "uf1", "uar")}
    vals = {key: [p[key] for p in per_fold if p[key] is not None] for key in ("uf1", "uar", "accuracy")}
    return {
        "uf1": pooled["uf1"],
        "uar": pooled["uar"],
        "accuracy": pooled["accuracy"],
        "n_samples": pooled["n"],
        "classes": order,
        "ci": subject_bootstrap(true, pred, subjects, k, draws=draws, seed=seed),
        "per_class": pooled["per_class"],
        "confusion": pooled["confusion"],
        "per_fold": per_fold,
        "per_fold_mean": {
            key: {"mean": float(np.mean(v)) if v else None, "std": float(np.std(v)) if v else None}
            for key, v in vals.items()
        },
        "per_dataset": per_dataset,
        "n_folds": len(per_fold),
        "n_subjects": len(set(subjects)),
        "folds_from": "fold column" if any(r.get("fold") for r in rows) else "dataset/subject (LOSO)",
    }
