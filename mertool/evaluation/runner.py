"""``eval-loso`` orchestration: folds as independent units, resumable, fanned out over cores/GPUs.

Layout of a results directory::

    RESULTS_DIR/config.json                 what the run is (config, protocol, data fingerprint)
    RESULTS_DIR/folds/<fold>/predictions.json   ids, true, pred, probs, history, selection ids
    RESULTS_DIR/folds/<fold>/metrics.json   the fold's own metrics
    RESULTS_DIR/folds/<fold>/model.pt       the fold's model file (--save-models)
    RESULTS_DIR/summary.json, report.md, confusion*.png, curves.png   (report.py, plots.py)

A fold is *finished* when its ``predictions.json`` exists; it is written atomically (temp file +
rename) as the fold's last act, so a killed run loses at most the folds in progress. ``resume``
skips finished folds; ``folds``/``shard`` run a subset into the same directory, so several
machines can share the work; the report pools whatever folds are finished and names the rest.
Runs into one directory must agree on ``config.json`` (same configuration and same data).

Parallelism: folds run in worker processes started with ``spawn`` (DESIGN section 6), each with
``threads`` intra-op threads, or in this process when ``workers`` is 1. On CUDA the workers are
spread over the GPUs. Results do not depend on the split: every fold has its own seed
(:func:`mertool.training.config.fold_seed`).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue as queue_mod
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool import __version__
from mertool.errors import MertoolError
from mertool.evaluation.protocols import (
    Fold,
    check_folds,
    make_folds,
    parse_protocol,
    sample_groups,
    select_folds,
)
from mertool.training.config import RunConfig, fold_seed
from mertool.training.data import SampleTable

PREDICTIONS = "predictions.json"
TEST_CURVE = "test_curve.json"  # --selection-bias: every epoch's test predictions, never used for a choice
METRICS = "metrics.json"
CONFIG = "config.json"
FOLDS_DIR = "folds"


# ------------------------------------------------------------------------------------------------
# small file helpers


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """``path.write_text(text)`` through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def fold_dir(out_dir: Path, fold: Fold | str) -> Path:
    name = fold.dirname if isinstance(fold, Fold) else Fold(fold, np.zeros(0), np.zeros(0)).dirname
    return out_dir / FOLDS_DIR / name


def is_finished(out_dir: Path, fold: Fold) -> bool:
    return (fold_dir(out_dir, fold) / PREDICTIONS).is_file()


