"""Apex spotting: which frame of a clip is the apex, by one of four methods, and how wrong it is.

Methods (:data:`METHODS`), each ``(clip, options) -> ApexResult``:

* ``dc-rois`` — paper 004's D&C-RoIs on the aligned faces (:mod:`mertool.motion.dc_rois`); region
  boxes from the aligned landmarks of the onset frame (the aligned faces of one clip share one
  similarity transform, so fixed boxes follow the face; per-frame boxes would add landmark jitter
  to the LBP difference) or, with ``boxes="per-frame"``, of every frame.
* ``flow-peak`` — per frame, DIS optical flow from the onset frame (MEDIUM preset) inside the face
  (the bounding box of the onset frame's aligned landmarks); the median flow there (what the whole
  head did: drift left after alignment) is subtracted, and the frame score is the 95th percentile of
  the remaining magnitude (a facial movement is local: a mean over the face would be dominated by
  drift). The apex is the frame with the largest score.
* ``label`` — the dataset's own apex (an error for clips without one, e.g. SMIC, unless a
  ``fallback`` method is given).
* ``middle`` — the middle frame of the onset..offset window (a baseline).

The search window runs from the onset frame (the ``onset`` attribute, else the first frame) to the
offset frame (the ``offset`` attribute, else the last frame), inclusive. Apexes are reported as the
dataset's own frame numbers. :func:`error_summary` is the spotted-vs-labelled report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mertool.errors import SampleError
from mertool.motion import dc_rois

METHODS = ("dc-rois", "flow-peak", "label", "middle")
#: Methods compared against the labelled apex in the report (``label`` is the reference itself).
SPOTTING_METHODS = ("dc-rois", "flow-peak", "middle")


@dataclass
class Clip:
    """What the apex methods need from one sample.

    ``frames``: (T, S, S) or (T, S, S, 3) uint8 aligned faces; ``frame_numbers``: (T,) int;
    ``landmarks``: (T, 68, 2) aligned-face pixels, or None; ``onset``/``apex``/``offset``: the
    dataset's frame numbers, or None when the annotation has none.
    """

    id: str
    frames: np.ndarray
    frame_numbers: np.ndarray
    landmarks: np.ndarray | None = None
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    fps: float | None = None


@dataclass(frozen=True)
class ApexOptions:
    """Parameters of the apex methods (recorded by the spot-apex stage)."""

    lbp_points: int = dc_rois.LBP_POINTS
    lbp_radius: float = dc_rois.LBP_RADIUS
    lbp_method: str = dc_rois.LBP_METHOD
    lbp_grid: int = dc_rois.LBP_GRID
    lbp_blur: float = dc_rois.LBP_BLUR
    dc_parts: int = dc_rois.DC_PARTS
    dc_min_len: int = dc_rois.DC_MIN_LEN
    boxes: str = "onset"  # or "per-frame"
    flow_peak_preset: str = "medium"  # DIS preset for flow-peak


@dataclass
class ApexResult:
    method: str
    index: int  # position in the clip's frames
    frame: int  # the dataset's frame number
    curve: np.ndarray | None = field(default=None, repr=False)  # (T,) float32, or None
    note: str | None = None  # e.g. "label missing: used dc-rois"


def frame_index(frame_numbers: np.ndarray, number: int, clip_id: str, what: str) -> int:
    """Position of frame ``number`` in ``frame_numbers``; SampleError when the clip lacks it."""
    hits = np.flatnonzero(np.asarray(frame_numbers) == int(number))
    if hits.size == 0:
        lo, hi = int(np.min(frame_numbers)), int(np.max(frame_numbers))
        raise SampleError(
            clip_id,
            f"the {what} frame {number} is not among the clip's frames ({lo}..{hi})",
            hint="check the annotation row of this clip, or that all its frames were read",
        )
    return int(hits[0])


def window(clip: Clip) -> tuple[int, int]:
    """``(start, stop)`` positions of the onset..offset search window (stop exclusive)."""
    n = len(clip.frame_numbers)
    if n < 2:
        raise SampleError(
            clip.id,
            f"the clip has {n} frame(s): an apex needs an onset and at least one later frame",
            hint="check that the clip folder holds all its frames",
        )
    start = 0 if clip.onset is None else frame_index(clip.frame_numbers, clip.onset, clip.id, "onset")
    stop = n
    if clip.offset is not None and clip.offset in set(np.asarray(clip.frame_numbers).tolist()):
        stop = frame_index(clip.frame_numbers, clip.offset, clip.id, "offset") + 1
    if stop - start < 2:
        raise SampleError(
            clip.id,
            f"onset..offset window holds {stop - start} frame(s) (onset {clip.onset}, offset {clip.offset})",
            hint="the annotation's onset and offset leave no frame after the onset",
        )
    return start, stop


def _gray_stack(frames: np.ndarray) -> np.ndarray:
    from mertool.face.landmarks import to_gray

    frames = np.asarray(frames)
    if frames.ndim == 3:
        return frames
    return np.stack([to_gray(f) for f in frames])


def _need_landmarks(clip: Clip) -> np.ndarray:
    if clip.landmarks is None:
        raise SampleError(
            clip.id,
            "no aligned landmarks (array 'landmarks_aligned')",
            hint="run mertool detect-faces first (spot-apex on a dataset root does it for you)",
        )
    return np.asarray(clip.landmarks, np.float32)


def spot_dc_rois(clip: Clip, options: ApexOptions = ApexOptions()) -> ApexResult:
    from mertool.face.rois import dc3

    start, stop = window(clip)
    landmarks = _need_landmarks(clip)
    if options.boxes == "per-frame":
        boxes = np.stack([dc3(p) for p in landmarks])
    elif options.boxes == "onset":
        boxes = dc3(landmarks[start])
    else:
        raise ValueError(f"boxes must be 'onset' or 'per-frame', not {options.boxes!r}")
    index, curve = dc_rois.spot(
        _gray_stack(clip.frames),
        boxes,
        onset_index=start,
        stop=stop,
        points=options.lbp_points,
        radius=options.lbp_radius,
        method=options.lbp_method,
        grid=options.lbp_grid,
        blur=options.lbp_blur,
        parts=options.dc_parts,
        min_len=options.dc_min_len,
    )
    return ApexResult("dc-rois", index, int(clip.frame_numbers[index]), curve)


def face_mask_box(landmarks: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer bounding box (x0, y0, x1, y1) of one face's landmarks, clipped to the image."""
    x0, y0 = np.floor(landmarks.min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks.max(axis=0)).astype(int) + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def flow_peak_curve(
    frames: np.ndarray, start: int, box: tuple[int, int, int, int], dis_preset: str, percentile: float = 95.0
) -> np.ndarray:
    """Per frame, the ``percentile`` of ``|flow - median flow|`` inside ``box``, the flow being DIS
    from frame ``start``: (T,) float32, 0 at ``start``."""
    from mertool.motion.optical_flow import FlowParams, dis

    gray = _gray_stack(frames)
    x0, y0, x1, y1 = box
    params = FlowParams(method="dis", dis_preset=dis_preset)
    curve = np.zeros(len(gray), np.float32)
    for t in range(len(gray)):
        if t == start:
            continue
        flow = dis(gray[start], gray[t], params)[y0:y1, x0:x1].reshape(-1, 2)
        if flow.size:
            relative = flow - np.median(flow, axis=0)
            curve[t] = float(np.percentile(np.hypot(relative[:, 0], relative[:, 1]), percentile))
    return curve


