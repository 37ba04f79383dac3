"""The ``spot`` stage: where in a long video are the micro- and macro-expressions.

Per video (:func:`spot_video`): follow and align the face in every frame
(:func:`mertool.face.video.follow_video`: tracking, re-detection, sub-pixel registration), cut
the aligned face into blocks off the eyes (:mod:`mertool.motion.spot_features`), compute the
feature-difference curves with a micro window and a macro window sized from the frame rate, and
spot intervals on them (:mod:`mertool.motion.spotting`). Output:

* ``OUT.json``: per video the spotted intervals (onset, apex, offset as frame numbers and
  seconds, kind, score), the curves' thresholds, the frames without a face, and with
  ``--evaluate`` the MEGC scores against the ground truth (:mod:`mertool.evaluation.spotting`);
* ``OUT.csv``: one row per interval;
* ``OUT.h5`` (with ``-o FILE.h5``): every spotted interval as a sample of a ``detect-faces``
  file (aligned grey faces, landmarks, per-frame transforms), so ``mertool flow OUT.h5`` and
  ``mertool predict MODEL OUT.h5`` recognise them.

Inputs: a long-video release root (:func:`mertool.datasets.long_videos.open_long_videos`), a
folder of frames or a video file.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError

KINDS = ("micro", "macro", "both")


#: per method, the settings left None: flow spots on its own curves and on D (z 10) and confirms
#: with D at z 5; lbp is the MEGC baseline (its own threshold, mean + 0.3 (max - mean)) whose
#: many low peaks D must confirm at z 10. Chosen on synthetic sets of seeds 1-3 (zidane,
#: grace_hopper), not on the benchmark's set (docs/spotting.md).
METHOD_DEFAULTS = {
    "flow": {"rule": "both", "neutral_z": 10.0, "confirm_z": 5.0},
    "lbp": {"rule": "megc", "neutral_z": 0.0, "confirm_z": 10.0},
}


@dataclass(frozen=True)
class SpotOptions:
    """Spotting settings; the windows are in seconds and become frames at each video's rate."""

    method: str = "flow"  # mertool.motion.spot_features.METHODS
    kind: str = "both"
    size: int = 128  # aligned face side
    grid: int = 8  # blocks per side
    top: float = 0.3  # fraction of blocks averaged
    rule: str | None = None  # "megc", "robust" or "both" (the stricter); None: the method's (METHOD_DEFAULTS)
    p: float = 0.3
    z: float = 4.0
    micro_window_s: float = 0.15  # k of the micro pass
    macro_window_s: float = 0.6  # k of the macro pass
    micro_half_s: float = 0.16  # half length of a spotted micro interval
    max_micro_s: float = 0.5  # longer intervals are macro
    fall: float = 0.25  # extent="window": where the macro curve falls to, of its peak
    # the displacement from the neutral face D (mertool.motion.spot_features.neutral_displacement):
    extent: str = "neutral"  # "neutral": intervals from D, one per movement; "window": the windows' own
    neutral_window_s: float = 4.0  # the neutral face: median of the faces this far either side
    extent_fall: float = 0.1  # an interval runs to where D falls to this fraction of its peak
    micro_extent: bool = True  # micro intervals from D too (False: peak +- micro_half_s)
    # None below: the method's (METHOD_DEFAULTS)
    neutral_z: float | None = None  # > 0: also spot where D is above median + z 1.4826 MAD
    confirm_z: float | None = None  # drop a window spot whose D peak is under median + z MAD
    detector: str = "dlib-hog"
    face: int = 0  # 0: the largest face, 1: the second largest, ...
    register: bool = True

    def __post_init__(self):
        for name, value in METHOD_DEFAULTS.get(self.method, METHOD_DEFAULTS["flow"]).items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)


@dataclass
class SpottedVideo:
    """One video's result (frame numbers are the video's own)."""

    id: str
    fps: float
    frames: int
    intervals: list[dict[str, Any]]
    thresholds: dict[str, float]
    gaps: list[dict[str, Any]] = field(default_factory=list)
    redetected: list[int] = field(default_factory=list)
    faces_in_first: int = 0
    curves: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    numbers: np.ndarray | None = field(default=None, repr=False)
    truth: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    frame_rate_note: str | None = None  # why the frame rate is variable (times then come from timestamps)

    def record(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("curves", "numbers")}
        return out