def data_fingerprint(table: SampleTable) -> str:
    """SHA-256 over sample ids, labels, classes and every input array: "the same data"."""
    h = hashlib.sha256()
    h.update(json.dumps([table.ids, table.classes, table.datasets, table.subjects]).encode())
    h.update(np.ascontiguousarray(table.labels).tobytes())
    for name in sorted(table.inputs):
        h.update(name.encode())
        h.update(np.ascontiguousarray(table.inputs[name]).tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# one fold


def run_fold(
    table: SampleTable,
    groups: list[str],
    fold: Fold,
    cfg: RunConfig,
    out_dir: Path,
    device: str,
    save_model: bool,
    emit: Callable[..., None],
    test_curve: bool = False,
) -> dict[str, Any]:
    """Train on the fold's training rows, predict its test rows, write the fold's files.

    With ``test_curve`` the test rows are also predicted after every epoch and written to
    ``test_curve.json`` beside the fold's predictions, for the selection-bias report only
    (:mod:`mertool.evaluation.selection_bias`): training and model selection never see them."""
    import torch

    from mertool.evaluation.metrics import compute_metrics
    from mertool.training.checkpoint import save_model as save_model_file
    from mertool.training.data import BatchSet
    from mertool.training.loop import evaluate
    from mertool.training.trainer import train_on_rows

    seed = fold_seed(cfg.seed, fold.name)
    t0 = time.perf_counter()
    emit("fold_start", fold.name, cfg.fit.epochs)
    curve: list[dict[str, Any]] = []
    observer = None
    if test_curve:
        test_sets: dict[int, BatchSet] = {}

        def observer(model, epoch: int, normalizer) -> None:
            # the test rows normalised with the fold's training statistics, as the final test is
            if id(normalizer) not in test_sets:  # built once: the normaliser is the fold's own
                test_sets[id(normalizer)] = BatchSet(table, fold.test, normalizer)
            ts = test_sets[id(normalizer)]
            ev = evaluate(model, ts, max(cfg.fit.batch_size, 64), device)
            curve.append(
                {"epoch": epoch, "rows": ev["rows"].tolist(), "pred": ev["probs"].argmax(1).tolist()}
            )

    trained = train_on_rows(
        table,
        fold.train,
        groups,
        cfg,
        seed,
        device,
        on_epoch=lambda rec: emit("epoch", fold.name, rec),
        on_batch=lambda b, n, loss: emit("batch", fold.name, b, n, loss),
        after_epoch=observer,
    )
    g = np.asarray(groups, dtype=object)
    test_groups = set(g[fold.test])
    # DESIGN section 3, checked on every fold at run time as well as in the tests
    for what, rows in (("training", trained.train_rows), ("validation", trained.val_rows)):
        leak = test_groups & set(g[rows])
        if leak:
            raise AssertionError(f"fold {fold.name}: test subject(s) {sorted(leak)} in the {what} set")
    if set(trained.result.selection_ids) & {table.ids[i] for i in fold.test}:
        raise AssertionError(f"fold {fold.name}: model selection looked at test samples")

    test_set = BatchSet(table, fold.test, trained.normalizer)
    ev = evaluate(trained.model, test_set, max(cfg.fit.batch_size, 64), device)
    rows = ev["rows"]
    probs = ev["probs"]
    pred = probs.argmax(1)
    true = table.labels[rows]
    metrics = compute_metrics(true, pred, len(table.classes), probs, table.classes)
    d = fold_dir(out_dir, fold)
    d.mkdir(parents=True, exist_ok=True)
    if save_model:
        from mertool.training.trainer import input_size, model_inputs, model_meta, three_frames

        save_model_file(
            d / "model.pt",
            trained.model,
            model_meta(table, cfg, trained, model_inputs(cfg), input_size(cfg), three_frames(cfg), seed),
        )
    write_json_atomic(d / METRICS, {"fold": fold.name, **metrics})
    if test_curve:
        write_json_atomic(
            d / TEST_CURVE,
            {
                "fold": fold.name,
                "note": "every epoch's test predictions, for the selection-bias report only; no choice used them",
                "ids": [table.ids[i] for i in fold.test],
                "true": table.labels[fold.test].tolist(),
                "epochs": [
                    {"epoch": c["epoch"], "pred": _in_order(c["rows"], c["pred"], fold.test)} for c in curve
                ],
            },
        )
    record = {
        "fold": fold.name,
        "test_groups": sorted(test_groups),
        "classes": table.classes,
        "ids": [table.ids[i] for i in rows],
        "datasets": [table.datasets[i] for i in rows],
        "groups": [groups[i] for i in rows],
        "true": true.tolist(),
        "pred": pred.tolist(),
        "probs": np.round(probs.astype(np.float64), 6).tolist(),
        "seed": seed,
        "n_train": int(len(trained.train_rows)),
        "n_val": int(len(trained.val_rows)),
        "val_groups": trained.val_groups,
        "selection_ids": trained.result.selection_ids,
        "best_epoch": trained.result.best_epoch,
        "selected_on": trained.result.selected_on,
        "stopped_early": trained.result.stopped_early,
        "epochs_run": len(trained.result.history),
        "history": trained.result.history,
        "seconds": time.perf_counter() - t0,
        "device": device,
        "threads": torch.get_num_threads(),
    }
    write_json_atomic(d / PREDICTIONS, record)  # last: marks the fold finished
    summary = {"fold": fold.name, "n": metrics["n"], "accuracy": metrics["accuracy"], "uf1": metrics["uf1"]}
    emit("fold_done", fold.name, summary)
    return summary


def _cannot_write(out_dir: Path, fold: Fold, exc: OSError):
    """The clear error for a fold whose files the results directory cannot take (full disk,
    read-only): the run stops, finished folds stay for ``--resume``."""
    from mertool.store.locks import cannot_write_error

    err = cannot_write_error(fold_dir(out_dir, fold), exc, f"fold {fold.name}")
    err.hint = "free space or write elsewhere (-o OTHER/DIR); finished folds are kept: re-run with --resume"
    return err


def _in_order(rows: list[int], values: list[int], order: np.ndarray) -> list[int]:
    """``values`` given for table ``rows``, re-listed in the order of ``order``."""
    by_row = dict(zip(rows, values))
    return [int(by_row[int(r)]) for r in order]


# ------------------------------------------------------------------------------------------------
# worker processes


def _worker_main(
    worker_id,
    table,
    groups,
    cfg,
    out_dir,
    device,
    threads,
    save_model,
    tasks,
    events,
    model_module,
    test_curve,
):
    """Entry point of a spawned worker: run folds from ``tasks`` until it gets None.

    ``model_module`` is the module that registered ``cfg.arch``; one outside the package (a user's
    or a test's model) is imported first so the fresh process knows the architecture."""
    import importlib
    import signal

    import torch

    if model_module and not model_module.startswith("mertool."):
        importlib.import_module(model_module)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    torch.set_num_threads(max(1, threads))
    from mertool.env import set_cv2_threads

    set_cv2_threads(1)

    def emit(kind, *args):
        events.put((kind, *args))

    while True:
        fold = tasks.get()
        if fold is None:
            events.put(("worker_exit", worker_id))
            return
        try:
            run_fold(table, groups, fold, cfg, out_dir, device, save_model, emit, test_curve)
        except OSError as exc:  # the results directory cannot take the fold's files: stop the run
            err = _cannot_write(out_dir, fold, exc)
            events.put(("fatal", fold.name, err.message, err.hint))
        except MertoolError as exc:
            events.put(("fold_failed", fold.name, exc.message))
        except Exception:  # noqa: BLE001 - reported to the parent with the traceback, never swallowed
            events.put(("fold_failed", fold.name, traceback.format_exc(limit=8)))


# ------------------------------------------------------------------------------------------------
# the run


@dataclass
class RunPlan:
    table: SampleTable
    groups: list[str]
    folds: list[Fold]  # every fold of the protocol
    todo: list[Fold]  # folds this run computes
    skipped: list[Fold]  # selected but already finished (resume)
    out_dir: Path
    cfg: RunConfig
    identity: dict[str, Any] = field(default_factory=dict)


def plan_run(
    table: SampleTable,
    cfg: RunConfig,
    out_dir: Path,
    fold_names: list[str] | None = None,
    shard: str | None = None,
    resume: bool = False,
    source: dict[str, Any] | None = None,
) -> RunPlan:
    """Folds of the protocol, the subset to run, and the config check against ``out_dir``."""
    protocol = parse_protocol(cfg.protocol)
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    folds = make_folds(protocol, groups, table.labels, table.splits, cfg.seed)
    check_folds(folds, groups, len(table), require_cover=protocol.name != "split")
    identity = {
        "config": cfg.identity(),
        "data": data_fingerprint(table),
        "classes": table.classes,
        "label_map": table.label_map,
        "folds": [f.name for f in folds],
    }
    cfg_path = out_dir / CONFIG
    if cfg_path.is_file():
        old = read_json(cfg_path)
        if old.get("identity") != identity:
            diff = [k for k in identity if old.get("identity", {}).get(k) != identity[k]]
            if "config" in diff:
                a, b = old.get("identity", {}).get("config", {}), identity["config"]
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                diff = [f"config ({', '.join(keys)})" if k == "config" else k for k in diff]
            raise MertoolError(
                f"{out_dir} holds folds of a different run (differs in: {', '.join(diff)})",
                hint="use another -o RESULTS_DIR, or repeat that run's options exactly",
            )
    selected = select_folds(folds, fold_names, shard)
    finished = [f for f in selected if is_finished(out_dir, f)]
    todo = [f for f in selected if not (resume and f in finished)]
    return RunPlan(table, groups, folds, todo, finished if resume else [], out_dir, cfg, identity)


def write_config(plan: RunPlan, source: dict[str, Any], command: str) -> None:
    path = plan.out_dir / CONFIG
    if path.is_file():
        return
    write_json_atomic(
        path,
        {
            "identity": plan.identity,
            "input": source,
            "n_samples": len(plan.table),
            "skipped_samples": [list(s) for s in plan.table.skipped],
            "command": command,
            "mertool_version": __version__,
        },
    )


def resolve_device(device: str) -> list[str]:
    """``auto`` -> every CUDA GPU if any, else cpu; ``cuda`` -> every GPU; ``cuda:1`` as given."""
    import torch

    d = (device or "auto").lower()
    if d == "cpu":
        return ["cpu"]
    if d in ("auto", "cuda"):
        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if d == "cuda":
            raise MertoolError(
                "--device cuda: no CUDA GPU is visible to torch", hint="use --device cpu or auto"
            )
        return ["cpu"]
    if d.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MertoolError(f"--device {device}: no CUDA GPU is visible to torch")
        return [d]
    raise MertoolError(f"unknown --device {device!r}", hint="auto, cpu, cuda or cuda:N")


def plan_parallelism(
    n_folds: int, devices: list[str], workers: int, threads: int, n_todo: int | None = None
) -> tuple[int, int]:
    """(worker processes, intra-op threads per worker) for a protocol of ``n_folds`` folds of
    which ``n_todo`` (default all) run now.

    CPU default: one process per core (at most one per fold), each with **one** intra-op thread,
    whatever the core count and ``--workers``: torch sums in another order with another thread
    count, and on small MER sets that changes predictions (docs/errors.md measured 3 of 6 demo
    folds changing between 1 and 2 threads). With one thread per fold the numbers depend only on
    the data, the configuration and the seed, so ``-j 1``, ``-j 2``, a resumed or sharded run
    and another machine of the same kind give the same summary.json. ``--threads N`` asks for N
    (and the numbers of N threads). One process per core was also measured faster than intra-op
    threads (docs/training.md). GPU default: one worker per GPU, cores shared among them.
    """
    cores = max(1, os.cpu_count() or 1)
    n_todo = n_folds if n_todo is None else n_todo
    if devices[0].startswith("cuda"):
        w = workers or len(devices)
        return max(1, min(w, max(1, n_todo))), threads or max(1, cores // max(1, w))
    planned = workers or min(cores, max(1, n_folds))
    return max(1, min(planned, max(1, n_todo))), threads or 1


class _Progress:
    """Rich progress: one bar over folds, one per running fold (epochs), with loss and val UF1."""

    def __init__(self, n_folds: int, epochs: int):
        from mertool.console import make_progress

        self.progress = make_progress()
        self.epochs = epochs
        self.total = self.progress.add_task("folds", total=n_folds, status="")
        self.tasks: dict[str, Any] = {}
        self.done: list[dict[str, Any]] = []
        self.failed: list[tuple[str, str]] = []

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, kind: str, *args) -> None:
        p = self.progress
        if kind == "fold_start":
            name, epochs = args
            self.tasks[name] = p.add_task(f"  {name}", total=epochs, status="")
        elif kind == "batch":
            name, b, n, loss = args
            if name in self.tasks:
                p.update(self.tasks[name], status=f"batch {b}/{n} loss {loss:.3f}")
        elif kind == "epoch":
            name, rec = args
            status = f"loss {rec['train_loss']:.3f}"
            if rec.get("val_uf1") is not None:
                status += f"  val loss {rec['val_loss']:.3f} UF1 {rec['val_uf1']:.3f}"
            if name in self.tasks:
                p.update(self.tasks[name], completed=rec["epoch"], status=status)
        elif kind in ("fold_done", "fold_failed"):
            name, payload = args
            task = self.tasks.pop(name, None)
            if task is not None:
                p.remove_task(task)
            if kind == "fold_done":
                self.done.append(payload)
                uf1 = payload.get("uf1")
                p.update(
                    self.total,
                    advance=1,
                    status=f"last: {name} acc {payload['accuracy']:.2f}"
                    + (f" UF1 {uf1:.2f}" if uf1 is not None else ""),
                )
            else:
                self.failed.append((name, payload))
                p.update(self.total, advance=1, status=f"[red]{name} failed[/]")


def execute(
    plan: RunPlan,
    devices: list[str],
    workers: int,
    threads: int,
    save_models: bool,
    view: _Progress | None = None,
    test_curve: bool = False,
) -> _Progress:
    """Run ``plan.todo``; returns the progress record (finished and failed folds), which
    ``view`` (when given) holds even if the run is interrupted.

    Ctrl-C stops the run: workers are terminated, finished folds stay on disk, and the
    KeyboardInterrupt propagates after the caller writes the report.
    """
    import torch

    n_workers, n_threads = plan_parallelism(len(plan.folds), devices, workers, threads, len(plan.todo))
    view = view or _Progress(len(plan.todo), plan.cfg.fit.epochs)
    if not plan.todo:
        return view
    with view:
        if n_workers == 1:
            previous = torch.get_num_threads()
            torch.set_num_threads(n_threads)
            try:
                for fold in plan.todo:
                    try:
                        run_fold(
                            plan.table,
                            plan.groups,
                            fold,
                            plan.cfg,
                            plan.out_dir,
                            devices[0],
                            save_models,
                            view,
                            test_curve,
                        )
                    except OSError as exc:
                        raise _cannot_write(plan.out_dir, fold, exc) from exc
                    except MertoolError as exc:
                        view("fold_failed", fold.name, exc.message)
            finally:
                torch.set_num_threads(previous)
            return view
        _execute_processes(plan, devices, n_workers, n_threads, save_models, view, test_curve)
    return view


def _execute_processes(plan, devices, n_workers, n_threads, save_models, view, test_curve=False) -> None:
    import multiprocessing as mp

    from mertool.models.registry import model_spec

    model_module = model_spec(plan.cfg.arch).builder.__module__
    ctx = mp.get_context("spawn")
    tasks = ctx.Queue()
    events = ctx.Queue()
    for fold in plan.todo:
        tasks.put(fold)
    for _ in range(n_workers):
        tasks.put(None)
    procs = []
    try:
        for i in range(n_workers):
            p = ctx.Process(
                target=_worker_main,
                args=(
                    i,
                    plan.table,
                    plan.groups,
                    plan.cfg,
                    plan.out_dir,
                    devices[i % len(devices)],
                    n_threads,
                    save_models,
                    tasks,
                    events,
                    model_module,
                    test_curve,
                ),
                daemon=True,
            )
            p.start()
            procs.append(p)
        alive = n_workers
        while alive:
            try:
                ev = events.get(timeout=1.0)
            except queue_mod.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise MertoolError(
                        f"a fold worker died (exit code {dead[0].exitcode}); finished folds are kept",
                        hint="re-run with --resume; with little memory use --workers 1",
                    ) from None
                continue
            if ev[0] == "worker_exit":
                alive -= 1
            elif ev[0] == "fatal":
                from mertool.errors import StoreError

                raise StoreError(ev[2], hint=ev[3])
            else:
                view(*ev)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        tasks.cancel_join_thread()
        events.cancel_join_thread()


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
) -> RunOutcome:
    """Load the data, run the selected folds, and write the pooled report (also after Ctrl-C)."""
    from mertool.console import info
    from mertool.store.provenance import sha256_file
    from mertool.training.data import load_table
    from mertool.training.trainer import input_size, model_inputs, three_frames

    out_dir = Path(out_dir)
    protocol = parse_protocol(cfg.protocol)
    if protocol.name == "composite" and cfg.label_map is None:
        cfg.label_map = "megc2019"
    table = load_table(
        source,
        model_inputs(cfg),
        input_size(cfg),
        cfg.label_map,
        channels=cfg.channels,
        three_frames=three_frames(cfg),
    )
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
    from mertool.store import SampleFile

    path = source.path if isinstance(source, SampleFile) else Path(source)
    name = source.name if isinstance(source, SampleFile) else str(source)
    src = {"path": name, "sha256": sha256_file(path) if path.is_file() else None}
    locks = [] if report_only else lock_folds(plan)
    try:
        return _run_locked(plan, cfg, out_dir, src, command, device, workers, threads, save_models,
                           report_only, plots, test_curve)  # fmt: skip
    finally:
        for lock in locks:  # released here, not by garbage collection: a Ctrl-C's traceback
            lock.release()  # keeps this frame (and any lock it held) alive


