"""``mertool eval-loso``: leave-one-subject-out (or k-fold, composite, fixed split) evaluation."""

from __future__ import annotations

import sys
from typing import Any

import typer

from mertool.cli import common as C
from mertool.cli.common import help_text
from mertool.cli.training_options import P_RUN, P_TRAIN, SAMPLES, PresetHelpCommand, _opt, with_shared_options

HELP = """\
Evaluate an architecture fold by fold and report pooled UF1, UAR, accuracy, per-class
precision/recall/F1, ROC-AUC and confusion matrices.

Protocols: loso (one fold per subject; default), kfold:K (stratified, whole subjects per fold,
paper 001), composite (MEGC2019: LOSO over dataset/subject with Full/SMIC/CASME II/SAMM columns,
paper 004), split (a dataset's fixed train/test split, RAF-DB). Headline numbers are computed on
the pooled predictions of all folds; epochs and early stops are chosen on validation subjects
drawn from each fold's training subjects, never on its test subject.

RESULTS_DIR gets folds/<fold>/predictions.json per finished fold, summary.json (uf1, uar,
accuracy, per-fold list, per-class, per-dataset), report.md and PNG confusion matrices and
curves. Folds are independent: --resume skips finished ones (a killed run loses at most the folds
in progress), and --folds / --shard i/n run a subset into the same directory (several machines
can share one run); the report covers whatever is finished and names what is missing.

Examples:

  mertool eval-loso flow.h5 --arch dfr-net --epochs 20 -o results/
  mertool eval-loso megc.h5 --preset dfr-net-004 -o results/dfr/
  mertool eval-loso flow.h5 --arch dfr-net --shard 2/4 -o results/
  mertool eval-loso flow.h5 --arch dfr-net --resume -o results/
  mertool eval-loso flow.h5 --arch dfr-net --seeds 5 -o results/     # mean ± std over 5 seeds
  mertool eval-loso flow.h5 --arch dfr-net --selection-bias -o results/   # what test-fold epoch picking claims
  mertool eval-loso megc.h5 --preset dfr-net-004 --executor ray --address auto --gpus-per-fold 0.25 -o results/dfr/

Every summary.json carries a 95% bootstrap interval of pooled UF1 and UAR that resamples test
subjects ("ci"). A user model runs by the same rules: --arch path/to/model.py:ClassName
(docs/python-api.md).
"""