def windows(fps: float, options: SpotOptions) -> dict[str, int]:
    """The options' windows in frames at ``fps`` (each at least 1; the macro k above the micro k)."""
    km = max(1, int(round(options.micro_window_s * fps)))
    return {
        "micro_k": km,
        "macro_k": max(km + 1, int(round(options.macro_window_s * fps))),
        "micro_half": max(1, int(round(options.micro_half_s * fps))),
        "max_micro": max(2, int(round(options.max_micro_s * fps))),
    }


def _threshold_args(options: SpotOptions) -> dict[str, Any]:
    return {"rule": options.rule, "p": options.p, "z": options.z}


def spot_faces(faces, fps: float, options: SpotOptions, video_id: str = "?") -> tuple[list, dict, dict]:
    """Spots (positions in ``faces``) from followed faces (:class:`~mertool.face.video.VideoFaces`):
    ``(spots, curves, thresholds)``."""
    from mertool.motion import spot_features as SF
    from mertool.motion import spotting as SP

    w = windows(fps, options)
    blocks = SF.spotting_blocks(options.size, options.grid, faces.reference_aligned)
    if not len(blocks):
        raise SampleError(video_id, "no block of the face grid lies inside the face: is the face too small?")
    curves: dict[str, np.ndarray] = {}
    thresholds: dict[str, float] = {}
    micro: list = []
    macro: list = []
    for kind, k in (("micro", w["micro_k"]), ("macro", w["macro_k"])):
        if options.kind not in (kind, "both"):
            continue
        f = SP.top_mean(SF.block_difference(options.method, faces.faces, blocks, k), options.top)
        spots, c, level = SP.spot_curve(
            f,
            k,
            half=w["micro_half"],
            interval="fixed" if kind == "micro" else "curve",
            fall=options.fall,
            kind=kind,
            valid=faces.valid,
            **_threshold_args(options),
        )
        curves[kind] = c.astype(np.float32)
        thresholds[kind] = float(level)
        (micro if kind == "micro" else macro).extend(spots)
    if options.extent == "neutral":
        merged = _neutral_extents(faces, blocks, fps, options, w, micro, macro, curves)
    else:
        merged = SP.merge_kinds(micro, macro, w["max_micro"])
    if options.kind != "both":
        merged = [s for s in merged if s.kind == options.kind]
    return merged, curves, thresholds


def _neutral_extents(faces, blocks, fps, options, w, micro, macro, curves) -> list:
    """Every spot's extent from the displacement from the neutral face, one spot per movement
    (see :func:`mertool.motion.spotting.extent` and :func:`~mertool.motion.spotting.merge_movements`)."""
    from mertool.motion import spot_features as SF
    from mertool.motion import spotting as SP

    window = max(2, int(round(options.neutral_window_s * fps)))
    d = SP.top_mean(SF.neutral_displacement(faces.faces, blocks, window, valid=faces.valid), options.top)
    curves["neutral"] = d.astype(np.float32)
    base = float(np.median(d[faces.valid])) if faces.valid.any() else 0.0
    dv = d[faces.valid] if faces.valid.any() else d
    mad = max(1.4826 * float(np.median(np.abs(dv - base))), 1e-6)
    spots, heights = [], []
    for s in micro + macro:
        k = w["micro_k"] if s.kind == "micro" else w["macro_k"]
        peak, lo, hi = SP.extent(
            d, s.apex, k, options.extent_fall, reach=window // 2, base=base, valid=faces.valid
        )
        if d[peak] < base + options.confirm_z * mad:
            continue  # no displacement from the face at rest: not an expression
        if s.kind == "micro" and not options.micro_extent:
            h = w["micro_half"]
            lo, hi = max(0, peak - h), min(len(d) - 1, peak + h)
        spots.append(SP.Spot(lo, peak, hi, s.score, s.kind))
        heights.append(float(d[peak]))
    if options.neutral_z > 0 and faces.valid.any():
        level = base + options.neutral_z * mad
        for apex in SP.run_peaks(d, level, faces.valid):
            peak, lo, hi = SP.extent(
                d, apex, 0, options.extent_fall, reach=window // 2, base=base, valid=faces.valid
            )
            spots.append(SP.Spot(lo, peak, hi, float((d[peak] - base) / mad), "micro"))
            heights.append(float(d[peak]))
    return SP.merge_movements(spots, heights, w["max_micro"])