def _run_locked(plan, cfg, out_dir, src, command, device, workers, threads, save_models, report_only, plots,
                test_curve) -> RunOutcome:  # fmt: skip
    """The body of :func:`run_evaluation` once its folds are locked."""
    from mertool.console import info
    from mertool.evaluation.report import write_report
    from mertool.store.provenance import command_line

    write_config(plan, src, command or command_line())
    devices = resolve_device(device)
    n_workers, n_threads = plan_parallelism(len(plan.folds), devices, workers, threads, len(plan.todo))
    if plan.skipped:
        info(f"{len(plan.skipped)} fold(s) already finished, skipped (--resume)")
    interrupted = False
    view = _Progress(len(plan.todo), cfg.fit.epochs)
    try:
        if not report_only and plan.todo:
            info(
                f"{len(plan.todo)} fold(s) of {len(plan.folds)} ({cfg.protocol}) on {', '.join(sorted(set(devices)))}: "
                f"{n_workers} worker process(es) × {n_threads} thread(s)"
            )
            execute(plan, devices, workers, threads, save_models, view, test_curve)
    except KeyboardInterrupt:
        interrupted = True
    summary = write_report(out_dir, plots=plots)
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
    import dataclasses

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


# ------------------------------------------------------------------------------------------------
# one run per fold at a time


