"""``mertool compare A B``: paired per-fold comparison of two eval-loso runs."""

from __future__ import annotations

import typer

from mertool.cli.common import JSON

HELP = """\
Compare two eval-loso results directories fold by fold: for UF1, UAR and accuracy, the mean
per-fold score of each, the mean difference (B - A), and a two-sided paired t-test over the folds
both runs finished (the t-tests of paper 004), with the p-value. Pooled numbers are shown beside.

Example:

  mertool compare results/dfr-add/ results/dfr-attn/
"""


def compare(
    dir_a: str = typer.Argument(..., metavar="RESULTS_DIR_A"),
    dir_b: str = typer.Argument(..., metavar="RESULTS_DIR_B"),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="Metric(s) to test: uf1, uar, accuracy (default: all three)."
    ),
    json_out: bool = JSON,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.errors import MertoolError
    from mertool.evaluation.compare import METRICS, compare_runs

    metrics = tuple(metric) if metric else METRICS
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise MertoolError(f"--metric {', '.join(bad)}: not one of {', '.join(METRICS)}")
    res = compare_runs(dir_a, dir_b, metrics)
    if json_out:
        print_json(res)
        return

    def f(x, d=4):
        return "—" if x is None else (f"{x:+.{d}f}" if d == -4 else f"{x:.{d}f}")

    table = Table(
        title=f"A = {escape(dir_a)} ({res['a']['arch']})   B = {escape(dir_b)} ({res['b']['arch']})"
    )
    for col in (
        "metric",
        "pooled A",
        "pooled B",
        "per-fold mean A",
        "per-fold mean B",
        "mean diff B-A",
        "t",
        "p",
        "folds",
    ):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for m, t in res["tests"].items():
        p = t["p"]
        p_txt = "—" if p is None else (f"[bold]{p:.4g}[/]" if p < 0.05 else f"{p:.4g}")
        table.add_row(
            m,
            f(t["pooled_a"]),
            f(t["pooled_b"]),
            f(t["mean_a"]),
            f(t["mean_b"]),
            "—" if t["mean_diff"] is None else f"{t['mean_diff']:+.4f}",
            "—" if t["t"] is None else f"{t['t']:.3f}",
            p_txt,
            str(t["n"]),
        )
    out.print(table)
    notes = {t["note"] for t in res["tests"].values() if t["note"]}
    for n in sorted(notes):
        info(f"note: {n}")
    if res["only_a"] or res["only_b"]:
        info(f"folds in only one run (left out): A {len(res['only_a'])}, B {len(res['only_b'])}")


def register(app: typer.Typer) -> None:
    from mertool.cli.common import help_text

    app.command("compare", help=help_text(HELP))(compare)