def spot_video(
    frames: Iterator[tuple[int, str, np.ndarray]],
    fps: float,
    video_id: str,
    options: SpotOptions,
    detector=None,
    on_frame: Callable[[int], None] | None = None,
    times_ms: list[float] | None = None,
):
    """Follow the face, spot, and return ``(SpottedVideo, VideoFaces)`` for one video.

    ``times_ms``: a list the frame source fills with each decoded frame's timestamp (videos); a
    variable frame rate then gives the seconds from the timestamps
    (:func:`mertool.face.sources.frame_times`), otherwise seconds are frame index / ``fps``."""
    from mertool.face.detectors import get_detector
    from mertool.face.sources import frame_times
    from mertool.face.video import follow_video

    det = detector if detector is not None else get_detector(options.detector)
    faces = follow_video(
        frames,
        det,
        options.size,
        face=options.face,
        register=options.register,
        video_id=video_id,
        on_frame=on_frame,
    )
    spots, curves, thresholds = spot_faces(faces, fps, options, video_id)
    numbers = faces.numbers
    note = None
    t = np.arange(len(numbers)) / fps
    if times_ms is not None and len(times_ms) == len(numbers):
        t, note = frame_times(times_ms, fps)

    def sec(i: int) -> float:
        return round(float(t[i]), 3)

    intervals = [
        {
            "onset": int(numbers[s.onset]),
            "apex": int(numbers[s.apex]),
            "offset": int(numbers[s.offset]),
            "onset_s": sec(s.onset),
            "apex_s": sec(s.apex),
            "offset_s": sec(s.offset),
            "kind": s.kind,
            "score": round(float(s.score), 6),
        }
        for s in spots
    ]
    gaps = [
        {
            "first": a,
            "last": b,
            "why": why,
            "start_s": sec(int(np.searchsorted(numbers, a))),
            "end_s": sec(int(np.searchsorted(numbers, b))),
        }
        for a, b, why in faces.gaps
    ]
    result = SpottedVideo(
        video_id,
        fps,
        len(numbers),
        intervals,
        thresholds,
        gaps,
        faces.redetected,
        faces.faces_in_first,
        curves,
        numbers,
        frame_rate_note=note,
    )
    return result, faces


# ------------------------------------------------------------------------------------------------
# inputs


@dataclass
class VideoJob:
    id: str
    fps: float
    frames: Callable[[], Iterator[tuple[int, str, np.ndarray]]]
    n_frames: int | None
    truth: list[dict[str, Any]]
    data_root: str
    subject: str
    dataset: str
    paths: list[str] = field(default_factory=list)
    times_ms: list[float] | None = None  # a video's frame timestamps, filled while it is decoded


def _file_frames(paths, numbers, video_id):
    from mertool.face.sources import read_frame

    def it():
        for n, p in zip(numbers, paths):
            try:
                img = read_frame(p, video_id)
            except SampleError as exc:
                from mertool.console import warn

                warn(f"{video_id}: {exc}; the frame is marked as a gap")
                img = None
            yield int(n), str(p), img

    return it


def video_jobs(source: Path, dataset: str | None = None, fps: float | None = None) -> list[VideoJob]:
    """The videos to spot in ``source``: a long-video release root, a frames folder or a video."""
    from mertool.datasets.long_videos import open_long_videos
    from mertool.face import sources

    if source.is_file():
        if not sources.is_video(source):
            raise MertoolError(
                f"{source} is not a video file OpenCV reads",
                hint="give a video, a frames folder or a long-video release root",
            )
        sample = sources.video_sample(source)
        rate = fps or sample.fps
        if not rate:
            raise MertoolError(f"{source}: the video does not say its frame rate", hint="give it with --fps")

        times: list[float] = []

        def frames_of_video():
            times.clear()
            return sources.iter_video(str(source), str(source), times_ms=times)

        return [
            VideoJob(
                source.stem,
                float(rate),
                frames_of_video,
                None,
                [],
                str(source.parent.resolve()),
                source.stem,
                "video",
                [str(source)],
                times,
            )
        ]
    if not source.is_dir():
        raise MertoolError(
            f"{source}: no such file or folder",
            hint="give a video, a frames folder or a long-video release root",
        )
    if sources.has_frames(source) and dataset is None:
        sample = sources.folder_sample(source)
        if not fps:
            raise MertoolError(
                f"{source}: a folder of frames has no frame rate", hint="give it with --fps (e.g. --fps 30)"
            )
        return [
            VideoJob(
                source.name, float(fps), _file_frames(sample.frames, sample.frame_numbers, source.name),
                len(sample.frames), [], str(source.resolve()), source.name, "frames", [str(p) for p in sample.frames],
            )
        ]  # fmt: skip
    read = open_long_videos(source, dataset)
    from mertool.console import info, warn

    info(f"[dim]{read.name} at {read.root}: {len(read.videos)} long video(s)[/]")
    for q in read.quirks[:10]:
        warn(str(q))
    jobs = []
    for v in read.videos:
        truth = [
            {"onset": e.onset, "apex": e.apex, "offset": e.offset, "kind": e.kind, "label": e.label}
            for e in v.expressions
        ]
        jobs.append(
            VideoJob(
                v.id, float(fps or v.fps), _file_frames(v.frames, v.frame_numbers, v.id), len(v.frames), truth,
                str(Path(read.root).resolve()), v.subject, v.dataset, [str(p) for p in v.frames],
            )
        )  # fmt: skip
    return jobs


