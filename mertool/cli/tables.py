"""``mertool tables``: the seed papers' tables, reproduced (``make table-*`` runs these)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mertool.cli import common as C
from mertool.cli.common import JSON

HELP = """\
Reproduce the seed papers' tables: one target per table, our numbers beside the paper's.

'mertool tables list' shows every target, the dataset roots it needs (the Make variables
CASME2, SAMM, SMIC, CKPLUS, RAFDB, WIDERFACE) and its rows. 'mertool tables run TARGET' prepares
the inputs with the pipeline stages (cached under RESULTS/cache), runs one eval-loso (or detector)
run per paper row with the paper's preset and the row's switches, and writes RESULTS/TARGET.md
and .csv. --smoke runs the same commands on tiny synthetic data in seconds to minutes.

Examples:

  mertool tables list
  mertool tables run table-004-3 --data CASME2=/data/CASME2 --data SAMM=/data/SAMM --data SMIC=/data/SMIC
  mertool tables run table-004-3 --smoke
  make table-004-3 CASME2=/data/CASME2 SAMM=/data/SAMM SMIC=/data/SMIC     (the same, resumable)
  mertool tables run table-004-3 --data ... --executor ray --address auto --gpus-per-fold 0.25
  make table-004-3 ... TABLES_EXECUTOR=ray RAY_ADDRESS=auto               (every row's folds at once)
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode="rich")


@app.command("list")
def list_targets(json_out: bool = JSON) -> None:
    """Every table target: the paper's table, the Make variables it needs, its rows."""
    from mertool.cli.common import print_json
    from mertool.console import out
    from mertool.tables.registry import EXPERIMENTS, TABLES, TARGETS
    from mertool.tables.spec import DATA_VARS

    items = []
    for t in TARGETS:
        exp, paper = EXPERIMENTS[t], TABLES[t]
        runs = {r.args for row in exp.rows for r in row.runs.values()}
        items.append(
            {
                "target": t,
                "smoke": f"{t}-smoke",
                "paper": paper.paper,
                "title": paper.title,
                "needs": list(exp.data),
                "rows": [row.name for row in exp.rows],
                "columns": list(paper.columns),
                "runs": len(runs),
            }
        )
    if json_out:
        print_json({"targets": items, "variables": {v: d.hint for v, d in DATA_VARS.items()}})
        return
    from rich.table import Table

    table = Table(title="table targets (make TARGET VAR=/path ...; make TARGET-smoke on synthetic data)")
    for col in ("target", "paper table", "needs", "rows"):
        table.add_column(col, overflow="fold")
    for it in items:
        needs = " ".join(f"{v}=" for v in it["needs"]) or "no dataset"
        table.add_row(it["target"], f"{it['paper']} {it['title']}", needs, "; ".join(it["rows"]))
    out.print(table)
    out.print("Variables: " + "; ".join(f"{v}: {d.hint}" for v, d in DATA_VARS.items()))


@app.command("run")
def run(
    targets: list[str] = typer.Argument(
        ..., metavar="TARGET...", help="Table target(s), e.g. table-004-3 (see 'mertool tables list')."
    ),
    smoke: bool = typer.Option(
        False, "--smoke", help="The same commands on tiny synthetic data (writes TARGET-smoke.md)."
    ),
    data: list[str] | None = typer.Option(
        None,
        "--data",
        metavar="VAR=ROOT",
        help="A dataset root, repeatable: CASME2, SAMM, SMIC, CKPLUS, RAFDB, WIDERFACE (empty ROOT = not given).",
    ),
    results: Path = typer.Option(
        Path("results"), "--results", metavar="DIR", help="Reports, runs and the input cache go here."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Re-use finished runs and folds in DIR (make passes it)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda (eval-loso and the detector)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every run (recorded in the report)."),
    workers: int = typer.Option(
        0, "--workers", "-j", min=0, help="eval-loso fold processes in real runs (0: one per core)."
    ),
    executor: str = C.EXECUTOR,
    address: str | None = C.ADDRESS,
    cpus_per_fold: float = C.CPUS_PER_FOLD,
    gpus_per_fold: float = C.GPUS_PER_FOLD,
) -> None:
    """Run table target(s): prepare inputs, one run per paper row, write DIR/TARGET.md and .csv
    (printed on stdout; progress on stderr)."""
    from mertool.cli.common import call_by_name
    from mertool.console import info, is_quiet
    from mertool.errors import MertoolError
    from mertool.tables.registry import get_experiment
    from mertool.tables.runner import Context, run_target
    from mertool.tables.spec import DATA_VARS

    given: dict[str, Path] = {}
    for item in data or []:
        var, sep, root = item.partition("=")
        var = var.strip().upper()
        if not sep or var not in DATA_VARS:
            raise MertoolError(f"--data {item!r}: expected VAR=ROOT with VAR one of {', '.join(DATA_VARS)}")
        if root.strip():
            given[var] = Path(root.strip())
    names = [get_experiment(t).target for t in targets]  # unknown names fail before any work
    executor = executor.strip().lower()
    if executor not in ("local", "ray"):
        raise MertoolError(f"--executor {executor!r}: use local or ray")
    address = address or None
    ctx = call_by_name(Context, locals(), quiet=is_quiet(), data=given)
    for name in names:
        md, csv_path = run_target(name, ctx)
        print(md.read_text(encoding="utf-8"))
        info(f"[green]written[/] {md} and {csv_path}")


@app.command("frames-as-samples")
def frames_as_samples(
    input: Path = typer.Argument(..., metavar="INPUT", help="A crop-rois file written with --keep-frames."),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="FILE", help="Sample file to write (atomically)."
    ),
) -> None:
    """Every frame of every clip as its own sample (same subject and label as its clip), for
    paper 003's "all frames" row: mertool crop-rois ... --keep-frames -o rois.h5, then
    mertool tables frames-as-samples rois.h5 -o frames.h5, then eval-loso frames.h5 --arch se-resnext50."""
    from mertool.console import info
    from mertool.store.provenance import command_line
    from mertool.tables.frames import expand_frames

    counts = expand_frames(input, output, command=command_line(sys.argv))
    info(
        f"{counts['frames']} frame samples from {counts['clips']} clips ({counts['failed']} failed) -> {output}"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(
        app, name="tables", help="The seed papers' tables, reproduced: list targets, run one (make table-*)."
    )
