"""``mertool analyze``: spot a long video's expressions, recognise the micro-expressions, and
write what happened when.

Per video: :func:`mertool.stages.spot.spot_video` (face followed and registered in every frame,
micro and macro intervals spotted), then, with a model file, each spotted micro-expression is
recognised from its aligned onset and apex faces by
:class:`mertool.training.predict.ClipPredictor` (the flow stage's maps and the model, with the
settings recorded in the model file; ``runtime="onnx"`` runs onnxruntime, on a ``.pt`` or a
``.onnx``). Written to the output folder:

* ``timeline.json`` and ``timeline.csv``: one row per interval with start, apex and end in frames
  and seconds, kind, label, confidence (and the class probabilities in the JSON), plus the
  frames without a face (``gaps``) and the spotting thresholds;
* ``timeline.png``: the spotting curves over time, intervals shaded and labelled, gaps hatched
  (:mod:`mertool.visualize.timeline`);
* ``annotated.mp4``: every frame with the face box, the expression showing and its label.

A model that does not eat flow-stage inputs is refused before any frame is read; a video
without a face is reported and the next video analysed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool.errors import MertoolError, SampleError
from mertool.stages.spot import SpotOptions, VideoJob, spot_video, video_jobs

RUNTIMES = ("torch", "onnx")
CSV_FIELDS = (
    "video", "kind", "start_frame", "apex_frame", "end_frame", "start_s", "apex_s", "end_s", "label", "confidence",
)  # fmt: skip


@dataclass
class AnalyzeOptions:
    spot: SpotOptions = field(default_factory=SpotOptions)
    model: str | None = None
    runtime: str = "torch"
    recognise: tuple[str, ...] = ("micro",)  # which spotted kinds get a label
    video: bool = True  # write annotated.mp4


@dataclass
class VideoAnalysis:
    video: str
    folder: Path
    timeline: dict[str, Any]
    files: list[Path]
    error: str | None = None


def load_predictor(options: AnalyzeOptions):
    """The ClipPredictor of ``options.model`` (None without a model); fails before any video is read."""
    if options.model is None:
        return None
    from mertool.training.predict import ClipPredictor

    if options.runtime not in RUNTIMES:
        raise MertoolError(f"unknown runtime {options.runtime!r}", hint=f"one of: {', '.join(RUNTIMES)}")
    if not Path(options.model).is_file():
        raise MertoolError(
            f"{options.model}: no such model file",
            hint="give a model file from 'mertool train' (or 'mertool export')",
        )
    return ClipPredictor(options.model, backend="onnx" if options.runtime == "onnx" else "eager", threads=1)


def recognise(predictor, faces, intervals: list[dict[str, Any]], kinds: tuple[str, ...]) -> None:
    """Add ``label``, ``confidence`` and ``probabilities`` to each interval of ``kinds`` (in place),
    from its aligned onset and apex faces."""
    index = {int(n): i for i, n in enumerate(faces.numbers)}
    for iv in intervals:
        iv.setdefault("label", None)
        iv.setdefault("confidence", None)
        if predictor is None or iv["kind"] not in kinds:
            continue
        on, ap = index[iv["onset"]], index[iv["apex"]]
        if not (faces.valid[on] and faces.valid[ap]):
            iv["note"] = "no face at the onset or apex frame"
            continue
        label, probs = predictor.predict(faces.faces[on], faces.faces[ap])
        iv["label"], iv["confidence"] = label, round(float(probs[label]), 6)
        iv["probabilities"] = {k: round(float(v), 6) for k, v in probs.items()}


def timeline_rows(video: str, intervals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "video": video,
            "kind": iv["kind"],
            "start_frame": iv["onset"],
            "apex_frame": iv["apex"],
            "end_frame": iv["offset"],
            "start_s": iv["onset_s"],
            "apex_s": iv["apex_s"],
            "end_s": iv["offset_s"],
            "label": iv.get("label"),
            "confidence": iv.get("confidence"),
        }
        for iv in intervals
    ]


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_annotated(job: VideoJob, faces, intervals: list[dict[str, Any]], path: Path) -> Path:
    """The annotated MP4 (mp4v), decoding the video once more; written atomically."""
    import cv2

    from mertool.visualize.timeline import annotate_frame

    index = {int(n): i for i, n in enumerate(faces.numbers)}
    boxes = faces.boxes
    tmp = path.with_name(f".{path.stem}.partial.mp4")
    writer = None
    try:
        for number, _label, image in job.frames():
            i = index.get(int(number))
            if image is None or i is None:
                continue
            current = next((iv for iv in intervals if iv["onset"] <= number <= iv["offset"]), None)
            frame = annotate_frame(
                image, boxes[i] if faces.valid[i] else None, current, i / job.fps, not faces.valid[i]
            )
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(job.fps), (w, h))
                if not writer.isOpened():
                    raise MertoolError(
                        f"OpenCV cannot write an MP4 at {tmp}", hint="use --no-video, or check the folder"
                    )
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        tmp.unlink(missing_ok=True)
        raise MertoolError(f"{job.id}: no frame to write into {path}")
    os.replace(tmp, path)
    return path


def _folder_name(video_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("_") or "video"


def analyze_video(
    job: VideoJob, folder: Path, options: AnalyzeOptions, predictor, detector=None, on_frame=None
) -> VideoAnalysis:
    """Spot, recognise and write the outputs of one video into ``folder``."""
    from mertool.visualize.timeline import draw_timeline

    folder.mkdir(parents=True, exist_ok=True)
    try:
        video, faces = spot_video(
            job.frames(), job.fps, job.id, options.spot, detector, on_frame=on_frame, times_ms=job.times_ms
        )
    except SampleError as exc:
        return VideoAnalysis(job.id, folder, {}, [], error=str(exc))
    recognise(predictor, faces, video.intervals, options.recognise)
    timeline = {
        "format": "mertool-timeline/1",
        "video": job.id,
        "fps": job.fps,
        "frames": video.frames,
        "duration_s": round(video.frames / job.fps, 3),
        "model": options.model,
        "runtime": options.runtime if options.model else None,
        "classes": list(predictor.classes) if predictor is not None else None,
        "intervals": timeline_rows(job.id, video.intervals),
        "probabilities": [iv.get("probabilities") for iv in video.intervals],
        "gaps": video.gaps,
        "thresholds": video.thresholds,
        "faces_in_first_frame": video.faces_in_first,
        "frame_rate_note": video.frame_rate_note,
        "redetected": video.redetected,
    }
    files = []
    p = folder / "timeline.json"
    _atomic(p, (json.dumps(timeline, indent=1) + "\n").encode())
    files.append(p)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    w.writerows(timeline["intervals"])
    p = folder / "timeline.csv"
    _atomic(p, buf.getvalue().encode())
    files.append(p)
    png = draw_timeline(
        folder / ".timeline.partial.png",
        job.id,
        job.fps,
        video.curves,
        video.thresholds,
        video.intervals,
        video.gaps,
        video.frames,
    )
    os.replace(png, folder / "timeline.png")
    files.append(folder / "timeline.png")
    if options.video:
        files.append(write_annotated(job, faces, video.intervals, folder / "annotated.mp4"))
    return VideoAnalysis(job.id, folder, timeline, files)


def analyze(
    source: str | Path,
    out_dir: str | Path,
    options: AnalyzeOptions,
    *,
    fps: float | None = None,
    dataset: str | None = None,
    limit: int | None = None,
) -> list[VideoAnalysis]:
    """Analyse every video of ``source`` (a video, a frames folder or a long-video release) into
    ``out_dir`` (one sub-folder per video when there are several)."""
    from mertool.console import progress_task, warn
    from mertool.face.detectors import get_detector

    predictor = load_predictor(options)
    jobs = video_jobs(Path(source), dataset, fps)[: limit or None]
    out_dir = Path(out_dir)
    detector = get_detector(options.spot.detector)
    results = []
    total = sum(j.n_frames or 0 for j in jobs) or None
    with progress_task("analyze", total) as advance:
        for job in jobs:
            folder = out_dir if len(jobs) == 1 else out_dir / _folder_name(job.id)
            res = analyze_video(
                job, folder, options, predictor, detector, on_frame=lambda i, j=job: advance(1, j.id)
            )
            if res.error:
                warn(res.error)
            if res.timeline.get("frame_rate_note"):
                warn(f"{job.id}: {res.timeline['frame_rate_note']}")
            for g in res.timeline.get("gaps", []):
                warn(
                    f"{job.id}: no face {g['start_s']:.2f}-{g['end_s']:.2f} s (frames {g['first']}-{g['last']}): {g['why']}; marked in the timeline"
                )
            results.append(res)
    return results


def record_video(camera: int, seconds: float, path: Path) -> tuple[Path, float]:
    """Record ``seconds`` from camera ``camera`` into ``path`` (MJPG AVI); ``(path, fps)``."""
    import cv2

    cap = cv2.VideoCapture(camera)
    if not cap.isOpened():
        raise MertoolError(
            f"camera {camera} cannot be opened",
            hint="check the camera index (0 is the first) and that no other program holds it",
        )
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        writer = None
        n = int(round(seconds * fps))
        for _ in range(n):
            ok, frame = cap.read()
            if not ok:
                break
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
            writer.write(frame)
        if writer is None:
            raise MertoolError(f"camera {camera} gave no frame")
        writer.release()
    finally:
        cap.release()
    return path, fps