# ------------------------------------------------------------------------------------------------
# the stage


def evaluate(videos: list[SpottedVideo]) -> dict[str, Any]:
    """MEGC scores of every video that has ground truth (see :mod:`mertool.evaluation.spotting`)."""
    from mertool.evaluation.spotting import Interval, evaluate_spotting

    spotted, truth = [], []
    for v in videos:
        if v.error is not None:
            continue
        spotted += [
            Interval(v.id, i["onset"], i["offset"], i["kind"], i["apex"], i["score"]) for i in v.intervals
        ]
        truth += [Interval(v.id, t["onset"], t["offset"], t["kind"], t["apex"]) for t in v.truth]
    return evaluate_spotting(spotted, truth)


@dataclass
class SpotRun:
    videos: list[SpottedVideo]
    json_path: Path | None
    csv_path: Path | None
    h5_path: Path | None
    scores: dict[str, Any] | None
    seconds: float
    frames: int


def output_paths(output: str | Path) -> tuple[Path, Path, Path | None]:
    """``(json, csv, h5 or None)`` for ``-o``: ``X.h5`` writes all three, ``X.json`` or a stem
    the JSON and CSV only."""
    out = Path(output)
    if out.suffix.lower() in (".h5", ".hdf5"):
        return out.with_suffix(".json"), out.with_suffix(".csv"), out
    if out.suffix.lower() == ".json":
        return out, out.with_suffix(".csv"), None
    return out.with_suffix(".json"), out.with_suffix(".csv"), None


def run(
    source: str | Path,
    output: str | Path | None,
    options: SpotOptions,
    *,
    dataset: str | None = None,
    fps: float | None = None,
    evaluate_truth: bool = False,
    truth_file: str | Path | None = None,
    command: str | None = None,
    limit: int | None = None,
) -> SpotRun:
    """Spot every video of ``source`` and write the outputs (see the module docstring)."""
    import time

    from mertool.console import progress_task, warn
    from mertool.face.detectors import get_detector

    started = time.perf_counter()
    jobs = video_jobs(Path(source), dataset, fps)[: limit or None]
    if truth_file is not None:
        _attach_truth(jobs, Path(truth_file))
    if evaluate_truth and not any(j.truth for j in jobs):
        raise MertoolError(
            f"{source}: no ground-truth intervals to evaluate against",
            hint="give a long-video release root with its annotation, or --truth long_truth.json from mertool synth",
        )
    json_path = csv_path = h5_path = None
    if output is not None:
        json_path, csv_path, h5_path = output_paths(output)
    detector = get_detector(options.detector)
    results: list[SpottedVideo] = []
    total = sum(j.n_frames or 0 for j in jobs) or None
    frames_done = 0
    from contextlib import nullcontext

    from mertool.store import SampleWriter
    from mertool.store import schema as S

    writer_cm = (
        SampleWriter(h5_path, S.STAGE_FACES, params=_params(options), command=command)
        if h5_path is not None
        else nullcontext(None)
    )
    # the sample file is committed only when every video is done (an interrupted run leaves
    # nothing half-written in its place)
    with writer_cm as writer, progress_task("spot", total) as advance:
        for job in jobs:
            try:
                video, faces = spot_video(
                    job.frames(),
                    job.fps,
                    job.id,
                    options,
                    detector,
                    on_frame=lambda i, j=job: advance(1, j.id),
                    times_ms=job.times_ms,
                )
            except SampleError as exc:
                warn(str(exc))
                results.append(SpottedVideo(job.id, job.fps, 0, [], {}, error=str(exc), truth=job.truth))
                continue
            video.truth = job.truth
            frames_done += video.frames
            if video.frame_rate_note:
                warn(f"{job.id}: {video.frame_rate_note}")
            for gap in video.gaps:
                warn(
                    f"{job.id}: no face from frame {gap['first']} to {gap['last']} "
                    f"({gap['start_s']:.2f}-{gap['end_s']:.2f} s): {gap['why']}; marked as a gap"
                )
            results.append(video)
            if writer is not None:
                _write_intervals(writer, job, video, faces)
    scores = evaluate(results) if evaluate_truth else None
    doc = {
        "format": "mertool-spots/1",
        "command": command,
        "options": asdict(options),
        "videos": [v.record() for v in results],
        "scores": scores,
    }
    if json_path is not None:
        _atomic_write(json_path, json.dumps(doc, indent=1, default=_json_default) + "\n")
        _write_csv(csv_path, results)
    return SpotRun(results, json_path, csv_path, h5_path, scores, time.perf_counter() - started, frames_done)


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    raise TypeError(type(x))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)


