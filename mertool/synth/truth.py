"""The ground-truth file ``mertool synth`` writes beside the dataset tree, and helpers to use it.

A mertool sample file (stage ``synth-truth``) with one sample per clip, under the **same id the
dataset reader gives the clip** (``casme2/sub01/EP03_02f``, ``samm/006/006_1_2``,
``smic/s1/s1_po_01``), so any stage's output can be joined with it by id.

Attributes: the reader's (``dataset``, ``subject``, ``clip``, ``emotion``, ``label_map`` =
``megc2019``, ``label``, ``labels_json``, ``onset``, ``apex``, ``offset``, ``fps``, ``aus``),
plus ``true_apex`` (the frame of largest displacement: equal to ``apex``, and the only apex a
SMIC clip has), ``motion_start``/``motion_end`` (the last still frame before and the first after
the movement), ``peak_px`` (largest displacement at apex), ``pattern`` (the AU pattern used),
``source`` (the photo), ``layout_root`` (the dataset root, relative to the truth file) and
``params_json`` (everything drawn for the clip).

Arrays (pixels are those of the dataset's frames; ``p`` = a position in the onset frame):

=====================  ======================  =============================================
name                   shape, dtype            meaning
=====================  ======================  =============================================
``displacement``       (T, H, W, 2) float16    expression displacement of ``p`` at each frame
                                               (head drift excluded), ``(dx, dy)``, in steps
                                               of 1/256 px (about 0.9 MB per clip at 320x240)
``flow_onset_apex``    (H, W, 2) float32       exact onset -> apex flow, head drift included:
                                               what a perfect optical flow returns (1/1024 px)
``au_mask``            (H, W) bool             the AUs' regions (2 sigma around every handle)
``head_motion``        (T, 2, 3) float32       rigid drift, onset-frame -> frame ``t`` pixels
``profile``            (T,) float32            time course, 0 at onset, 1 at apex
``landmarks``          (68, 2) float32         the subject's 68 landmarks in the onset frame
``frame_numbers``      (T,) int32              the dataset's frame numbers
``frame_paths``        (T,) str                frame files, relative to the truth file
=====================  ======================  =============================================

Frame ``t`` is ``neutral`` sampled at the inverse of ``p -> head_motion[t](p + displacement[t](p))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mertool.store import SampleFile
from mertool.store import schema as S

STAGE = S.STAGE_SYNTH_TRUTH
D_DISPLACEMENT = S.D_TRUE_DISPLACEMENT  # "displacement"
D_FLOW = "flow_onset_apex"
D_MASK = "au_mask"
D_HEAD = "head_motion"
D_PROFILE = "profile"
D_LANDMARKS = "landmarks"
A_TRUE_APEX = S.A_TRUE_APEX  # "true_apex"
A_MOTION_START = "motion_start"
A_MOTION_END = "motion_end"
A_PEAK = "peak_px"
A_PATTERN = "pattern"
A_SOURCE = "source"
A_LAYOUT_ROOT = "layout_root"
A_PARAMS = "params_json"

DEFAULT_NAME = "synth_truth.h5"

#: Stored precision: displacements are multiples of 1/256 px (float16, exact up to 8 px), the
#: onset -> apex flow of 1/1024 px (float32). Rounding costs at most 0.002 px and 0.0005 px and
#: makes the displacement a third smaller (lzf), since compression cannot squeeze noise in low bits.
DISPLACEMENT_STEP = 1.0 / 256
FLOW_STEP = 1.0 / 1024


def quantise(values: np.ndarray, step: float, dtype: type = np.float32) -> np.ndarray:
    """``values`` rounded to multiples of ``step`` (a power of two, so exact in float16/32)."""
    return (np.round(np.asarray(values, np.float64) / step) * step).astype(dtype)


def sample_id(dataset: str, subject: str, clip: str) -> str:
    """The id the dataset readers give a clip: ``<dataset>/<subject>/<clip>``."""
    return f"{dataset}/{subject}/{clip}"


def truth_table(path: str | Path) -> dict[str, dict[str, Any]]:
    """Attributes of every clip (no arrays): ``{sample id: attrs}``."""
    with SampleFile(path) as sf:
        _check_stage(sf)
        return {rec.id: rec.attrs for rec in sf.records()}


def load_clip(path: str | Path, sample_id: str, names: tuple[str, ...] = (D_FLOW, D_MASK)) -> dict[str, Any]:
    """Some arrays of one clip (default: the onset -> apex flow and the AU mask), plus ``attrs``.

    ``frame_paths`` come back as absolute paths.
    """
    path = Path(path)
    with SampleFile(path) as sf:
        _check_stage(sf)
        rec = sf.record(sample_id)
        out: dict[str, Any] = {"attrs": rec.attrs}
        for name in names:
            value = rec.array(name)
            if name == S.D_FRAME_PATHS:
                value = [str((path.parent / p).resolve()) for p in value]
            elif name == D_DISPLACEMENT:
                value = np.asarray(value, np.float32)
            out[name] = value
        return out


def flow_to_frame(path: str | Path, sample_id: str, frame_number: int) -> np.ndarray:
    """The exact flow from the onset frame to any frame of the clip, (H, W, 2) float32 in source
    pixels, head drift included: what to score a flow computed to a *spotted* apex against
    (at the labelled apex it equals ``flow_onset_apex`` to 1/256 px)."""
    from mertool.synth.render import forward_flow

    clip = load_clip(path, sample_id, (D_DISPLACEMENT, D_HEAD, S.D_FRAME_NUMBERS))
    numbers = [int(n) for n in clip[S.D_FRAME_NUMBERS]]
    if frame_number not in numbers:
        from mertool.errors import MertoolError

        raise MertoolError(f"{sample_id}: no frame {frame_number} (frames {numbers[0]}..{numbers[-1]})")
    t = numbers.index(frame_number)
    return forward_flow(clip[D_DISPLACEMENT][t], 1.0, clip[D_HEAD][t])


def _check_stage(sf: SampleFile) -> None:
    if sf.stage != STAGE:
        from mertool.errors import StoreError

        raise StoreError(
            f"{sf.name} was written by stage {sf.stage!r}, not by mertool synth",
            hint="give the synth_truth.h5 file mertool synth wrote beside the dataset",
        )


# ------------------------------------------------------------------------------------------------
# ground truth in aligned-face pixels (for stages that work on aligned crops)


def _affine_points(M: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M = np.asarray(M, np.float64)
    return M[0, 0] * x + M[0, 1] * y + M[0, 2], M[1, 0] * x + M[1, 1] * y + M[1, 2]


def flow_in_crop(
    flow: np.ndarray, align_onset: np.ndarray, align_apex: np.ndarray, size: int | tuple[int, int]
) -> np.ndarray:
    """The true onset -> apex flow in aligned-crop pixels, (S, S, 2) float32.

    ``flow`` is ``flow_onset_apex`` (source pixels); ``align_onset``/``align_apex`` are the 2x3
    source -> crop transforms used for the onset and apex crops (the same matrix twice when the
    face stage aligns once per clip); ``size`` the crop size (S or (W, H)). For a crop pixel
    ``y`` of the onset crop: ``x = A_onset^-1 y``, ``x' = x + flow(x)``, result ``A_apex x' - y``.
    """
    import cv2

    W, H = (size, size) if isinstance(size, int) else size
    yx, yy = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    inv = cv2.invertAffineTransform(np.asarray(align_onset, np.float64))
    sx, sy = _affine_points(inv, yx, yy)
    f = cv2.remap(
        flow.astype(np.float32),
        sx.astype(np.float32),
        sy.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    qx, qy = _affine_points(align_apex, sx + f[..., 0], sy + f[..., 1])
    return np.stack([qx - yx, qy - yy], axis=-1).astype(np.float32)


def mask_in_crop(mask: np.ndarray, align: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """The AU region mask warped into an aligned crop, (S, S) bool (nearest neighbour)."""
    import cv2

    W, H = (size, size) if isinstance(size, int) else size
    warped = cv2.warpAffine(
        mask.astype(np.uint8), np.asarray(align, np.float64), (W, H), flags=cv2.INTER_NEAREST
    )
    return warped.astype(bool)


def endpoint_error(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean endpoint error (pixels) of a flow estimate (H, W, 2), over ``mask`` when given."""
    err = np.sqrt(((np.asarray(estimate, np.float64) - truth) ** 2).sum(axis=-1))
    return float(err[mask].mean() if mask is not None else err.mean())
