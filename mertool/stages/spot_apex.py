"""The ``spot-apex`` stage: the apex frame of every clip, and how far it is from the labelled one.

Reads ``frames``, ``frame_numbers`` and ``landmarks_aligned`` (detect-faces output); writes the
attributes ``apex_spotted`` (the frame number later stages use) and ``apex_method``, and the array
``apex_curve`` (the per-frame score the method maximised; absent for ``label`` and ``middle``),
copying everything else forward. The methods live in :mod:`mertool.motion.apex`.

Where a clip has a labelled apex, every spotting method in ``compare`` is also run on it (they are
cheap) so the report can say how each one does against the labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError
from mertool.motion.apex import SPOTTING_METHODS, ApexOptions, Clip, check_method, error_summary, spot_apex
from mertool.stages.chain import register_stage
from mertool.stages.engine import StageReport, open_writer, run_samples
from mertool.store import SampleFile, SampleRecord
from mertool.store import schema as S


@dataclass(frozen=True)
class SpotTask:
    clip: Clip
    method: str
    fallback: str | None
    compare: tuple[str, ...]
    options: ApexOptions


def _spot_task(task: SpotTask) -> dict[str, Any]:
    """Worker entry: the chosen method's result and the comparison methods'; SampleError when the
    chosen method fails."""
    import cv2

    out: dict[str, Any] = {
        "id": task.clip.id,
        "frames": len(task.clip.frame_numbers),
        "compare": {},
        "compare_errors": {},
    }
    t0 = time.perf_counter()
    try:
        res = spot_apex(task.clip, task.method, task.fallback, task.options)
    except (ValueError, cv2.error) as exc:
        raise SampleError(task.clip.id, f"apex spotting failed: {exc}") from None
    out["result"] = res
    if task.clip.apex is not None:
        for m in task.compare:
            if m == res.method:
                out["compare"][m] = res.frame
                continue
            try:
                out["compare"][m] = spot_apex(task.clip, m, None, task.options).frame
            except (SampleError, ValueError, cv2.error) as exc:
                out["compare_errors"][m] = getattr(exc, "reason", str(exc))
    out["seconds"] = time.perf_counter() - t0
    return out


def clip_from_record(rec: SampleRecord) -> Clip:
    """The arrays and annotation an apex method needs; SampleError when the face stage is missing."""
    if not rec.has(S.D_FRAMES):
        raise SampleError(
            rec.id,
            "no face frames (array 'frames')",
            hint="run mertool detect-faces first (or give a dataset root)",
        )
    frames = np.asarray(rec.array(S.D_FRAMES))
    numbers = (
        np.asarray(rec.array(S.D_FRAME_NUMBERS)).astype(np.int64)
        if rec.has(S.D_FRAME_NUMBERS)
        else np.arange(len(frames), dtype=np.int64)
    )
    landmarks = np.asarray(rec.array(S.D_LANDMARKS_ALIGNED)) if rec.has(S.D_LANDMARKS_ALIGNED) else None

    def opt_int(key: str) -> int | None:
        v = rec.get(key)
        return None if v is None else int(v)

    fps = rec.get(S.A_FPS)
    return Clip(
        id=rec.id,
        frames=frames,
        frame_numbers=numbers,
        landmarks=landmarks,
        onset=opt_int(S.A_ONSET),
        apex=opt_int(S.A_APEX),
        offset=opt_int(S.A_OFFSET),
        fps=float(fps) if fps else None,
    )


@dataclass
class SpotReport(StageReport):
    method: str
    fallback: str | None
    compare: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def methods_reported(self) -> list[str]:
        ordered = [self.method] + [m for m in self.compare if m != self.method]
        return [m for m in ordered if m != "label"]

    def summary(self) -> dict[str, dict[str, Any]]:
        return error_summary(self.rows, self.methods_reported())

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "fallback": self.fallback,
            "clips": self.rows,
            "apex_error": self.summary(),
            **self.counts(),
        }


def process(
    sf: SampleFile,
    output: str | Path | None,
    method: str = "dc-rois",
    fallback: str | None = None,
    compare: tuple[str, ...] = SPOTTING_METHODS,
    options: ApexOptions = ApexOptions(),
    on_error: str = "skip",
    resume: bool = False,
    retry_failed: bool = False,
    workers: int = 0,
    write: bool = True,
    command_params: dict[str, Any] | None = None,
    command: str | None = None,
) -> SpotReport:
    """Spot the apex of every sample of ``sf``; write to ``output`` unless ``write`` is False.
    ``resume`` keeps the samples already in ``output``; ``retry_failed`` (implies ``resume``)
    does those that failed again. ``command``: the command line recorded in the output."""
    from dataclasses import asdict

    check_method(method)
    if fallback is not None:
        check_method(fallback)
        if fallback == "label":
            raise MertoolError(
                "--fallback label makes no sense: it is what is missing", hint="e.g. --fallback dc-rois"
            )
    for m in compare:
        check_method(m)
    params = {
        "method": method,
        "fallback": fallback,
        "compare": list(compare),
        **asdict(options),
        "on_error": on_error,
        **(command_params or {}),
    }
    report = SpotReport(method, fallback, tuple(compare))
    run_flags = {"resume": resume, "retry_failed": retry_failed, "command": command}
    with open_writer(output, S.STAGE_APEX, write, params=params, source=sf, **run_flags) as writer:

        def prepare(rec: SampleRecord) -> SpotTask:
            return SpotTask(clip_from_record(rec), method, fallback, tuple(compare), options)

        def finish(rec: SampleRecord, task: SpotTask, out: dict[str, Any]) -> None:
            res = out["result"]
            label = rec.get(S.A_APEX)
            spotted = dict(out["compare"])
            spotted[res.method] = res.frame
            fps = rec.get(S.A_FPS)
            row = {
                "id": rec.id,
                "frames": out["frames"],
                "onset": rec.get(S.A_ONSET),
                "offset": rec.get(S.A_OFFSET),
                "apex": None if label is None else int(label),
                "fps": float(fps) if fps else None,
                "method": res.method,
                "apex_spotted": res.frame,
                "error_frames": None if label is None else res.frame - int(label),
                "spotted": spotted,
                "note": res.note,
            }
            if out["compare_errors"]:
                row["compare_errors"] = out["compare_errors"]
            report.rows.append(row)
            attrs = {S.A_APEX_SPOTTED: res.frame, S.A_APEX_METHOD: res.method}
            if res.note:
                attrs[S.A_WARNINGS] = list(rec.get(S.A_WARNINGS) or []) + [res.note]
            arrays = {S.D_APEX_CURVE: res.curve} if res.curve is not None else {}
            writer.write(rec, arrays=arrays, attrs=attrs, drop=(S.D_APEX_CURVE,))

        run_samples(
            sf.ids(),
            sf.record,
            writer,
            report,
            label="spot-apex",
            prepare=prepare,
            work=_spot_task,
            finish=finish,
            on_error=on_error,
            workers=workers,
        )
    return report


def run(source: str | Path, output: str | Path, **kwargs: Any) -> SpotReport:
    """Stage runner for chaining (:func:`mertool.stages.chain.register_stage`): defaults unless given."""
    with SampleFile(source) as sf:
        return process(sf, output, **kwargs)


# Run implicitly (a later stage needs an apex): the dataset's label where it has one, D&C-RoIs
# where it has none (SMIC), as paper 004 does; no comparison report.
register_stage(
    S.STAGE_APEX,
    run,
    requires=(S.STAGE_FACES,),
    chain_options={"method": "label", "fallback": "dc-rois", "compare": ()},
)
