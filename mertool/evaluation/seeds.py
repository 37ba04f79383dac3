"""One evaluation over several seeds: mean and standard deviation of the pooled metrics.

A fixed-seed LOSO run is one draw of the initialisation, shuffling and augmentation. ``eval-loso
--seeds N`` runs the same evaluation with seeds ``seed, seed+1, …, seed+N-1``, each into its own
results directory (``RESULTS_DIR/seed-<s>/``, a complete run that ``--resume``, ``compare`` and
``--report-only`` treat like any other), and writes ``RESULTS_DIR/seeds.json`` and ``seeds.md``:
per seed the pooled UF1, UAR and accuracy, and over the seeds their mean and sample standard
deviation (``ddof=1``; 0 for a single seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("uf1", "uar", "accuracy")
SEEDS_JSON = "seeds.json"


def seed_dirname(seed: int) -> str:
    return f"seed-{int(seed)}"


def aggregate_seeds(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"seeds": [...], "runs": [{seed, uf1, uar, accuracy, complete}], "mean": {...}, "std": {...}}``
    from the runs' ``summary.json`` contents; a metric missing from a run is left out of its mean."""
    runs = [
        {"seed": s.get("seed"), **{m: s.get(m) for m in METRICS}, "complete": bool(s.get("complete"))}
        for s in summaries
    ]
    mean: dict[str, float | None] = {}
    std: dict[str, float | None] = {}
    for m in METRICS:
        vals = np.asarray([r[m] for r in runs if r[m] is not None], dtype=np.float64)
        mean[m] = float(vals.mean()) if vals.size else None
        std[m] = float(vals.std(ddof=1)) if vals.size > 1 else (0.0 if vals.size else None)
    first = summaries[0] if summaries else {}
    return {
        "seeds": [r["seed"] for r in runs],
        "n_seeds": len(runs),
        "arch": first.get("arch"),
        "protocol": first.get("protocol"),
        "runs": runs,
        "mean": mean,
        "std": std,
        "std_note": "sample standard deviation over seeds (ddof=1)",
        "complete": all(r["complete"] for r in runs),
    }


def markdown(agg: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.4f}"

    lines = [
        f"# eval-loso over {agg['n_seeds']} seeds: {agg['arch']} ({agg['protocol']})",
        "",
        "Pooled metrics of each seed's full run; mean ± sample standard deviation over seeds.",
        "",
        "| seed | UF1 | UAR | accuracy | results |",
        "|---|---|---|---|---|",
    ]
    for r in agg["runs"]:
        lines.append(
            f"| {r['seed']} | {f(r['uf1'])} | {f(r['uar'])} | {f(r['accuracy'])} | "
            f"[{seed_dirname(r['seed'])}/]({seed_dirname(r['seed'])}/report.md)"
            + ("" if r["complete"] else " (partial)")
            + " |"
        )
    m, s = agg["mean"], agg["std"]
    lines += [
        f"| **mean ± std** | {f(m['uf1'])} ± {f(s['uf1'])} | {f(m['uar'])} ± {f(s['uar'])} | "
        f"{f(m['accuracy'])} ± {f(s['accuracy'])} | |",
        "",
    ]
    return "\n".join(lines)


def write_seed_report(out_dir: Path, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    from mertool.store.json_files import write_json_atomic, write_text_atomic

    agg = aggregate_seeds(summaries)
    write_json_atomic(Path(out_dir) / SEEDS_JSON, agg)
    write_text_atomic(Path(out_dir) / "seeds.md", markdown(agg))
    return agg


def console_table(agg: dict[str, Any]):
    from rich.table import Table

    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.4f}"

    t = Table(title=f"{agg['arch']} · {agg['protocol']} · {agg['n_seeds']} seeds (pooled metrics per seed)")
    for col in ("seed", "UF1", "UAR", "accuracy"):
        t.add_column(col, justify="right")
    for r in agg["runs"]:
        t.add_row(str(r["seed"]), f(r["uf1"]), f(r["uar"]), f(r["accuracy"]))
    m, s = agg["mean"], agg["std"]
    t.add_row(
        "mean ± std",
        f"{f(m['uf1'])} ± {f(s['uf1'])}",
        f"{f(m['uar'])} ± {f(s['uar'])}",
        f"{f(m['accuracy'])} ± {f(s['accuracy'])}",
        style="bold",
    )
    return t
