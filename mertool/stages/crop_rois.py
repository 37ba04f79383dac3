"""The ``crop-rois`` stage: what the networks eat, cut from the aligned faces of detect-faces.

For each sample it picks the frames named by ``frames`` (roles ``onset``, ``middle``, ``apex``,
``offset``), and cuts from each:

* ``face``: the whole aligned face at ``size`` x ``size`` (default: the aligned size S);
* ``rois15``, ``au5``, ``dc3``: the region sets of :mod:`mertool.face.rois`, each region at
  ``roi_size`` x ``roi_size`` (stretched: a region keeps all of its content).

Every crop is one affine cut. By default (``cut_from="auto"``) it is taken from the **source
frame file** through the clip's alignment, so a 224-pixel face or a 64-pixel eye region is
resampled once from the original pixels (not enlarged from the 128-pixel aligned frame), and only
the cut frames are decoded. The source files are found from the sample's ``data_root`` wherever
the file is read, remapped by ``--data-root OLD=NEW`` / ``MERTOOL_DATA_ROOT`` when the dataset
lives elsewhere (:mod:`mertool.store.paths`). When they are still not readable (or a video), the
stored aligned ``frames`` are used; ``cut_from="frames"`` forces that, ``"source"`` refuses it,
and a sample with neither fails with a reason naming the missing file.

Which frame plays which role:

* ``onset``: the ``onset`` attribute, or the clip's first frame when the annotation has none;
* ``apex``: ``apex_spotted`` when spot-apex ran, else the dataset's ``apex`` label, else the
  sample fails with "no apex" (SMIC has no apex labels: run ``mertool spot-apex`` first);
* ``middle``: the frame whose number is nearest to (onset + apex) / 2 (the earlier on a tie);
* ``offset``: the ``offset`` attribute, or the clip's last frame.

The region boxes are placed **once per clip**, from the median of the aligned landmarks over the
five frames centred on the onset, and used for every cut frame: boxes that followed each frame's
landmarks would move with the expression and cancel the motion the crops should show.

Written per sample (docs/schema.md): ``crops/<set>``, ``roi_boxes/<set>`` (boxes in aligned-face
pixels), ``crop_frame_numbers``, attributes ``crop_frames`` (the roles) and ``roi_names_json``.
The per-frame ``frames`` array (every aligned frame of the clip, by far the largest) is dropped
unless ``keep_frames``: the flow stage works from ``crops/face`` (onset and apex at full aligned
size), and the landmarks, boxes and frame lists stay.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError
from mertool.face.rois import ALL_SETS, REGION_NAMES
from mertool.stages.chain import register_stage
from mertool.stages.engine import StageReport, print_summary, run_samples
from mertool.store import SampleFile
from mertool.store import schema as S

ROLES = ("onset", "middle", "apex", "offset")
CUT_FROM = ("auto", "source", "frames")
DEFAULT_ROLES = ("onset", "middle", "apex")
NO_APEX = "no apex: run mertool spot-apex first (SMIC has no apex labels)"
#: Arrays this stage writes; replaced when it runs again on its own output.
CROP_ARRAYS = (S.CROPS_GROUP, S.ROI_BOXES_GROUP, S.D_CROP_FRAME_NUMBERS)


def parse_sets(regions: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"all"``, ``"face,dc3"`` or a list -> region-set names in canonical order."""
    items = regions.split(",") if isinstance(regions, str) else list(regions)
    names = [r.strip() for r in items if r.strip()]
    if not names:
        raise MertoolError("--regions is empty", hint=f"one or more of: all, {', '.join(ALL_SETS)}")
    if "all" in names:
        return ALL_SETS
    bad = [n for n in names if n not in ALL_SETS]
    if bad:
        raise MertoolError(
            f"unknown region set(s): {', '.join(bad)}", hint=f"one or more of: all, {', '.join(ALL_SETS)}"
        )
    return tuple(s for s in ALL_SETS if s in names)