def spot_flow_peak(clip: Clip, options: ApexOptions = ApexOptions()) -> ApexResult:
    start, stop = window(clip)
    height, width = clip.frames.shape[1:3]
    if clip.landmarks is not None:
        box = face_mask_box(np.asarray(clip.landmarks[start]), height, width)
    else:
        box = (0, 0, width, height)
    curve = flow_peak_curve(clip.frames, start, box, options.flow_peak_preset)
    index = start + 1 + int(np.argmax(curve[start + 1 : stop]))
    return ApexResult("flow-peak", index, int(clip.frame_numbers[index]), curve)


def spot_label(clip: Clip, options: ApexOptions = ApexOptions()) -> ApexResult:
    if clip.apex is None:
        raise SampleError(
            clip.id,
            "no labelled apex (the annotation has none for this clip, e.g. SMIC)",
            hint="spot it instead (--method dc-rois) or add --fallback dc-rois",
        )
    # only the labelled frame must exist: a still image (RAF-DB) is its own apex, and spotting
    # methods, not the label, need an onset..offset window to search
    index = frame_index(clip.frame_numbers, clip.apex, clip.id, "labelled apex")
    return ApexResult("label", index, int(clip.apex))


def spot_middle(clip: Clip, options: ApexOptions = ApexOptions()) -> ApexResult:
    start, stop = window(clip)
    index = (start + stop - 1) // 2
    return ApexResult("middle", index, int(clip.frame_numbers[index]))