def lock_folds(plan: RunPlan) -> list[Any]:
    """Lock every fold this run computes (``folds/<fold>/.lock``, :mod:`mertool.store.locks`):
    a second run computing one of them into the same RESULTS_DIR at the same time refuses with
    a clear message, while runs of other folds (``--folds``, ``--shard``, other machines) go on
    side by side. A lock goes away with its process, however it ended (the file a killed run
    leaves is removed here once free); the list returned holds them, and dropping it releases them."""
    from mertool.errors import StoreError
    from mertool.store.locks import acquire, cannot_write_error

    todo = {fold_dir(plan.out_dir, f) for f in plan.todo}
    for stale in (plan.out_dir / FOLDS_DIR).glob("*/.lock"):
        if stale.parent not in todo:
            try:
                acquire(stale, "", "").release()
            except (StoreError, OSError):
                pass  # held by a run of other folds, or not ours to remove
    held: list[Any] = []
    try:
        for fold in plan.todo:
            d = fold_dir(plan.out_dir, fold)
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise cannot_write_error(d.parent, exc, f"fold {fold.name}") from exc
            held.append(
                acquire(
                    d / ".lock",
                    f"{plan.out_dir}: fold {fold.name}",
                    hint="wait for that run to finish (then --resume), or give this one another "
                    "-o RESULTS_DIR or other --folds/--shard",
                )
            )
    except BaseException:
        for lock in held:
            lock.release()
        raise
    return held
