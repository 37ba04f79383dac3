"""The pooled report of a results directory: ``summary.json``, ``report.md`` and the figures.

Headline numbers are computed once over the pooled predictions of every finished fold (DESIGN
section 3): UF1 = mean per-class F1 and UAR = mean per-class recall of the pooled confusion
matrix, accuracy, macro one-vs-rest ROC-AUC. Per-fold numbers (same rules, over each fold's own
samples) are listed beside them, and for a file holding several datasets (the MEGC2019
composite) the pooled predictions restricted to each dataset give paper 004's per-dataset
columns. Unfinished folds are named in the report, which then says it is partial.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from mertool import __version__
from mertool.errors import MertoolError
from mertool.evaluation.metrics import compute_metrics
from mertool.folds.results import CONFIG, SUMMARY, load_curves, load_folds
from mertool.store.json_files import read_json, write_json_atomic, write_text_atomic


def sample_groups_of(fold: dict[str, Any]) -> list[str]:
    """The subject key of every test sample of a fold record (records before mertool kept
    ``groups`` per sample: a LOSO fold's single test subject, else the fold name)."""
    n = len(fold["true"])
    if fold.get("groups"):
        return list(fold["groups"])
    tg = fold.get("test_groups") or []
    return [tg[0] if len(tg) == 1 else fold["fold"]] * n


def _selection_bias(out_dir: Path, folds: list[dict[str, Any]], k: int) -> dict[str, Any] | None:
    """Selection-bias block over the folds that recorded a test curve (honest number over the
    same folds)."""
    from mertool.evaluation.selection_bias import selection_bias

    finished = {f["fold"]: f for f in folds}
    curves = [c for c in load_curves(out_dir) if c["fold"] in finished]
    if not curves:
        return None
    # the curve lists test samples in fold order; the honest predictions follow the same ids
    true, pred = [], []
    for c in curves:
        f = finished[c["fold"]]
        by_id = dict(zip(f["ids"], f["pred"]))
        true += c["true"]
        pred += [by_id[i] for i in c["ids"]]
    honest = compute_metrics(np.array(true, dtype=np.int64), np.array(pred, dtype=np.int64), k)
    return selection_bias(curves, honest, k)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def build_summary(out_dir: Path) -> dict[str, Any]:
    """Pool every finished fold of ``out_dir`` (see module docstring)."""
    cfg_path = out_dir / CONFIG
    if not cfg_path.is_file():
        raise MertoolError(f"{out_dir} is not an eval-loso results directory (no {CONFIG})")
    meta = read_json(cfg_path)
    identity = meta["identity"]
    classes = identity["classes"]
    k = len(classes)
    folds = load_folds(out_dir)
    all_folds = identity["folds"]
    have = {f["fold"] for f in folds}
    missing = [f for f in all_folds if f not in have]
    cfg = identity["config"]

    true = np.array([t for f in folds for t in f["true"]], dtype=np.int64)
    pred = np.array([p for f in folds for p in f["pred"]], dtype=np.int64)
    probs = np.array([p for f in folds for p in f["probs"]], dtype=np.float64).reshape(-1, k)
    datasets = [d for f in folds for d in f["datasets"]]
    subjects = [g for f in folds for g in sample_groups_of(f)]
    pooled = compute_metrics(true, pred, k, probs if len(true) else None, classes)
    from mertool.evaluation.bootstrap import subject_bootstrap

    ci = subject_bootstrap(true, pred, subjects, k, seed=int(identity["config"].get("seed") or 0))

    per_fold = []
    for f in folds:
        m = compute_metrics(
            np.array(f["true"]), np.array(f["pred"]), k, np.array(f["probs"]).reshape(-1, k), classes
        )
        per_fold.append(
            {
                "fold": f["fold"],
                "test_groups": f.get("test_groups", []),
                "n": m["n"],
                "accuracy": m["accuracy"],
                "uf1": m["uf1"],
                "uar": m["uar"],
                "auc": m["auc"],
                "classes_present": m["classes_present"],
                "best_epoch": f.get("best_epoch"),
                "epochs_run": f.get("epochs_run"),
                "selected_on": f.get("selected_on"),
                "stopped_early": f.get("stopped_early"),
                "val_groups": f.get("val_groups", []),
                "n_train": f.get("n_train"),
                "seconds": f.get("seconds"),
            }
        )
    per_dataset = {}
    ds_arr = np.asarray(datasets, dtype=object)
    for ds in sorted(set(datasets)):
        mask = ds_arr == ds
        m = compute_metrics(true[mask], pred[mask], k, probs[mask], classes)
        per_dataset[ds] = {key: m[key] for key in ("n", "uf1", "uar", "accuracy", "auc")}

    def mean_std(key: str) -> dict[str, float | None]:
        vals = [p[key] for p in per_fold if p[key] is not None]
        if not vals:
            return {"mean": None, "std": None}
        return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}

    summary = {
        "uf1": pooled["uf1"],
        "uar": pooled["uar"],
        "accuracy": pooled["accuracy"],
        "auc": pooled["auc"],
        "ci": ci,
        "n_samples": pooled["n"],
        "complete": not missing,
        "n_folds": len(all_folds),
        "n_folds_complete": len(folds),
        "folds_missing": missing,
        "protocol": cfg.get("protocol"),
        "arch": cfg.get("arch"),
        "options": cfg.get("options"),
        "preset": cfg.get("preset"),
        "label_map": identity.get("label_map"),
        "classes": classes,
        "seed": cfg.get("seed"),
        "per_class": pooled["per_class"],
        "confusion": pooled["confusion"],
        "per_dataset": per_dataset,
        "per_fold": per_fold,
        "per_fold_mean": {key: mean_std(key) for key in ("accuracy", "uf1", "uar")},
        "selection_bias": _selection_bias(out_dir, folds, k),
        "model_selection": sorted({p["selected_on"] for p in per_fold if p.get("selected_on")}),
        "config": cfg,
        "data_fingerprint": identity.get("data"),
        "input": meta.get("input"),
        "skipped_samples": len(meta.get("skipped_samples", [])),
        "command": meta.get("command"),
        "mertool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return summary


def write_report(out_dir: Path, plots: bool = True) -> dict[str, Any]:
    """Write summary.json, report.md and the PNG figures; return the summary."""
    summary = build_summary(out_dir)
    figures: dict[str, str] = {}
    if plots and summary["n_samples"]:
        from mertool.evaluation.plots import confusion_png, curves_png

        classes = summary["classes"]
        cm = np.array(summary["confusion"])
        title = f"{summary['arch']} {summary['protocol']}: UF1 {_fmt(summary['uf1'], 3)}, UAR {_fmt(summary['uar'], 3)}"
        figures["confusion"] = confusion_png(cm, classes, title, out_dir / "confusion.png").name
        if len(summary["per_dataset"]) > 1:
            folds = load_folds(out_dir)
            for ds in summary["per_dataset"]:
                t = [t for f in folds for t, d in zip(f["true"], f["datasets"]) if d == ds]
                p = [p for f in folds for p, d in zip(f["pred"], f["datasets"]) if d == ds]
                from mertool.evaluation.metrics import confusion_matrix

                cmd = confusion_matrix(np.array(t), np.array(p), len(classes))
                m = summary["per_dataset"][ds]
                name = f"confusion_{ds}.png"
                confusion_png(
                    cmd, classes, f"{ds}: UF1 {_fmt(m['uf1'], 3)}, UAR {_fmt(m['uar'], 3)}", out_dir / name
                )
                figures[f"confusion_{ds}"] = name
        folds = load_folds(out_dir)
        histories = {f["fold"]: f.get("history", []) for f in folds}
        best = {f["fold"]: f.get("best_epoch") or 0 for f in folds}
        figures["curves"] = curves_png(histories, out_dir / "curves.png", best).name
    summary["figures"] = figures
    write_json_atomic(out_dir / SUMMARY, summary)
    write_text_atomic(out_dir / "report.md", markdown(summary))
    return summary


def markdown(s: dict[str, Any]) -> str:
    """The human report (report.md)."""
    lines = [f"# eval-loso: {s['arch']} ({s['protocol']})", ""]
    if not s["complete"]:
        lines += [
            f"**Partial:** {s['n_folds_complete']} of {s['n_folds']} folds finished; missing: "
            + ", ".join(s["folds_missing"][:30])
            + (" …" if len(s["folds_missing"]) > 30 else "")
            + ". Numbers below pool the finished folds only.",
            "",
        ]
    pm = s["per_fold_mean"]
    lines += [
        "Pooled over the predictions of every finished fold (UF1 = mean per-class F1, UAR = mean",
        "per-class recall of the pooled confusion matrix); per-fold mean ± std beside it.",
        "",
        "| | UF1 | UAR | accuracy | ROC-AUC | samples |",
        "|---|---|---|---|---|---|",
        f"| pooled | {_fmt(s['uf1'])} | {_fmt(s['uar'])} | {_fmt(s['accuracy'])} | {_fmt(s['auc'])} | {s['n_samples']} |",
        f"| per-fold mean | {_fmt(pm['uf1']['mean'])} ± {_fmt(pm['uf1']['std'], 3)} | "
        f"{_fmt(pm['uar']['mean'])} ± {_fmt(pm['uar']['std'], 3)} | "
        f"{_fmt(pm['accuracy']['mean'])} ± {_fmt(pm['accuracy']['std'], 3)} | | |",
        "",
    ]
    ci = s.get("ci") or {}
    if ci.get("uf1"):
        lines += [
            f"{ci['level']:.0%} bootstrap interval, resampling the {ci['subjects']} test subjects "
            f"({ci['draws']} draws): UF1 {_ci(ci['uf1'])}, UAR {_ci(ci.get('uar'))}. A single run is one "
            "draw; `--seeds N` repeats it over N seeds.",
            "",
        ]
    sb = s.get("selection_bias")
    if sb:
        lines += selection_bias_lines(sb)
    if len(s["per_dataset"]) > 1:
        lines += ["## Per dataset (pooled predictions restricted to each dataset)", ""]
        lines += ["| dataset | UF1 | UAR | accuracy | samples |", "|---|---|---|---|---|"]
        lines.append(
            f"| Full | {_fmt(s['uf1'])} | {_fmt(s['uar'])} | {_fmt(s['accuracy'])} | {s['n_samples']} |"
        )
        for ds, m in s["per_dataset"].items():
            lines.append(f"| {ds} | {_fmt(m['uf1'])} | {_fmt(m['uar'])} | {_fmt(m['accuracy'])} | {m['n']} |")
        lines.append("")
    lines += [
        "## Per class (pooled)",
        "",
        "| class | precision | recall | F1 | ROC-AUC | support | predicted |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, m in s["per_class"].items():
        lines.append(
            f"| {c} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['f1'])} | {_fmt(m['auc'])} | {m['support']} | {m['predicted']} |"
        )
    lines += ["", "A class with no support and no predictions is absent (—) and left out of UF1/UAR.", ""]
    lines += [
        "## Per fold",
        "",
        "| fold | samples | accuracy | UF1 | UAR | kept epoch | selected on | validation subjects |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in s["per_fold"]:
        kept = f"{f['best_epoch']}/{f['epochs_run']}" + (" (early stop)" if f.get("stopped_early") else "")
        lines.append(
            f"| {f['fold']} | {f['n']} | {_fmt(f['accuracy'], 3)} | {_fmt(f['uf1'], 3)} | {_fmt(f['uar'], 3)} | {kept} | "
            f"{f.get('selected_on') or '—'} | {', '.join(f.get('val_groups') or []) or '—'} |"
        )
    lines.append("")
    if s.get("figures"):
        lines += ["## Figures", ""]
        for key, name in s["figures"].items():
            lines.append(f"![{key}]({name})")
        lines.append("")
    cfg = s["config"]
    fit = cfg.get("fit", {})
    lines += [
        "## How this was made",
        "",
        f"- command: `{s.get('command')}`",
        f"- model: `{s['arch']}` options {s.get('options') or {}}; preset: {s.get('preset') or 'none'}",
        f"- training: {fit.get('optimizer')} lr {fit.get('lr')}, {fit.get('epochs')} epochs, batch {fit.get('batch_size')}, "
        f"schedule {fit.get('schedule')}, loss {fit.get('loss')}, augment {cfg.get('augment')}, "
        f"early stop {fit.get('early_stop') or 'off'} on {cfg.get('val_subjects')} validation subject(s)",
        f"- model selection: {', '.join(s['model_selection']) or '—'} (never the test fold)",
        f"- label map: {s['label_map']} ({', '.join(s['classes'])}); seed {s['seed']}; skipped samples: {s['skipped_samples']}",
        f"- data fingerprint: `{(s.get('data_fingerprint') or '')[:16]}…`; mertool {s['mertool_version']}",
        "",
    ]
    return "\n".join(lines)


def _ci(interval: list[float] | None) -> str:
    return "—" if not interval else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def selection_bias_lines(sb: dict[str, Any]) -> list[str]:
    """report.md section of the selection-bias block (:mod:`mertool.evaluation.selection_bias`)."""
    per, com, inf = sb["best_epoch_per_fold"], sb["best_common_epoch"], sb["inflation"]

    def signed(x: float | None) -> str:
        return "—" if x is None else f"{x:+.4f}"

    return [
        "## Selection bias (what choosing epochs on the test fold would have claimed)",
        "",
        f"Every epoch's test predictions of {sb['folds']} fold(s) were recorded apart "
        "(`folds/*/test_curve.json`); nothing above used them.",
        "",
        "| model choice | UF1 | UAR | UF1 inflation |",
        "|---|---|---|---|",
        f"| honest (this report) | {_fmt(sb['honest']['uf1'])} | {_fmt(sb['honest']['uar'])} | |",
        f"| best epoch per test fold | {_fmt(per['uf1'])} | {_fmt(per['uar'])} | "
        f"{signed(inf['best_epoch_per_fold']['uf1'])} |",
        f"| best single epoch for all folds (epoch {com['epoch']}) | {_fmt(com['uf1'])} | {_fmt(com['uar'])} | "
        f"{signed(inf['best_common_epoch']['uf1'])} |",
        "",
    ]


def metric_cells(m: dict[str, Any], fmt: Any) -> list[str]:
    """UF1, UAR and accuracy of a metrics record, formatted: the first columns of every row of the
    console tables (``eval-loso``, ``rescore``)."""
    return [fmt(m["uf1"]), fmt(m["uar"]), fmt(m["accuracy"])]


def console_table(s: dict[str, Any]):
    """A rich Table of the headline numbers (and per-dataset rows for a composite)."""
    from rich.table import Table

    title = f"{s['arch']} · {s['protocol']} · {s['n_folds_complete']}/{s['n_folds']} folds · {s['n_samples']} samples"
    ci = s.get("ci") or {}
    if ci.get("uf1"):
        title += f"\nUF1 {ci['level']:.0%} CI {_ci(ci['uf1'])} · UAR {_ci(ci.get('uar'))} (subject bootstrap)"
    t = Table(title=title)
    for col in ("", "UF1", "UAR", "accuracy", "ROC-AUC", "samples"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row(
        "pooled" if len(s["per_dataset"]) <= 1 else "Full",
        _fmt(s["uf1"]),
        _fmt(s["uar"]),
        _fmt(s["accuracy"]),
        _fmt(s["auc"]),
        str(s["n_samples"]),
    )
    if len(s["per_dataset"]) > 1:
        for ds, m in s["per_dataset"].items():
            t.add_row(ds, _fmt(m["uf1"]), _fmt(m["uar"]), _fmt(m["accuracy"]), _fmt(m["auc"]), str(m["n"]))
    means = {k: v["mean"] for k, v in s["per_fold_mean"].items()}
    t.add_row("per-fold mean", *metric_cells(means, _fmt), "", "", style="dim")
    sb = s.get("selection_bias")
    if sb:
        per, com = sb["best_epoch_per_fold"], sb["best_common_epoch"]
        for label, m in (("best epoch per test fold", per), (f"best common epoch ({com['epoch']})", com)):
            t.add_row(label, *metric_cells(m, _fmt), "", "", style="red")
    return t
