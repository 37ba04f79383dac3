"""``mertool rescore PREDICTIONS.csv``: any code's per-sample predictions, scored by mertool's rules."""

from __future__ import annotations

import typer

from mertool.cli.common import JSON

HELP = """\
Score per-sample predictions made by any code (a published model's outputs, another toolkit's
LOSO run) by the rules eval-loso uses: pooled UF1, UAR and accuracy over every test sample, the
same per fold and per dataset, per-class precision/recall/F1, and a 95% bootstrap interval that
resamples subjects.

The CSV has a header row naming its columns, in any order: dataset, subject, sample, true,
predicted, and optionally fold (without it each dataset/subject is one fold: LOSO). Labels may
be names (negative, positive, surprise) or numbers.

Examples:

  mertool rescore their_predictions.csv
  mertool rescore preds.csv --classes negative,positive,surprise --json > scores.json
"""


def rescore(
    predictions: str = typer.Argument(..., metavar="PREDICTIONS.csv", help="One row per test sample."),
    classes: str | None = typer.Option(
        None, "--classes", metavar="A,B,...", help="Class order (default: the label map's, else sorted)."
    ),
    draws: int = typer.Option(1000, "--draws", min=0, help="Bootstrap draws (0: no interval)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap draws."),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE.json", help="Also write the scores as JSON to FILE."
    ),
    json_out: bool = JSON,
) -> None:
    from pathlib import Path

    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.evaluation.rescore import read_predictions_csv
    from mertool.evaluation.rescore import rescore as score
    from mertool.folds.report import metric_cells
    from mertool.store.json_files import write_json_atomic

    order = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    res = score(read_predictions_csv(predictions), order, draws=draws, seed=seed)
    if output:
        write_json_atomic(Path(output), res)
        info(f"scores written to {output}")
    if json_out:
        print_json(res)
        return

    def f(x):
        return "—" if x is None else f"{x:.4f}"

    ci = res["ci"]
    title = f"{predictions}: {res['n_samples']} samples, {res['n_subjects']} subjects, {res['n_folds']} folds"
    if ci.get("uf1"):
        title += f"\nUF1 95% CI [{ci['uf1'][0]:.3f}, {ci['uf1'][1]:.3f}] (subject bootstrap)"
    t = Table(title=title)
    for col in ("", "UF1", "UAR", "accuracy", "samples"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("pooled", f(res["uf1"]), f(res["uar"]), f(res["accuracy"]), str(res["n_samples"]))
    if len(res["per_dataset"]) > 1:
        for ds, m in res["per_dataset"].items():
            t.add_row(ds, f(m["uf1"]), f(m["uar"]), f(m["accuracy"]), str(m["n"]))
    means = {k: v["mean"] for k, v in res["per_fold_mean"].items()}
    t.add_row("per-fold mean", *metric_cells(means, f), "", style="dim")
    out.print(t)
    info(f"classes: {', '.join(res['classes'])}; folds from the {res['folds_from']}")


def register(app: typer.Typer) -> None:
    app.command("rescore", help=HELP)(rescore)
