"""``eval-loso`` as a function: load the data, plan the folds, compute them on an executor,
write each finished fold, and write the pooled report (also after Ctrl-C).

:func:`run_evaluation` is the one entry the CLI, the table runner and the Python API call;
:func:`run_seeds` repeats it over seeds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mertool.evaluation.protocols import parse_protocol
from mertool.folds.executors import Executor, FoldJob, LocalExecutor
from mertool.folds.fold import FoldOutput, cannot_write, write_fold
from mertool.folds.plan import RunPlan, lock_folds, plan_run, write_config
from mertool.folds.progress import FoldProgress
from mertool.folds.results import CONFIG
from mertool.training.config import RunConfig


@dataclass
class RunOutcome:
    summary: dict[str, Any]
    ran: list[str]  # folds finished by this run
    failed: list[tuple[str, str]]  # (fold, reason)
    skipped: list[str]  # folds already finished (resume)
    interrupted: bool
    workers: int
    threads: int
    devices: list[str]


def execute(
    plan: RunPlan,
    executor: Executor,
    view: FoldProgress,
    save_models: bool,
    test_curve: bool,
    command: str | None = None,
) -> None:
    """Compute ``plan.todo`` on ``executor`` and write each fold as it comes back; ``view``
    keeps the finished and failed folds even when the run is interrupted."""
    job = FoldJob(plan.table, plan.groups, plan.cfg, save_models, test_curve, command)

    def on_output(output: FoldOutput) -> None:
        try:
            summary = write_fold(plan.out_dir, output)
        except OSError as exc:  # the results directory cannot take the fold's files: stop the run
            raise cannot_write(plan.out_dir, output.fold, exc) from exc
        view("fold_done", output.fold, summary)

    with view:
        executor.run(job, plan.todo, view, on_output)


def run_evaluation(
    source: Any,
    cfg: RunConfig,
    out_dir: str | Path,
    fold_names: list[str] | None = None,
    shard: str | None = None,
    resume: bool = False,
    workers: int = 0,
    threads: int = 0,
    device: str = "auto",
    save_models: bool = False,
    report_only: bool = False,
    plots: bool = True,
    command: str | None = None,
    test_curve: bool = False,
    executor: str | Executor = "local",
    progress: bool = True,
) -> RunOutcome:
    """Load the data, run the selected folds, and write the pooled report (also after Ctrl-C).

    ``executor``: ``"local"`` (this machine: ``workers``, ``threads``, ``device``), ``"ray"`` (a
    local Ray instance, :class:`~mertool.folds.ray_executor.RayExecutor` with its defaults) or
    an executor instance (a RayExecutor joining a cluster). A cluster is connected to and checked
    before anything is written into ``out_dir``. ``progress=False`` shows no live bars (runs in
    threads of one process share one terminal)."""
    from mertool.console import info
    from mertool.store import SampleFile
    from mertool.store.provenance import sha256_file
    from mertool.training.trainer import load_samples

    out_dir = Path(out_dir)
    protocol = parse_protocol(cfg.protocol)
    if protocol.name == "composite" and cfg.label_map is None:
        cfg.label_map = "megc2019"
    table = load_samples(source, cfg)
    if table.skipped:
        info(
            f"[yellow]{len(table.skipped)} sample(s) skipped[/] (listed in {out_dir / CONFIG}): "
            + "; ".join(f"{sid}: {why}" for sid, why in table.skipped[:3])
            + (" …" if len(table.skipped) > 3 else "")
        )
    plan = plan_run(table, cfg, out_dir, fold_names, shard, resume)
    if cfg.val_subjects and plan.folds:
        g = np.asarray(plan.groups, dtype=object)
        fewest = min(len(set(g[f.train])) for f in plan.folds)
        if cfg.val_subjects * 3 > fewest:
            from mertool.console import warn

            warn(
                f"--val-subjects {cfg.val_subjects} holds out {min(cfg.val_subjects, fewest - 1)} of as few as "
                f"{fewest} training subjects per fold for validation; consider fewer on a dataset this small"
            )
    path = source.path if isinstance(source, SampleFile) else Path(source)
    name = source.name if isinstance(source, SampleFile) else str(source)
    src = {"path": name, "sha256": sha256_file(path) if path.is_file() else None}
    if isinstance(executor, str):
        executor = _make_executor(executor, workers, threads, device, len(plan.folds))
    prepare = getattr(executor, "prepare", None)
    if prepare is not None and plan.todo and not report_only:
        prepare()  # connect and check the cluster up front: a bad address writes nothing
    locks = [] if report_only else lock_folds(plan)
    try:
        return _run_locked(plan, src, command, executor, save_models, report_only, plots, test_curve,
                           progress)  # fmt: skip
    finally:
        for lock in locks:  # released here, not by garbage collection: a Ctrl-C's traceback
            lock.release()  # keeps this frame (and any lock it held) alive


def _make_executor(spec: str, workers: int, threads: int, device: str, n_folds: int) -> Executor:
    """The executor named by ``spec`` (``local`` or ``ray``)."""
    if spec == "local":
        from mertool.training.device import resolve_device

        return LocalExecutor(resolve_device(device), workers, threads, n_folds)
    if spec == "ray":
        from mertool.folds.ray_executor import RayExecutor

        return RayExecutor(threads=threads, device=device)
    from mertool.errors import MertoolError

    raise MertoolError(f"--executor {spec!r}: use local or ray")


def _run_locked(plan, src, command, executor, save_models, report_only, plots, test_curve,
                progress=True) -> RunOutcome:  # fmt: skip
    """The body of :func:`run_evaluation` once its folds are locked."""
    from mertool.console import info
    from mertool.folds.report import write_report

    write_config(plan, src, command)
    devices = list(getattr(executor, "devices", []))
    plan_of = getattr(executor, "plan", None)
    n_workers, n_threads = plan_of(len(plan.todo)) if plan_of else (0, 0)
    if plan.skipped:
        info(f"{len(plan.skipped)} fold(s) already finished, skipped (--resume)")
    interrupted = False
    view = FoldProgress(len(plan.todo), plan.cfg.fit.epochs)
    if not progress:
        view.progress.disable = True
    try:
        if not report_only and plan.todo:
            info(
                f"{len(plan.todo)} fold(s) of {len(plan.folds)} ({plan.cfg.protocol}) on "
                + executor.describe(len(plan.todo))
            )
            execute(plan, executor, view, save_models, test_curve, command)
    except KeyboardInterrupt:
        interrupted = True
    summary = write_report(plan.out_dir, plots=plots)
    outcome = RunOutcome(
        summary=summary,
        ran=[d["fold"] for d in view.done],
        failed=list(view.failed),
        skipped=[f.name for f in plan.skipped],
        interrupted=interrupted,
        workers=n_workers,
        threads=n_threads,
        devices=devices,
    )
    if interrupted:
        raise KeyboardInterrupt(outcome)
    return outcome


def run_seeds(
    source: Any, cfg: RunConfig, out_dir: str | Path, seeds: int, **kwargs: Any
) -> list[RunOutcome]:
    """``eval-loso --seeds N``: :func:`run_evaluation` with seeds ``cfg.seed … cfg.seed+N-1``, each
    into ``out_dir/seed-<s>/``, then ``seeds.json``/``seeds.md`` over them
    (:mod:`mertool.evaluation.seeds`). A Ctrl-C stops after writing what is finished."""
    from mertool.evaluation.seeds import seed_dirname, write_seed_report

    out_dir = Path(out_dir)
    outcomes: list[RunOutcome] = []
    try:
        for s in range(cfg.seed, cfg.seed + seeds):
            run_cfg = dataclasses.replace(cfg, seed=s)
            outcomes.append(run_evaluation(source, run_cfg, out_dir / seed_dirname(s), **kwargs))
    except KeyboardInterrupt as stop:
        if stop.args:
            outcomes.append(stop.args[0])
        if outcomes:
            write_seed_report(out_dir, [o.summary for o in outcomes])
        raise
    write_seed_report(out_dir, [o.summary for o in outcomes])
    return outcomes