def parse_roles(frames: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = frames.split(",") if isinstance(frames, str) else list(frames)
    roles = [r.strip() for r in items if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        raise MertoolError(
            f"--frames {','.join(items)}: unknown role(s) {', '.join(bad) or '(none given)'}",
            hint=f"a comma-separated list of: {', '.join(ROLES)}",
        )
    if len(set(roles)) != len(roles):
        raise MertoolError(f"--frames lists a role twice: {','.join(roles)}")
    return tuple(roles)


def apex_of(attrs: dict[str, Any]) -> int | None:
    """The apex later stages use: spotted first, then the label."""
    for key in (S.A_APEX_SPOTTED, S.A_APEX):
        if attrs.get(key) is not None:
            return int(attrs[key])
    return None


def role_frames(
    sample_id: str, attrs: dict[str, Any], numbers: np.ndarray, roles: tuple[str, ...]
) -> list[int]:
    """Frame numbers for ``roles`` (see the module docstring); raises SampleError naming the problem."""
    nums = [int(n) for n in numbers]
    have = set(nums)
    span = f"{nums[0]}..{nums[-1]}"

    def present(n: int, what: str) -> int:
        if n not in have:
            raise SampleError(sample_id, f"{what} frame {n} is not among the clip's frames ({span})")
        return n

    onset = present(int(attrs[S.A_ONSET]), "onset") if attrs.get(S.A_ONSET) is not None else nums[0]
    out = []
    for role in roles:
        if role == "onset":
            out.append(onset)
        elif role == "offset":
            off = attrs.get(S.A_OFFSET)
            out.append(present(int(off), "offset") if off is not None else nums[-1])
        else:
            apex = apex_of(attrs)
            if apex is None:
                raise SampleError(sample_id, NO_APEX)
            apex = present(apex, "apex")
            if role == "apex":
                out.append(apex)
            else:
                target = (onset + apex) / 2.0
                out.append(min(nums, key=lambda n: (abs(n - target), n)))
    return out


def box_matrix(box: np.ndarray, out_size: int) -> np.ndarray:
    """(2, 3) transform taking ``box`` (x0, y0, x1, y1) onto an out_size x out_size image.

    Coordinates follow OpenCV's pixel-centre convention (pixel ``i`` covers ``i - 0.5 .. i + 0.5``):
    the box's edges land on the output's outer pixel edges, so for the whole frame (the box
    ``-0.5 .. S - 0.5``) this is exactly ``cv2.resize``.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    sx = out_size / max(x1 - x0, 1e-3)
    sy = out_size / max(y1 - y0, 1e-3)
    return np.array([[sx, 0.0, -x0 * sx - 0.5], [0.0, sy, -y0 * sy - 0.5]], np.float32)


class AlignedFrames:
    """Cuts from the aligned frames detect-faces stored (``frames``, (T, S, S[, 3]))."""

    kind = "aligned"

    def __init__(self, frames: np.ndarray):
        self.frames = frames

    def cut(self, index: int, matrix: np.ndarray, out_size: int) -> np.ndarray:
        from mertool.face.alignment import warp

        return warp(self.frames[index], matrix, out_size)


class SourceFrames:
    """Cuts straight from the source frame files through the clip's alignment (``align_matrix``):
    one resampling from the original pixels, so ``--size 224`` is a real 224-pixel face rather
    than an enlarged 128-pixel one. Only the frames cut are decoded."""

    kind = "source"

    def __init__(self, sample_id: str, paths: list[str], matrices: np.ndarray, gray: bool):
        self.sample_id = sample_id
        self.paths = paths
        self.matrices = matrices
        self.gray = gray
        self._decoded: dict[int, np.ndarray] = {}

    def cut(self, index: int, matrix: np.ndarray, out_size: int) -> np.ndarray:
        import cv2

        from mertool.face.alignment import compose, warp
        from mertool.face.sources import read_frame

        if index not in self._decoded:
            self._decoded[index] = read_frame(self.paths[index], self.sample_id, gray=self.gray)
        m = self.matrices if self.matrices.ndim == 2 else self.matrices[index]
        out = warp(self._decoded[index], compose(matrix, m), out_size)
        return out if self.gray else cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def anchor_landmarks(landmarks_aligned: np.ndarray, index: int, window: int = 2) -> np.ndarray:
    """Median aligned landmarks (68, 2) over the frames ``index - window .. index + window``."""
    lo = max(0, index - window)
    return np.median(np.asarray(landmarks_aligned, np.float32)[lo : index + window + 1], axis=0)


def crop_sample(
    sample_id: str,
    attrs: dict[str, Any],
    numbers: np.ndarray,
    frames: AlignedFrames | SourceFrames,
    landmarks_aligned: np.ndarray,
    face_size: int,
    sets: tuple[str, ...],
    roles: tuple[str, ...],
    size: int | None = None,
    roi_size: int = 64,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays, attrs)`` crop-rois writes for one sample. ``face_size`` is the side S of the
    aligned face the landmarks and boxes refer to; every crop is one affine cut from ``frames``."""
    from mertool.face.rois import region_boxes

    cut = role_frames(sample_id, attrs, numbers, roles)
    index = {int(n): i for i, n in enumerate(numbers)}
    onset_frame = int(attrs[S.A_ONSET]) if attrs.get(S.A_ONSET) is not None else int(numbers[0])
    anchor = anchor_landmarks(landmarks_aligned, index.get(onset_frame, 0))
    arrays: dict[str, Any] = {S.D_CROP_FRAME_NUMBERS: np.asarray(cut, np.int32)}
    names: dict[str, list[str]] = {}
    for name in sets:
        boxes = region_boxes(anchor, name, size=face_size).astype(np.float32)
        names[name] = list(REGION_NAMES[name])
        arrays[f"{S.ROI_BOXES_GROUP}/{name}"] = np.repeat(boxes[None], len(cut), axis=0)
        if name == "face":
            n = int(size or face_size)
            m = box_matrix(boxes[0], n)
            arrays[f"{S.CROPS_GROUP}/{name}"] = np.stack([frames.cut(index[k], m, n) for k in cut])
        else:
            mats = [box_matrix(b, roi_size) for b in boxes]
            arrays[f"{S.CROPS_GROUP}/{name}"] = np.stack(
                [np.stack([frames.cut(index[k], m, roi_size) for m in mats]) for k in cut]
            )
    return arrays, {S.A_CROP_FRAMES: list(roles), S.A_ROI_NAMES_JSON: names}


def frame_source(rec: Any, prefer: str) -> AlignedFrames | SourceFrames:
    """Where to cut from: the source files when ``prefer`` is ``source`` or ``auto`` and every
    file is readable (videos: the stored frames, since seeking is not frame-exact for every
    codec), else the stored aligned ``frames``."""
    from mertool.face.sources import parse_video_label

    missing: SampleError | None = None
    if prefer in ("auto", "source") and rec.has(S.D_FRAME_PATHS) and rec.has(S.D_ALIGN_MATRIX):
        paths = rec.frame_paths()
        video = bool(paths) and parse_video_label(paths[0]) is not None
        missing = None if video or not paths else rec.missing_frames_error(paths)
        if paths and not video and missing is None:
            gray = rec.get(S.A_COLOR, "rgb") == "gray"
            return SourceFrames(rec.id, paths, np.asarray(rec.array(S.D_ALIGN_MATRIX)), gray)
        if prefer == "source":
            if missing is not None:
                raise missing
            raise SampleError(
                rec.id,
                "the source frames are a video, which is not cut from (seeking is not frame-exact)",
                hint="use --from frames (the aligned frames stored by detect-faces)",
            )
    if not rec.has(S.D_FRAMES):
        if missing is not None:
            raise SampleError(rec.id, f"no aligned frames stored and the {missing.reason}", hint=missing.hint)
        raise SampleError(
            rec.id,
            "no aligned frames stored and no source frames to cut from",
            hint="run detect-faces again (crop-rois --keep-frames keeps the aligned frames)",
        )
    return AlignedFrames(rec.array(S.D_FRAMES))


@dataclass
class CropRunSummary(StageReport):
    from_source: int = 0

    @property
    def carried_failed(self) -> int:
        """Samples that had failed at an earlier stage, copied forward as they are."""
        return len(self.failed_before)


def run(
    source: str | Path | SampleFile | None,
    output: str | Path | None,
    *,
    regions: str | tuple[str, ...] = "all",
    size: int | None = None,
    roi_size: int = 64,
    frames: str | tuple[str, ...] = DEFAULT_ROLES,
    keep_frames: bool = False,
    cut_from: str = "auto",
    on_error: str = "skip",
    resume: bool = False,
    retry_failed: bool = False,
    command: str | None = None,
) -> CropRunSummary:
    """Run crop-rois on a sample file that has detect-faces done (a path, an open
    :class:`SampleFile`, or ``-``/None for stdin) into ``output`` (path, or ``-``/None: stdout).
    ``retry_failed`` (implies ``resume``) cuts the samples that failed again. ``command``: the
    command line recorded in the output."""
    from mertool.console import info
    from mertool.store import open_input, open_output

    sets = parse_sets(regions)
    roles = parse_roles(frames)
    if size is not None and size < 8:
        raise MertoolError(f"--size {size} is too small", hint="leave it out to keep the aligned size")
    if roi_size < 8:
        raise MertoolError(f"--roi-size {roi_size} is too small", hint="use 32 or more (default 64)")
    if cut_from not in CUT_FROM:
        raise MertoolError(f"--from {cut_from}: unknown", hint=f"one of: {', '.join(CUT_FROM)}")
    params = {
        "cut_from": cut_from,
        "regions": list(sets),
        "size": size,
        "roi_size": roi_size,
        "frames": list(roles),
        "keep_frames": keep_frames,
    }
    summary = CropRunSummary()
    drop = CROP_ARRAYS + (() if keep_frames else (S.D_FRAMES,))
    with ExitStack() as stack:
        src = source if isinstance(source, SampleFile) else stack.enter_context(open_input(source))
        if S.STAGE_FACES not in src.stages_done:
            raise MertoolError(
                f"{src.name} has no faces yet (stages done: {', '.join(src.stages_done)})",
                hint="run mertool detect-faces first, or give crop-rois the dataset root",
            )
        run_flags = {"resume": resume, "retry_failed": retry_failed, "command": command}
        with open_output(output, S.STAGE_ROIS, params=params, source=src, **run_flags) as writer:

            def prepare(rec: Any) -> dict[str, Any]:
                """What one sample is cut from (read here; the cutting is :func:`crop_sample`)."""
                return {
                    "sample_id": rec.id,
                    "attrs": rec.attrs,
                    "frames": frame_source(rec, cut_from),
                    "numbers": rec.array(S.D_FRAME_NUMBERS),
                    "landmarks_aligned": rec.array(S.D_LANDMARKS_ALIGNED),
                    "face_size": int(rec.get(S.A_FACE_SIZE) or rec.array(S.D_FRAMES).shape[1]),
                }

            def work(task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
                return crop_sample(**task, sets=sets, roles=roles, size=size, roi_size=roi_size)

            def finish(rec: Any, task: dict[str, Any], cut: tuple[dict[str, Any], dict[str, Any]]) -> None:
                arrays, attrs = cut
                writer.write(rec, arrays=arrays, attrs=attrs, drop=drop)
                summary.from_source += task["frames"].kind == "source"

            def write_failed(rec: Any, reason: str) -> None:
                failed = {S.A_STATUS: S.STATUS_FAILED, S.A_ERROR: reason}
                writer.write(rec, attrs=failed, drop=drop)

            run_samples(
                src.ids(),
                src.record,
                writer,
                summary,
                label="crop-rois",
                prepare=prepare,
                work=work,
                finish=finish,
                on_error=on_error,
                carry=lambda rec: writer.write(rec, drop=drop),
                write_failed=write_failed,
                hints=False,
                show_ids=True,
            )
    print_summary(S.STAGE_ROIS, summary.done, summary.failed, summary.skipped)
    from_frames = summary.done - summary.from_source
    if summary.done and cut_from == "auto" and from_frames:
        info(f"{from_frames} sample(s) were cut from the stored aligned frames (source frames not readable)")
    if summary.carried_failed:
        info(f"{summary.carried_failed} sample(s) had failed at an earlier stage and were copied as they are")
    return summary


register_stage(S.STAGE_ROIS, run, requires=(S.STAGE_FACES, S.STAGE_APEX))
