"""Executors: where folds are computed. The driver (:mod:`mertool.folds.run`) plans the folds,
hands them to an executor, and writes every :class:`~mertool.folds.fold.FoldOutput` the executor
gives back; an executor never touches the results directory.

The interface is one method::

    executor.run(job, folds, emit, on_output)

``job`` (:class:`FoldJob`) is what every fold shares (the sample table, the configuration), sent
to each worker once; ``emit(kind, fold_name, ...)`` takes progress events (``fold_start``,
``batch``, ``epoch``, ``fold_failed``); ``on_output(output)`` is called in the driver's process
for each finished fold, in the order they finish. ``run`` returns when every fold is finished or
failed; a Ctrl-C in the driver propagates after the executor stopped its workers.

:class:`LocalExecutor` runs folds in this process (one worker) or in spawned worker processes
(DESIGN section 6), each with its own intra-op thread count; on CUDA the workers are spread over
the GPUs. Results do not depend on the executor or the split of the work: every fold has its own
seed (:func:`mertool.training.config.fold_seed`).
"""

from __future__ import annotations

import os
import queue as queue_mod
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mertool.errors import MertoolError
from mertool.evaluation.protocols import Fold
from mertool.folds.fold import FoldOutput, compute_fold
from mertool.training.config import RunConfig
from mertool.training.data import SampleTable

Emit = Callable[..., None]
OnOutput = Callable[[FoldOutput], None]


@dataclass(frozen=True)
class FoldJob:
    """What every fold of one run shares; sent to each worker once, not once per fold."""

    table: SampleTable
    groups: list[str]
    cfg: RunConfig
    save_models: bool = False
    test_curve: bool = False
    command: str | None = None  # the command line of the run, recorded in saved fold models

    def compute(self, fold: Fold, device: str, emit: Emit) -> FoldOutput:
        return compute_fold(
            self.table,
            self.groups,
            fold,
            self.cfg,
            device,
            self.save_models,
            emit,
            self.test_curve,
            self.command,
        )


class Executor(Protocol):
    def describe(self, n_folds: int) -> str:
        """One line for the log: where and how ``n_folds`` folds will run."""

    def run(self, job: FoldJob, folds: list[Fold], emit: Emit, on_output: OnOutput) -> None:
        """Compute ``folds``; see the module docstring."""


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


@dataclass
class LocalExecutor:
    """Folds on this machine: in this process (one worker) or in spawned worker processes."""

    devices: list[str]
    workers: int = 0  # 0: one per core on CPU (at most one per fold), one per GPU on CUDA
    threads: int = 0  # intra-op threads per worker; 0: see plan_parallelism
    n_folds: int = 0  # folds of the whole protocol (the default worker count depends on it)

    def plan(self, n_todo: int) -> tuple[int, int]:
        return plan_parallelism(self.n_folds or n_todo, self.devices, self.workers, self.threads, n_todo)

    def describe(self, n_todo: int) -> str:
        w, t = self.plan(n_todo)
        return f"{', '.join(sorted(set(self.devices)))}: {w} worker process(es) × {t} thread(s)"

    def run(self, job: FoldJob, folds: list[Fold], emit: Emit, on_output: OnOutput) -> None:
        if not folds:
            return
        n_workers, n_threads = self.plan(len(folds))
        if n_workers == 1:
            self._run_here(job, folds, n_threads, emit, on_output)
        else:
            self._run_processes(job, folds, n_workers, n_threads, emit, on_output)

    def _run_here(self, job, folds, n_threads, emit, on_output) -> None:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(n_threads)
        try:
            for fold in folds:
                try:
                    output = job.compute(fold, self.devices[0], emit)
                except MertoolError as exc:
                    emit("fold_failed", fold.name, exc.message)
                    continue
                on_output(output)
        finally:
            torch.set_num_threads(previous)

    def _run_processes(self, job, folds, n_workers, n_threads, emit, on_output) -> None:
        import multiprocessing as mp

        from mertool.models.registry import model_spec

        model_module = model_spec(job.cfg.arch).builder.__module__
        ctx = mp.get_context("spawn")
        tasks = ctx.Queue()
        events = ctx.Queue()
        for fold in folds:
            tasks.put(fold)
        for _ in range(n_workers):
            tasks.put(None)
        procs = []
        try:
            for i in range(n_workers):
                device = self.devices[i % len(self.devices)]
                p = ctx.Process(
                    target=_worker_main,
                    args=(i, job, device, n_threads, tasks, events, model_module),
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
                elif ev[0] == "output":
                    on_output(ev[1])
                else:
                    emit(*ev)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            tasks.cancel_join_thread()
            events.cancel_join_thread()


def _worker_main(worker_id, job: FoldJob, device, threads, tasks, events, model_module):
    """Entry point of a spawned worker: compute folds from ``tasks`` until it gets None, sending
    each fold's output (or failure) to the driver through ``events``.

    ``model_module`` is the module that registered the architecture; one outside the package (a
    user's or a test's model) is imported first so the fresh process knows the architecture."""
    import importlib
    import signal

    import torch

    if model_module and not model_module.startswith("mertool."):
        importlib.import_module(model_module)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops us
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
            events.put(("output", job.compute(fold, device, emit)))
        except MertoolError as exc:
            events.put(("fold_failed", fold.name, exc.message))
        except Exception:  # noqa: BLE001 - reported to the driver with the traceback, never swallowed
            events.put(("fold_failed", fold.name, traceback.format_exc(limit=8)))
