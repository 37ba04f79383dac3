"""One clip's faces: decode each frame once, follow the face, align, warp (runs in worker processes).

:func:`process_clip` is the per-clip work of ``detect-faces``: every frame is decoded once,
followed by :class:`~mertool.face.tracking.FaceTracker` (one detection, then landmarks only),
the alignment is chosen (:mod:`mertool.face.alignment`: once per clip, or per frame) and each
frame is warped to a ``size`` x ``size`` face. Memory stays bounded: only the first ``n_first``
decoded frames wait for the clip's transform; the rest are warped as they are decoded.

:func:`run_clips` spreads clips over worker processes, never forked from the parent (DESIGN.md
§6: workers forked after OpenCV's thread pool has run can hang): they come from a fresh
``forkserver`` process that has loaded the models once (:func:`worker_context`), or are
``spawn``-ed where there is no forkserver. One OpenCV thread each. Workers import this module
and :mod:`mertool.face` only (no HDF5, no dataset readers) and return arrays; the parent writes
them.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError
from mertool.face.sources import ClipFrames

# array names of mertool.store.schema (not imported here: workers stay free of h5py)
FRAME_NUMBERS, FRAME_PATHS, FRAMES = "frame_numbers", "frame_paths", "frames"
BOXES, LANDMARKS, LANDMARKS_ALIGNED = "boxes", "landmarks", "landmarks_aligned"
ALIGN_MATRIX, REDETECTED = "align_matrix", "redetected"


@dataclass(frozen=True)
class FaceOptions:
    """What :func:`process_clip` needs (picklable: it travels to the worker processes)."""

    detector: str = "dlib-hog"
    weights: str | None = None
    size: int = 128
    color: str = "rgb"
    align: str = "clip"
    n_first: int = 5


@dataclass
class ClipResult:
    sample_id: str
    arrays: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def redetected_frames(self) -> list[int]:
        if self.error is not None:
            return []
        flags = self.arrays[REDETECTED]
        return [int(n) for n, r in zip(self.arrays[FRAME_NUMBERS], flags) if r]


# ------------------------------------------------------------------------------------------------
# one clip (runs in a worker)


def _detector(options: FaceOptions):
    from mertool.face.detectors import get_detector

    return get_detector(options.detector, options.weights)


def process_clip(clip: ClipFrames, options: FaceOptions, detector=None) -> dict[str, Any]:
    """Faces of one clip as arrays (see the module docstring); raises :class:`SampleError`
    naming the frame for a missing/corrupt frame, a frame of another size, no face, a lost face."""
    import cv2

    from mertool.face import alignment as al
    from mertool.face.tracking import FaceNotFound, FaceTracker

    gray_mode = options.color == "gray"
    tracker = FaceTracker(detector if detector is not None else _detector(options))
    size = options.size
    numbers: list[int] = []
    labels: list[str] = []
    boxes: list[np.ndarray] = []
    points: list[np.ndarray] = []
    flags: list[bool] = []
    aligned: list[np.ndarray] = []
    pending: list[np.ndarray] = []  # frames decoded before the clip's transform is known
    clip_m: np.ndarray | None = None
    ref: np.ndarray | None = None
    frame_ms: list[np.ndarray] = []
    first_shape: tuple[int, int] | None = None
    stable = list(al.STABLE_POINTS)

    def out(image: np.ndarray, m: np.ndarray) -> np.ndarray:
        face = al.warp(image, m, size)
        return face if gray_mode else cv2.cvtColor(face, cv2.COLOR_BGR2RGB)

    def matrix_for(i: int) -> np.ndarray:
        if options.align == "clip":
            return clip_m  # type: ignore[return-value]
        m = al.compose(clip_m, al.fit_similarity(points[i][stable], ref[stable]))  # type: ignore[index]
        frame_ms.append(m)
        return m

    def settle() -> None:
        nonlocal clip_m, ref
        lm = np.stack(points)
        ref = al.reference_shape(lm, options.n_first)
        clip_m = al.clip_transform(lm, size, options.n_first)
        for i, image in enumerate(pending):
            aligned.append(out(image, matrix_for(i)))
        pending.clear()

    for number, label, image in clip.iter_frames(gray=gray_mode):
        shape = image.shape[:2]
        if first_shape is None:
            first_shape = shape
        elif shape != first_shape:
            raise SampleError(
                clip.sample_id,
                f"frame of another size: {label} is {shape[1]}x{shape[0]}, "
                f"the clip's first frame {labels[0]} is {first_shape[1]}x{first_shape[0]}",
            )
        gray = image if gray_mode else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        try:
            face = tracker.update(gray, None if gray_mode else image)
        except FaceNotFound as exc:
            where = "in the first frame" if not numbers else "at frame"
            raise SampleError(clip.sample_id, f"{exc.why} {where} {label}") from None
        numbers.append(number)
        labels.append(label)
        boxes.append(face.box)
        points.append(face.landmarks)
        flags.append(face.redetected)
        if clip_m is None:
            pending.append(image)
            if len(points) >= options.n_first:
                settle()
        else:
            aligned.append(out(image, matrix_for(len(points) - 1)))
    if not numbers:
        raise SampleError(clip.sample_id, "the clip has no frames")
    if clip_m is None:
        settle()

    lm = np.stack(points).astype(np.float32)
    if options.align == "clip":
        matrix = clip_m
        lm_aligned = al.transform_points(lm, matrix)
    else:
        matrix = np.stack(frame_ms)
        lm_aligned = np.stack([al.transform_points(p, m) for p, m in zip(lm, matrix)])
    return {
        FRAME_NUMBERS: np.asarray(numbers, np.int32),
        FRAME_PATHS: labels,
        FRAMES: np.stack(aligned),
        BOXES: np.stack(boxes).astype(np.float32),
        LANDMARKS: lm,
        LANDMARKS_ALIGNED: lm_aligned.astype(np.float32),
        ALIGN_MATRIX: np.asarray(matrix, np.float32),
        REDETECTED: np.asarray(flags, bool),
    }


_WORKER_DETECTOR: dict[str, Any] = {}


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _run_clip(job: tuple[ClipFrames, FaceOptions]) -> ClipResult:
    """Worker entry: a :class:`ClipResult`; user errors come back as ``error`` text, never raised
    (exceptions with custom arguments do not survive pickling back to the parent)."""
    clip, options = job
    key = f"{options.detector}|{options.weights}"
    try:
        if key not in _WORKER_DETECTOR:
            _WORKER_DETECTOR[key] = _detector(options)
        return ClipResult(clip.sample_id, process_clip(clip, options, _WORKER_DETECTOR[key]))
    except SampleError as exc:
        return ClipResult(clip.sample_id, error=exc.reason)
    except MertoolError as exc:  # a problem with the run itself (a bad weights file): stop
        return ClipResult(clip.sample_id, error="\0" + exc.message + ("\0" + exc.hint if exc.hint else ""))


def warm_models() -> None:
    """Load the models every worker needs (dlib's HOG detector and the 68-point predictor)."""
    from mertool.face.landmarks import hog_detector, shape_predictor

    hog_detector()
    shape_predictor()


def worker_context():
    """The multiprocessing context for clip workers.

    ``forkserver`` where the platform has it: a fresh, single-threaded server process (never the
    parent, whose OpenCV thread pool, open HDF5 file and progress thread must not be forked)
    imports :mod:`mertool.face.warm`, which loads the models once; each worker is forked from it
    with the models already in memory, instead of loading 100 MB of predictor per worker (about
    a second each). ``spawn`` elsewhere (Windows).
    """
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mertool.face.warm"])
        return ctx
    return mp.get_context("spawn")


def prestart_workers(workers: int) -> None:
    """Start the forkserver (and its model loading, about a second) in the background now, so it
    overlaps with reading the dataset; :func:`run_clips` then finds it running."""
    if workers <= 1 or "forkserver" not in mp.get_all_start_methods():
        return
    import threading
    from multiprocessing import forkserver

    worker_context()
    threading.Thread(target=forkserver.ensure_running, name="mertool-forkserver", daemon=True).start()


def run_clips(jobs: list[tuple[ClipFrames, FaceOptions]], workers: int) -> Iterator[ClipResult]:
    """Results of :func:`process_clip` over ``jobs``, in completion order, on ``workers`` processes."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _checked(_run_clip(job))
        return
    ctx = worker_context()
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
        for result in pool.imap_unordered(_run_clip, jobs):
            yield _checked(result)


def _checked(result: ClipResult) -> ClipResult:
    if result.error is not None and result.error.startswith("\0"):
        message, _, hint = result.error[1:].partition("\0")
        raise MertoolError(message, hint=hint or None)
    return result
