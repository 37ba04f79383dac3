"""The stage engine: the per-sample loop every stage runs, written once.

:func:`run_samples` owns everything a stage does *around* one sample: it skips the samples the
output already holds (``--resume``; ``--retry-failed`` is decided by the writer), copies forward
the samples an earlier stage failed, plans the worker processes and OpenCV threads
(:func:`thread_plan`) and runs the per-sample work in them (:func:`parallel_map`), records a
sample that raises :class:`~mertool.errors.SampleError` as failed with its reason and goes on or
stops (``--on-error``), shows the progress bar, and counts it all in a :class:`StageReport`.
:func:`print_summary` prints those counts at the end of a run.

A stage module provides only what is its own: its options, its report (a subclass of
:class:`StageReport` with its rows), and three functions for one sample, passed to
:func:`run_samples`:

* ``prepare(item) -> task``, in this process: read what the work needs from the input (a
  :class:`~mertool.store.SampleRecord`) and raise ``SampleError`` when the sample cannot be done;
* ``work(task) -> result``: the pure computation; a module-level function when it runs in worker
  processes (they are spawned and import it), raising ``SampleError`` for a sample that fails;
* ``finish(item, task, result)``, in this process: write the sample (and add the report's row).

A stage with needs of its own passes hooks: how a failed or carried-forward sample is written
(crop-rois drops arrays), whether a failure records its hint, or its own worker pool
(``map_tasks``: detect-faces' clip workers load the face models once). Then the stage registers
its runner with :func:`mertool.stages.chain.register_stage`. Nothing here knows the command line: the
CLI passes the options in and prints the report (crop-rois and detect-faces call
:func:`print_summary` themselves). A new stage: start from ``spot_apex.py``'s ``process``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mertool.errors import SampleError
from mertool.store import schema as S

# ------------------------------------------------------------------------------------------------
# worker processes


def resolve_workers(workers: int) -> int:
    """The number of worker processes ``--workers`` asks for: 0 (or less) means one per core."""
    return workers if workers and workers > 0 else max(1, os.cpu_count() or 1)


def thread_plan(workers: int, n_tasks: int, cv2_threads: int = 0) -> tuple[int, int]:
    """``(processes, cv2 threads per process)``: ``workers`` 0 means one process per core, never more
    processes than tasks; ``cv2_threads`` 0 shares the cores out among the processes."""
    cores = max(1, os.cpu_count() or 1)
    procs = max(1, min(resolve_workers(workers), max(1, n_tasks)))
    threads = cv2_threads if cv2_threads > 0 else max(1, cores // procs)
    return procs, threads


def _init_worker(cv2_threads: int) -> None:
    from mertool.env import set_cv2_threads

    set_cv2_threads(cv2_threads)


def parallel_map(
    func: Callable[[Any], Any], tasks: Iterable[Any], processes: int, cv2_threads: int
) -> Iterator[Any]:
    """``func(task)`` for every task, in order, in ``processes`` spawned workers (inline for 1).

    Workers are started with ``spawn`` (a process forked after OpenCV started its thread pool can
    hang) and each sets its OpenCV thread count (``import ultralytics`` resets it to 0). ``func``
    must be a module-level function (spawned workers import it). At most ``2 * processes`` tasks
    are in flight, so memory stays bounded on long runs.
    """
    if processes <= 1:
        _init_worker(cv2_threads)
        for task in tasks:
            yield func(task)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        processes, mp_context=ctx, initializer=_init_worker, initargs=(cv2_threads,)
    ) as ex:
        pending: list[Future] = []
        try:
            for task in tasks:
                pending.append(ex.submit(func, task))
                if len(pending) >= 2 * processes:
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()
        finally:
            for fut in pending:
                fut.cancel()


# ------------------------------------------------------------------------------------------------
# failed samples


def reason_of(exc: SampleError) -> str:
    """What a failed sample records: the reason and, where there is one, what to do about it."""
    return f"{exc.reason} ({exc.hint})" if exc.hint else exc.reason


@dataclass(frozen=True)
class Failed:
    """The outcome of a sample whose work failed (a ``SampleError`` does not survive pickling back
    from a worker, so it travels as this)."""

    reason: str
    hint: str | None = None


class Stopped(SampleError):
    """``--on-error fail``: the run stopped at this sample (the output keeps what was written)."""

    def __init__(self, sample_id: str, reason: str):
        super().__init__(
            sample_id,
            reason,
            hint="--on-error skip records failing samples and goes on; --resume -o FILE continues from here",
        )
        self.message = f"stopped at {sample_id}: {reason}"
        self.args = (self.message,)


def _call(job: tuple[str, Callable[[Any], Any], Any]) -> tuple[str, Any]:
    """Worker entry: ``(id, work(task))``, or ``(id, Failed)`` when the work raises SampleError."""
    sample_id, work, task = job
    try:
        return sample_id, work(task)
    except SampleError as exc:
        return sample_id, Failed(exc.reason, exc.hint)


# ------------------------------------------------------------------------------------------------
# writers and reports


class Writer(Protocol):
    """What the engine needs of an output (a :class:`~mertool.store.SampleWriter`)."""

    def is_done(self, sample_id: str) -> bool: ...

    def write(
        self, sample: Any, arrays: Any = None, attrs: Any = None, drop: tuple[str, ...] = ()
    ) -> None: ...

    def write_failed(self, sample: Any, reason: str) -> None: ...


class NoWriter:
    """Stands in for a writer when only the report is wanted (nothing is written)."""

    def is_done(self, sample_id: str) -> bool:
        return False

    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write_failed(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def open_writer(output: str | Path | None, stage: str, write: bool = True, **kwargs: Any) -> Iterator[Any]:
    """:func:`mertool.store.open_output` (``kwargs`` go to it), or a :class:`NoWriter` when not
    ``write``."""
    if not write:
        yield NoWriter()
        return
    from mertool.store import open_output

    with open_output(output, stage, **kwargs) as w:
        yield w


@dataclass(kw_only=True)
class StageReport:
    """What every stage counts; a stage's report subclasses it and adds its own rows."""

    done: int = 0
    skipped: int = 0  # already in the output (--resume)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) failed at this stage
    failed_before: list[tuple[str, str]] = field(default_factory=list)  # failed earlier, copied forward
    seconds: float = 0.0
    processes: int = 1
    cv2_threads: int = 1

    def counts(self) -> dict[str, Any]:
        """The counts as a report's JSON spells them."""
        return {
            "done": self.done,
            "failed": [{"id": i, "reason": r} for i, r in self.failed],
            "failed_in_earlier_stage": [{"id": i, "reason": r} for i, r in self.failed_before],
            "resumed": self.skipped,
            "seconds": self.seconds,
        }


