"""The stage engine (mertool.stages.engine): the per-sample loop every stage shares."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mertool.errors import SampleError
from mertool.stages.engine import Failed, StageReport, Stopped, reason_of, run_samples, thread_plan


class Rec:
    def __init__(self, sid: str, ok: bool = True, error: str | None = None):
        self.id, self.ok, self._error = sid, ok, error

    def get(self, key, default=None):
        return self._error if key == "error" and self._error is not None else default


class MemoryWriter:
    def __init__(self, done=()):
        self.done = set(done)
        self.written: list[tuple[str, str]] = []  # (id, what)

    def is_done(self, sample_id):
        return sample_id in self.done

    def write(self, sample, arrays=None, attrs=None, drop=()):
        self.written.append((sample.id, "ok" if arrays else "carried"))

    def write_failed(self, sample, reason):
        self.written.append((sample.id, f"failed: {reason}"))


def _square(task):  # module level: the engine may run it in spawned workers
    if task < 0:
        raise SampleError("neg", "negative", hint="give a positive number")
    return task * task


def _run(recs, writer, **kwargs):
    by_id = {r.id: r for r in recs}
    results = {}

    def prepare(rec):
        if rec.id == "bad-input":
            raise SampleError(rec.id, "cannot read it")
        return {"a": 2, "b": 3, "neg": -1, "bad-input": 0}.get(rec.id, 1)

    def finish(rec, task, result):
        results[rec.id] = result
        writer.write(rec, arrays={"x": result})

    report = run_samples(
        list(by_id),
        by_id.__getitem__,
        writer,
        StageReport(),
        label="test",
        prepare=prepare,
        work=_square,
        finish=finish,
        **kwargs,
    )
    return report, results


def test_the_loop_resumes_carries_fails_and_counts():
    recs = [
        Rec("a"),
        Rec("done"),
        Rec("earlier", ok=False, error="no face"),
        Rec("neg"),
        Rec("bad-input"),
        Rec("b"),
    ]
    writer = MemoryWriter(done={"done"})
    report, results = _run(recs, writer)
    assert results == {"a": 4, "b": 9}
    assert (report.done, report.skipped) == (2, 1)
    assert report.failed_before == [("earlier", "no face")]
    assert report.failed == [("neg", "negative (give a positive number)"), ("bad-input", "cannot read it")]
    assert ("earlier", "carried") in writer.written and (
        "neg",
        "failed: negative (give a positive number)",
    ) in writer.written
    assert [sid for sid, _ in writer.written] == ["a", "earlier", "neg", "bad-input", "b"]  # input order


def test_without_hints_only_the_reason_is_recorded():
    report, _ = _run([Rec("neg")], MemoryWriter(), hints=False)
    assert report.failed == [("neg", "negative")]


def test_on_error_fail_stops_at_the_sample():
    writer = MemoryWriter()
    with pytest.raises(Stopped, match="stopped at neg: negative") as err:
        _run([Rec("a"), Rec("neg"), Rec("b")], writer, on_error="fail")
    assert isinstance(err.value, SampleError) and "--on-error skip" in err.value.hint
    assert [sid for sid, _ in writer.written] == ["a", "neg"]  # what was done before stays


def test_workers_give_the_same_results_in_the_same_order():
    recs = [Rec("a"), Rec("neg"), Rec("b")]
    inline, r1 = _run(recs, MemoryWriter())
    two, r2 = _run(recs, MemoryWriter(), workers=2)
    assert r1 == r2 and inline.failed == two.failed and two.processes == 2


def test_a_stage_may_bring_its_own_workers():
    def reversed_map(tasks, processes, threads):
        done = [(sid, Failed("odd") if task % 2 else task) for sid, task in tasks]
        yield from reversed(done)

    by_id = {"a": Rec("a"), "b": Rec("b")}
    report = run_samples(
        list(by_id),
        by_id.__getitem__,
        MemoryWriter(),
        StageReport(),
        label="test",
        prepare=lambda rec: {"a": 2, "b": 3}[rec.id],
        finish=lambda rec, task, result: None,
        workers=1,
        map_tasks=reversed_map,
    )
    assert report.done == 1 and report.failed == [("b", "odd")]


def test_thread_plan_and_reason_of():
    assert thread_plan(3, 1)[0] == 1 and thread_plan(2, 10, cv2_threads=3) == (2, 3)
    assert reason_of(SampleError("x", "why", hint="do this")) == "why (do this)"


def test_no_stage_imports_the_cli():
    stages = Path(__file__).resolve().parents[1] / "mertool" / "stages"
    for path in stages.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "mertool.cli" or n.startswith("mertool.cli.") for n in names), path.name