CSV_FIELDS = ("video", "kind", "onset", "apex", "offset", "onset_s", "apex_s", "offset_s", "score")


def _write_csv(path: Path, videos: list[SpottedVideo]) -> None:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for v in videos:
        for i in v.intervals:
            w.writerow({"video": v.id, **{k: i[k] for k in CSV_FIELDS if k != "video"}})
    _atomic_write(path, buf.getvalue())


def read_truth_file(path: Path) -> dict[str, Any]:
    """A ``long_truth.json`` written by ``mertool synth --layout *-long``."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise MertoolError(f"{path}: not a readable long-video truth file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != "mertool-long-truth/1":
        raise MertoolError(
            f"{path} is not a long-video truth file written by mertool synth",
            hint="give the long_truth.json beside the synthetic release, or leave --truth out",
        )
    return doc


def _attach_truth(jobs: list[VideoJob], truth_file: Path) -> None:
    """Ground truth from a ``long_truth.json`` (mertool synth) matched to the jobs by frame folder."""
    doc = read_truth_file(truth_file)
    by_dir = {}
    for v in doc["videos"]:
        by_dir[v["video_dir"]] = [
            {
                "onset": e["onset"],
                "apex": e["apex"],
                "offset": e["offset"],
                "kind": e["kind"],
                "label": e["label"],
            }
            for e in v["events"]
            if e["kind"] in ("micro", "macro")
        ]
    for job in jobs:
        if not job.paths:
            continue
        parent = Path(job.paths[0]).parent.as_posix()
        for rel, truth in by_dir.items():
            if parent.endswith(rel):
                job.truth = truth


def _params(options: SpotOptions) -> dict[str, Any]:
    return {"spot": asdict(options), "face_size": options.size, "color": "gray", "detector": options.detector}


def _write_intervals(writer, job: VideoJob, video: SpottedVideo, faces) -> None:
    """Every spotted interval of one video as a detect-faces sample (``<video id>/<onset>-<offset>``)."""
    from mertool.face import alignment as al
    from mertool.store import schema as S

    numbers = faces.numbers
    index = {int(n): i for i, n in enumerate(numbers)}
    for iv in video.intervals:
        lo, hi = index[iv["onset"]], index[iv["offset"]]
        keep = [i for i in range(lo, hi + 1) if faces.valid[i]]
        if len(keep) < 2:
            continue
        sid = f"{job.id}/{iv['onset']}-{iv['offset']}"
        lm = faces.landmarks[keep]
        mats = faces.matrices[keep]
        arrays = {
            S.D_FRAME_NUMBERS: numbers[keep].astype(np.int32),
            S.D_FRAME_PATHS: [faces.labels[i] for i in keep],
            S.D_FRAMES: faces.faces[keep],
            S.D_BOXES: faces.boxes[keep].astype(np.float32),
            S.D_LANDMARKS: lm,
            S.D_LANDMARKS_ALIGNED: np.stack([al.transform_points(p, m) for p, m in zip(lm, mats)]).astype(
                np.float32
            ),
            S.D_ALIGN_MATRIX: mats.astype(np.float32),
            S.D_REDETECTED: np.zeros(len(keep), bool),
        }
        attrs = {
            S.A_ID: sid,
            S.A_DATASET: job.dataset,
            S.A_SUBJECT: job.subject,
            S.A_CLIP: f"{iv['onset']}-{iv['offset']}",
            S.A_ONSET: iv["onset"],
            S.A_APEX: iv["apex"],
            S.A_OFFSET: iv["offset"],
            S.A_FPS: job.fps,
            S.A_STATUS: S.STATUS_OK,
            S.A_ERROR: None,
            S.A_FACE_SIZE: faces.faces.shape[1],
            S.A_COLOR: "gray",
            "spot_kind": iv["kind"],
            "spot_score": iv["score"],
        }
        attrs[S.A_DATA_ROOT] = job.data_root
        writer.write(sid, arrays=arrays, attrs=attrs)