_SPOTTERS = {"dc-rois": spot_dc_rois, "flow-peak": spot_flow_peak, "label": spot_label, "middle": spot_middle}


def check_method(method: str) -> str:
    if method not in _SPOTTERS:
        from mertool.errors import MertoolError

        raise MertoolError(f"unknown apex method {method!r}", hint=f"one of: {', '.join(METHODS)}")
    return method


def spot_apex(
    clip: Clip, method: str = "dc-rois", fallback: str | None = None, options: ApexOptions = ApexOptions()
) -> ApexResult:
    """The apex of ``clip`` by ``method``; with ``method="label"`` and no label, by ``fallback``."""
    check_method(method)
    if method == "label" and clip.apex is None and fallback:
        check_method(fallback)
        result = _SPOTTERS[fallback](clip, options)
        result.note = f"no labelled apex: used {fallback}"
        return result
    return _SPOTTERS[method](clip, options)


# --- the spotted-vs-labelled report ------------------------------------------------------------


def error_summary(rows: list[dict[str, Any]], methods: list[str]) -> dict[str, dict[str, Any]]:
    """Apex error of each method over the clips that have a labelled apex.

    ``rows``: per clip ``{"apex": label or None, "fps": float or None, "spotted": {method: frame}}``.
    Per method: ``n``, ``mean_frames``/``median_frames`` of the absolute error in frames,
    ``mean_ms``/``median_ms`` of it in milliseconds (via each clip's fps; clips without fps are left
    out of the ms figures), ``mean_signed_frames`` (positive: spotted later than labelled) and the
    shares within 5 and 10 frames.
    """
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        frames_err: list[float] = []
        signed: list[float] = []
        ms_err: list[float] = []
        for row in rows:
            spotted = row.get("spotted", {}).get(method)
            if row.get("apex") is None or spotted is None:
                continue
            e = float(spotted) - float(row["apex"])
            signed.append(e)
            frames_err.append(abs(e))
            if row.get("fps"):
                ms_err.append(abs(e) / float(row["fps"]) * 1000.0)
        if not frames_err:
            continue
        a = np.asarray(frames_err)
        ms = np.asarray(ms_err) if ms_err else None
        out[method] = {
            "n": int(a.size),
            "mean_frames": float(a.mean()),
            "median_frames": float(np.median(a)),
            "mean_ms": float(ms.mean()) if ms is not None else None,
            "median_ms": float(np.median(ms)) if ms is not None else None,
            "mean_signed_frames": float(np.mean(signed)),
            "within_5": float((a <= 5).mean()),
            "within_10": float((a <= 10).mean()),
        }
    return out