@with_shared_options
def eval_loso(
    input: str = SAMPLES,
    output: str = typer.Option(..., "--output", "-o", metavar="RESULTS_DIR", help="Results directory."),
    protocol: str | None = typer.Option(
        None, "--protocol", help="loso (default), kfold:K, composite or split.", rich_help_panel=P_TRAIN
    ),
    folds: str | None = _opt(
        "--folds", "Run only these folds (subject, dataset/subject or foldN).", P_RUN, metavar="FOLD,..."
    ),
    shard: str | None = _opt("--shard", "Run shard I of N (folds dealt round-robin).", P_RUN, metavar="I/N"),
    resume: bool = typer.Option(
        False, "--resume", help="Skip folds already finished in RESULTS_DIR.", rich_help_panel=P_RUN
    ),
    report_only: bool = typer.Option(
        False,
        "--report-only",
        help="Train nothing; rebuild the report from the finished folds.",
        rich_help_panel=P_RUN,
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        "-j",
        min=0,
        help="Fold processes (0: one per core on CPU, one per GPU on CUDA).",
        rich_help_panel=P_RUN,
    ),
    save_models: bool = typer.Option(
        False, "--save-models", help="Keep each fold's model file.", rich_help_panel=P_RUN
    ),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG figures.", rich_help_panel=P_RUN),
    json_out: bool = typer.Option(
        False, "--json", help="Print summary.json on stdout instead of the table.", rich_help_panel=P_RUN
    ),
    seeds: int = typer.Option(
        1,
        "--seeds",
        min=1,
        help="Repeat the whole evaluation with seeds SEED..SEED+N-1 (RESULTS_DIR/seed-<s>/ each) and "
        "report mean ± std of the pooled metrics (seeds.json, seeds.md).",
        rich_help_panel=P_RUN,
    ),
    selection_bias: bool = typer.Option(
        False,
        "--selection-bias",
        help="Also record every epoch's test-fold predictions (folds/*/test_curve.json, never used for "
        "any choice) and report what picking the best epoch on the test fold would have claimed.",
        rich_help_panel=P_RUN,
    ),
    executor: str = C.EXECUTOR,
    address: str | None = C.ADDRESS,
    cpus_per_fold: float = C.CPUS_PER_FOLD,
    gpus_per_fold: float = C.GPUS_PER_FOLD,
    training: dict[str, Any] | None = None,
) -> None:
    from rich.markup import escape

    from mertool.cli.common import print_json
    from mertool.console import err, info, out
    from mertool.folds.report import console_table
    from mertool.folds.run import run_evaluation, run_seeds
    from mertool.store.provenance import command_line
    from mertool.training import options
    from mertool.training.prepare import prepared_samples

    command = command_line(sys.argv)
    t = {**(training or {}), "protocol": protocol}
    cfg = options.run_config(t)
    fold_names = [f for f in folds.split(",") if f.strip()] if folds else None
    run_executor = make_executor(
        executor, address, cpus_per_fold, gpus_per_fold, t["threads"], t["device"].value
    )
    run_options = dict(
        fold_names=fold_names,
        shard=shard,
        resume=resume,
        workers=workers,
        threads=t["threads"],
        device=t["device"].value,
        save_models=save_models,
        report_only=report_only,
        plots=not no_plots,
        test_curve=selection_bias,
        command=command,
        executor=run_executor,
    )
    try:
        with prepared_samples(input, options.input_stage(cfg), dataset=t["dataset"], command=command) as sf:
            if seeds > 1:
                outcomes = run_seeds(sf, cfg, output, seeds, **run_options)
            else:
                outcomes = [run_evaluation(sf, cfg, output, **run_options)]
    except KeyboardInterrupt as stop:
        outcome = stop.args[0] if stop.args else None
        if outcome is not None:
            s = outcome.summary
            err.print(console_table(s))
            err.print(
                f"[red]interrupted[/]: {s['n_folds_complete']} of {s['n_folds']} folds finished and kept in "
                f"{escape(str(output))}; continue with the same command plus --resume"
            )
        raise
    if seeds > 1:
        from mertool.evaluation.seeds import SEEDS_JSON, aggregate_seeds
        from mertool.evaluation.seeds import console_table as seeds_table

        agg = aggregate_seeds([o.summary for o in outcomes])
        if json_out:
            print_json(agg)
        else:
            out.print(seeds_table(agg))
        info(f"per-seed reports: {output}/seed-*/report.md; over seeds: {output}/{SEEDS_JSON}, seeds.md")
    failed = False
    for outcome in outcomes:
        s = outcome.summary
        if seeds == 1:
            if json_out:
                print_json(s)
            else:
                out.print(console_table(s))
        for name, reason in outcome.failed:
            err.print(f"[red]seed {s['seed']} fold {escape(name)} failed[/]: {escape(reason)}")
        failed = failed or bool(outcome.failed)
        if seeds == 1:
            where = f"{output}/summary.json, report.md" + (
                ", confusion.png, curves.png" if s.get("figures") else ""
            )
            info(
                f"{len(outcome.ran)} fold(s) run, {len(outcome.skipped)} resumed; report: {where}"
                + (
                    ""
                    if s["complete"]
                    else f"  [yellow](partial: {len(s['folds_missing'])} fold(s) missing)[/]"
                )
            )
    if failed:
        raise typer.Exit(1)


def make_executor(
    name: str, address: str | None, cpus_per_fold: float, gpus_per_fold: float, threads: int, device: str
) -> Any:
    """``"local"`` or the :class:`~mertool.folds.ray_executor.RayExecutor` the options ask for."""
    from mertool.errors import MertoolError

    name = name.strip().lower()
    if name == "local":
        if gpus_per_fold or cpus_per_fold != 1.0:
            raise MertoolError(
                "--cpus-per-fold / --gpus-per-fold are Ray task sizes: add --executor ray",
                hint="locally, --workers and --threads size the fold processes",
            )
        return "local"
    if name != "ray":
        raise MertoolError(f"--executor {name!r}: use local or ray")
    from mertool.folds.ray_executor import RayExecutor

    return RayExecutor(address or None, cpus_per_fold, gpus_per_fold, threads, device=device)


def register(app: typer.Typer) -> None:
    app.command("eval-loso", help=help_text(HELP), cls=PresetHelpCommand)(eval_loso)