def print_summary(stage: str, done: int, failed: list[tuple[str, str]], skipped: int = 0) -> None:
    """The end-of-stage summary on stderr: counts, then every failed sample with its reason."""
    from rich.markup import escape

    from mertool.console import err, is_quiet

    if is_quiet() and not failed:
        return
    line = f"[bold]{stage}[/]: {done} sample(s) done"
    if skipped:
        line += f", {skipped} already done (resumed)"
    if failed:
        line += f", [red]{len(failed)} failed[/]"
    err.print(line)
    for sid, reason in failed:
        err.print(f"  [red]✗[/] {escape(sid)}: {escape(reason)}")


# ------------------------------------------------------------------------------------------------
# the loop


def failed_earlier(rec: Any) -> str | None:
    """Why a sample record failed at an earlier stage, or None for a sample to do."""
    return None if rec.ok else str(rec.get(S.A_ERROR, "failed earlier"))


#: ``map_tasks(tasks, processes, cv2_threads)``: ``(id, result or Failed)`` for ``(id, task)`` pairs
TaskMap = Callable[[Iterator[tuple[str, Any]], int, int], Iterator[tuple[str, Any]]]


def run_samples(
    ids: Sequence[str],
    load: Callable[[str], Any],
    writer: Writer,
    report: StageReport,
    *,
    label: str,
    prepare: Callable[[Any], Any],
    finish: Callable[[Any, Any, Any], None],
    work: Callable[[Any], Any] | None = None,
    on_error: str = "skip",
    workers: int | None = None,
    cv2_threads: int = 0,
    map_tasks: TaskMap | None = None,
    is_failed: Callable[[Any], str | None] = failed_earlier,
    carry: Callable[[Any], None] | None = None,
    write_failed: Callable[[Any, str], None] | None = None,
    hints: bool = True,
    show_ids: bool = False,
) -> StageReport:
    """Run one stage over the samples ``ids`` into ``writer``, counting into ``report``.

    For each id not already done (``writer.is_done``): ``item = load(id)``; an item that failed
    earlier (``is_failed(item)`` gives its reason) is copied forward (``carry(item)``, default
    ``writer.write(item)``); otherwise ``task = prepare(item)`` here, ``result = work(task)``
    (in ``workers`` processes, see below) and ``finish(item, task, result)`` here, in input order
    unless ``map_tasks`` says otherwise. A ``SampleError`` from ``prepare`` or ``work`` fails the
    sample: ``write_failed(item, reason)`` (default ``writer.write_failed``), where ``reason`` is
    the error's reason and, with ``hints``, its hint (:func:`reason_of`); then ``on_error="fail"``
    raises :class:`Stopped`. ``finish`` does not fail samples: what it raises stops the run.

    ``workers`` None runs ``work`` in this process, leaving the OpenCV threads alone; a number
    plans processes and threads with :func:`thread_plan` (0: one process per core; recorded in
    ``report.processes`` / ``cv2_threads``) and runs ``work`` with :func:`parallel_map`, or with
    ``map_tasks(tasks, processes, cv2_threads)`` where a stage has workers of its own (it yields
    ``(id, result)``, a :class:`Failed` result for a failed sample, in any order).

    The progress bar is labelled ``label``; its status shows the last sample's id where
    ``show_ids``. ``report.seconds`` is the time of the loop.
    """
    from rich.markup import escape

    from mertool.console import progress_task

    carry = carry or writer.write
    write_failed = write_failed or writer.write_failed
    todo: list[str] = []
    for sid in ids:
        if writer.is_done(sid):
            report.skipped += 1
        else:
            todo.append(sid)
    if workers is None:
        procs, threads = 1, 0
    else:
        procs, threads = thread_plan(workers, len(todo), cv2_threads)
        report.processes, report.cv2_threads = procs, threads
    in_flight: dict[str, tuple[Any, Any]] = {}
    tick: list[Callable[..., None]] = []  # the progress bar's advance, set below

    def fail(sid: str, item: Any, reason: str, hint: str | None) -> None:
        reason = f"{reason} ({hint})" if hints and hint else reason
        write_failed(item, reason)
        report.failed.append((sid, reason))
        tick[0](status="[red]failed[/]")
        if on_error == "fail":
            raise Stopped(sid, reason) from None

    def tasks() -> Iterator[tuple[str, Any]]:
        for sid in todo:
            item = load(sid)
            earlier = is_failed(item)
            if earlier is not None:
                carry(item)
                report.failed_before.append((sid, earlier))
                tick[0](status="[dim]failed earlier[/]")
                continue
            try:
                task = prepare(item)
            except SampleError as exc:
                fail(sid, item, exc.reason, exc.hint)
                continue
            in_flight[sid] = (item, task)
            yield sid, task

    t0 = time.perf_counter()
    with progress_task(label, len(todo)) as advance:
        tick.append(advance)
        if map_tasks is not None:
            results = map_tasks(tasks(), procs, threads)
        elif workers is None:
            results = map(_call, ((sid, work, task) for sid, task in tasks()))
        else:
            results = parallel_map(_call, ((sid, work, task) for sid, task in tasks()), procs, threads)
        for sid, result in results:
            item, task = in_flight.pop(sid)
            if isinstance(result, Failed):
                fail(sid, item, result.reason, result.hint)
                continue
            finish(item, task, result)
            report.done += 1
            advance(status=escape(sid) if show_ids else "")
    report.seconds = time.perf_counter() - t0
    return report
