"""Paired comparison of two evaluation runs over their common folds (paper 004's t-tests).

For each metric, the per-fold scores of run A and run B on the folds both finished are paired
and tested with a two-sided paired t-test (``scipy.stats.ttest_rel``). A fold where either run
has no score (an empty fold) is left out of that metric's pairs.

Degenerate cases are decided explicitly rather than by whatever NaN falls out: with fewer than
two pairs there is no test (``p`` is None); when every per-fold difference is the same number the
t statistic is undefined (zero variance): identical runs get ``p = 1`` and a constant non-zero
difference gets ``p = 0``, each with a note saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError

METRICS = ("uf1", "uar", "accuracy")


def _summary(path: Path) -> dict[str, Any]:
    from mertool.store.json_files import read_json

    p = Path(path)
    f = p / "summary.json" if p.is_dir() else p
    if not f.is_file():
        raise MertoolError(
            f"{path}: no summary.json",
            hint="give a results directory written by 'mertool eval-loso' (re-run it with --resume --report-only to rebuild the report)",
        )
    return read_json(f)


def paired_test(a: list[float], b: list[float]) -> dict[str, Any]:
    """Paired t-test of b - a (see module docstring for degenerate cases)."""
    from scipy import stats

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    d = y - x
    out: dict[str, Any] = {
        "n": int(len(d)),
        "mean_a": float(x.mean()) if len(x) else None,
        "mean_b": float(y.mean()) if len(y) else None,
        "mean_diff": float(d.mean()) if len(d) else None,
        "t": None,
        "p": None,
        "note": None,
    }
    if len(d) < 2:
        out["note"] = "fewer than two common folds: no test"
        return out
    if np.allclose(d, d[0], rtol=0.0, atol=1e-12):
        if abs(d[0]) <= 1e-12:
            out.update(t=0.0, p=1.0, note="identical per-fold scores")
        else:
            out.update(
                t=float(np.sign(d[0]) * np.inf),
                p=0.0,
                note="every fold differs by the same amount (zero variance)",
            )
        return out
    res = stats.ttest_rel(y, x)
    out.update(t=float(res.statistic), p=float(res.pvalue))
    return out


def compare_runs(dir_a: str | Path, dir_b: str | Path, metrics: tuple[str, ...] = METRICS) -> dict[str, Any]:
    """Compare two results directories fold by fold; JSON-ready."""
    sa, sb = _summary(Path(dir_a)), _summary(Path(dir_b))
    fa = {f["fold"]: f for f in sa["per_fold"]}
    fb = {f["fold"]: f for f in sb["per_fold"]}
    common = sorted(set(fa) & set(fb))
    if not common:
        raise MertoolError(
            f"{dir_a} and {dir_b} have no fold in common",
            hint="compare runs of the same protocol on the same data",
        )
    if (
        sa.get("data_fingerprint")
        and sb.get("data_fingerprint")
        and sa["data_fingerprint"] != sb["data_fingerprint"]
    ):
        from mertool.console import warn

        warn("the two runs were made on different data (fingerprints differ); the pairing may be meaningless")
    tests = {}
    for m in metrics:
        pairs = [
            (fa[f][m], fb[f][m]) for f in common if fa[f].get(m) is not None and fb[f].get(m) is not None
        ]
        tests[m] = {
            **paired_test([p[0] for p in pairs], [p[1] for p in pairs]),
            "pooled_a": sa.get(m),
            "pooled_b": sb.get(m),
        }
    return {
        "a": {
            "dir": str(dir_a),
            "arch": sa.get("arch"),
            "options": sa.get("options"),
            "protocol": sa.get("protocol"),
        },
        "b": {
            "dir": str(dir_b),
            "arch": sb.get("arch"),
            "options": sb.get("options"),
            "protocol": sb.get("protocol"),
        },
        "common_folds": len(common),
        "only_a": sorted(set(fa) - set(fb)),
        "only_b": sorted(set(fb) - set(fa)),
        "tests": tests,
    }
