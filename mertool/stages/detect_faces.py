"""The ``detect-faces`` stage: every clip's face boxes, 68 landmarks and aligned face frames.

Input: a dataset root (read through :mod:`mertool.datasets`), a folder of frames or a video file
(:mod:`mertool.face.sources`), or a sample file holding ``frame_paths`` (the faces are found
again, e.g. with another detector). Per clip (:func:`process_clip`): decode each frame once,
follow the face with :class:`~mertool.face.tracking.FaceTracker` (one detection, then landmarks
only), choose the alignment (:mod:`mertool.face.alignment`) and warp every frame to a
``size`` x ``size`` face. Clips run in worker processes started with ``spawn`` (DESIGN.md §6:
forked workers can hang once OpenCV's thread pool has run), one OpenCV thread each; the workers
return arrays and this process alone writes the HDF5 file.

Arrays written per sample: ``frame_numbers``, ``frame_paths``, ``frames``, ``boxes``,
``landmarks``, ``landmarks_aligned``, ``align_matrix`` ((2, 3); (T, 2, 3) with ``align="frame"``)
and ``redetected``; attributes ``face_size``, ``color``, ``detector``, ``data_root`` (the dataset
root, frames folder or video's folder, absolute; ``frame_paths`` are stored relative to it so the
file works from anywhere, see :mod:`mertool.store.paths`) plus the dataset's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError
from mertool.face.clip import ClipResult, FaceOptions, process_clip, run_clips  # noqa: F401 (re-exported)
from mertool.face.sources import ClipFrames
from mertool.stages.chain import register_stage
from mertool.stages.engine import Failed, StageReport, print_summary, resolve_workers, run_samples
from mertool.store import schema as S

COLORS = ("rgb", "gray")
#: Arrays this stage writes; dropped from an HDF5 input before the new ones are written.
FACE_ARRAYS = (
    S.D_FRAMES,
    S.D_BOXES,
    S.D_LANDMARKS,
    S.D_LANDMARKS_ALIGNED,
    S.D_ALIGN_MATRIX,
    S.D_REDETECTED,
)


# ------------------------------------------------------------------------------------------------
# inputs


@dataclass
class Job:
    """One sample to process: its id, frames, what to copy forward, and its attributes."""

    clip: ClipFrames
    attrs: dict[str, Any]
    record: Any = None  # a SampleRecord when the input is a sample file
    error: str | None = None  # known to fail before any work (a frame file not found)


def _dataset_jobs(root: Path, dataset: str | None, label_map: str | None) -> tuple[list[Job], list[dict]]:
    from mertool.console import info, warn
    from mertool.face.sources import clip_frames
    from mertool.store import input_record, sha256_manifest
    from mertool.store.paths import absolute_root

    read = _open_dataset(root, dataset)
    lm = label_map or read.default_label_map
    if label_map and read.label_maps() and label_map not in read.label_maps():
        raise MertoolError(
            f"label map {label_map!r} does not apply to {read.name}",
            hint=f"one of: {', '.join(read.label_maps())}",
        )
    info(f"[dim]{read.name} at {root}: {len(read.samples)} clip(s), label map {lm}[/]")
    for q in read.quirks[:10]:
        warn(str(q))
    if len(read.quirks) > 10:
        warn(f"… and {len(read.quirks) - 10} more (mertool datasets info {root})")
    data_root = absolute_root(read.root)
    jobs = [Job(clip_frames(s), {**s.to_attrs(lm), S.A_DATA_ROOT: data_root}) for s in read.samples]
    frames = [p for s in read.samples for p in s.frames]
    inputs = [input_record(p, kind="annotation") for p in read.annotation_files]
    inputs.append(input_record(absolute_root(root), sha256_manifest(frames, root), kind="dataset-root"))
    return jobs, inputs


def _open_dataset(root: Path, dataset: str | None):
    from mertool.datasets import open_dataset

    return open_dataset(root, dataset)


def raw_jobs(
    source: Path, dataset: str | None = None, label_map: str | None = None
) -> tuple[list[Job], list[dict]]:
    """Jobs and provenance inputs for a dataset root, a folder of frames or a video file."""
    from mertool.datasets.base import detect_dataset
    from mertool.face import sources
    from mertool.store import input_record, sha256_manifest
    from mertool.store.paths import absolute_root

    if source.is_file():
        if not sources.is_video(source):
            raise MertoolError(
                f"{source} is neither a video nor a sample file",
                hint="give a dataset root, a folder of frames, a video file, or an HDF5 file from a stage",
            )
        sample = sources.video_sample(source)
        attrs = {**sample.to_attrs("native"), S.A_DATA_ROOT: absolute_root(source.parent)}
        return [Job(sources.clip_frames(sample), attrs)], [input_record(absolute_root(source), kind="video")]
    if dataset or not sources.has_frames(source) or detect_dataset(source):
        return _dataset_jobs(source, dataset, label_map)
    sample = sources.folder_sample(source)
    inputs = [
        input_record(absolute_root(source), sha256_manifest(sample.frames, source), kind="frames-folder")
    ]
    attrs = {**sample.to_attrs(label_map or "native"), S.A_DATA_ROOT: absolute_root(source)}
    return [Job(sources.clip_frames(sample), attrs)], inputs


def file_jobs(sf) -> list[Job]:
    """Jobs re-running the faces of every sample in a sample file that lists its frame files.

    Frame paths are resolved where the file is read (``data_root`` and ``--data-root`` /
    ``MERTOOL_DATA_ROOT``, :mod:`mertool.store.paths`); the output records the root the frames
    were found under. A sample whose frames cannot be found fails with a reason naming the file.
    """
    from mertool.face.sources import clip_frames_from_paths

    jobs = []
    for rec in sf.records():
        if not rec.has(S.D_FRAME_PATHS):
            raise MertoolError(
                f"{sf.name}: sample {rec.id} has no frame_paths to find faces in",
                hint="run detect-faces on the dataset root, a folder of frames or a video instead",
            )
        paths = rec.frame_paths()
        numbers = rec.array(S.D_FRAME_NUMBERS) if rec.has(S.D_FRAME_NUMBERS) else list(range(len(paths)))
        attrs = dict(rec.attrs)
        if rec.data_root is not None:
            attrs[S.A_DATA_ROOT] = rec.data_root
        missing = rec.missing_frames_error(paths)
        clip = clip_frames_from_paths(rec.id, list(paths), [int(n) for n in numbers])
        jobs.append(Job(clip, attrs, rec, missing.reason if missing else None))
    return jobs


# ------------------------------------------------------------------------------------------------
# the stage


@dataclass
class FaceRunSummary(StageReport):
    redetected: dict[str, list[int]] = field(default_factory=dict)
    frames: int = 0


def run(
    source: str | Path | None,
    output: str | Path | None,
    *,
    detector: str = "dlib-hog",
    weights: str | Path | None = None,
    dataset: str | None = None,
    label_map: str | None = None,
    size: int = 128,
    color: str = "rgb",
    align: str = "clip",
    workers: int = 2,
    on_error: str = "skip",
    resume: bool = False,
    retry_failed: bool = False,
    limit: int | None = None,
    command: str | None = None,
) -> FaceRunSummary:
    """Run detect-faces from ``source`` (dataset root, frames folder, video, sample file, or
    ``-``/None for stdin) into ``output`` (a path, or ``-``/None for stdout).

    ``resume`` keeps the samples already in ``output``; ``retry_failed`` (implies ``resume``)
    does those that failed again. ``command``: the command line recorded in the output."""
    from contextlib import ExitStack

    from mertool.console import info
    from mertool.face.clip import prestart_workers
    from mertool.face.detectors import get_detector
    from mertool.stages.chain import is_raw_input
    from mertool.store import input_record, open_input, open_output

    if color not in COLORS:
        raise MertoolError(f"unknown colour mode {color!r}", hint=f"one of: {', '.join(COLORS)}")
    from mertool.face.alignment import MODES

    if align not in MODES:
        raise MertoolError(f"unknown alignment {align!r}", hint=f"one of: {', '.join(MODES)}")
    if size < 16:
        raise MertoolError(f"--size {size} is too small for a face", hint="use 64 or more (default 128)")
    get_detector(detector, weights)  # checks the name and the weights file before any work
    weights_s = str(weights) if weights else None
    options = FaceOptions(detector, weights_s, int(size), color, align)
    params = {**asdict(options), "dataset": dataset, "label_map": label_map}
    summary = FaceRunSummary()

    n_workers = resolve_workers(workers)
    prestart_workers(n_workers)  # model loading in the worker server overlaps with reading the input
    with ExitStack() as stack:
        src = None
        if is_raw_input(source):
            jobs, inputs = raw_jobs(Path(source), dataset, label_map)  # type: ignore[arg-type]
        else:
            src = stack.enter_context(open_input(source))
            jobs, inputs = file_jobs(src), []
        if weights_s:
            inputs += [input_record(p, kind="weights") for p in weights_s.split(",") if p.strip()]
        if limit:
            jobs = jobs[:limit]
        run_flags = {"resume": resume, "retry_failed": retry_failed, "command": command}
        output_file = open_output(
            output, S.STAGE_FACES, params=params, source=src, inputs=inputs, **run_flags
        )
        writer = stack.enter_context(output_file)
        by_id = {job.clip.sample_id: job for job in jobs}
        stage_attrs = {S.A_FACE_SIZE: options.size, S.A_COLOR: options.color, S.A_DETECTOR: options.detector}

        def prepare(job: Job) -> tuple[ClipFrames, FaceOptions]:
            if job.error:  # known before any work (a frame file not found)
                raise SampleError(job.clip.sample_id, job.error)
            return job.clip, options

        def clips(
            tasks: Iterator[tuple[str, Any]], processes: int, _threads: int
        ) -> Iterator[tuple[str, Any]]:
            """The clip workers of :mod:`mertool.face.clip` (models loaded once, completion order)."""
            todo = [task for _, task in tasks]  # the known failures are written first
            for result in run_clips(todo, processes):
                yield result.sample_id, (result if result.error is None else Failed(result.error))

        def finish(job: Job, task: Any, result: ClipResult) -> None:
            _write(writer, job, result, stage_attrs)
            summary.frames += len(result.arrays[S.D_FRAME_NUMBERS])
            if result.redetected_frames:
                summary.redetected[result.sample_id] = result.redetected_frames

        run_samples(
            list(by_id),
            by_id.__getitem__,
            writer,
            summary,
            label="detect-faces",
            prepare=prepare,
            finish=finish,
            on_error=on_error,
            workers=n_workers,
            map_tasks=clips,
            is_failed=lambda job: None,
            write_failed=lambda job, reason: _write(
                writer, job, ClipResult(job.clip.sample_id, error=reason), stage_attrs
            ),
            hints=False,
            show_ids=True,
        )
    summary.failed.sort()
    print_summary(S.STAGE_FACES, summary.done, summary.failed, summary.skipped)
    if summary.redetected:
        from mertool.datasets.frames import describe_numbers

        info(f"the face was lost and detected again in {len(summary.redetected)} clip(s):")
        for sid, frames in sorted(summary.redetected.items()):
            info(f"  {sid}: frame(s) {describe_numbers(frames)}")
    return summary


def _write(writer, job: Job, result: ClipResult, stage_attrs: dict[str, Any]) -> None:
    sample = job.record if job.record is not None else job.clip.sample_id
    attrs = {**job.attrs, **stage_attrs}
    if result.error is not None:
        arrays = {}
        if job.clip.paths:  # keep the frame list so a later run can try again from this file
            arrays = {
                S.D_FRAME_NUMBERS: np.asarray(job.clip.numbers, np.int32),
                S.D_FRAME_PATHS: list(job.clip.paths),
            }
        attrs.update({S.A_STATUS: S.STATUS_FAILED, S.A_ERROR: result.error})
        writer.write(sample, arrays=arrays, attrs=attrs, drop=FACE_ARRAYS)
        return
    attrs.update({S.A_STATUS: S.STATUS_OK, S.A_ERROR: None})
    writer.write(sample, arrays=result.arrays, attrs=attrs, drop=FACE_ARRAYS)


register_stage(S.STAGE_FACES, run, requires=())
