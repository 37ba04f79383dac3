"""D&C-RoIs apex spotting (paper 004 §3.1.1, after Liong et al., ACPR 2015 — its reference [40]).

Three steps, each a pure function on arrays:

1. :func:`lbp_histograms` — per frame, a light Gaussian blur (sigma 1.5 px), then uniform LBP codes
   of the whole aligned face (``skimage.feature.local_binary_pattern``, ``P=8`` neighbours at radius
   ``R=3``, method ``"uniform"``: ``P + 2 = 10`` codes), then, inside each of the three D&C regions
   (eye+brow on the image's left, eye+brow on the image's right, mouth:
   :func:`mertool.face.rois.dc3`), a histogram of those codes per cell of a ``grid x grid`` split of
   the region (default 3 x 3), each cell's histogram normalised to sum 1 and the cells concatenated
   (B = 9 x 10 = 90 bins per region). ``grid=1, blur=0, radius=1`` is the plain reading of the
   paper (one 10-bin histogram per region); the defaults were chosen on the synthetic ground truth
   (docs/motion.md): the blur keeps sensor noise from flipping codes in flat skin, the grid keeps
   *where* in the region the texture changed, which one histogram per region (nearly
   shift-invariant) loses.
2. :func:`difference_curve` — paper 004 eq. 1: the correlation coefficient
   ``d = sum(h1*h2) / sqrt(sum(h1^2) * sum(h2^2))`` between the onset frame's histogram ``h1`` and
   frame t's ``h2``, per region; the feature difference is ``1 - d`` (0 for a frame identical to the
   onset), and the curve is the **sum over the three regions** (each region counts equally).
3. :func:`divide_and_conquer_peak` — the divide-and-conquer search on that curve: the search
   interval (onset..offset) is split into ``parts`` (default 3) contiguous, nearly equal
   sub-intervals; the one with the greatest **summed** difference is kept (ties: the earlier one);
   this repeats until the interval holds at most ``min_len`` (default 5) frames, whose largest value
   is the apex (ties: the earlier frame). Summing over an interval favours a sustained rise over a
   one-frame spike. Halving (``parts=2``) is biased late: the fall after an apex is slower than the
   rise, so when the apex lies in the first half the second half often holds more of the curve.
"""

from __future__ import annotations

import numpy as np

#: Defaults, documented in docs/motion.md.
LBP_POINTS = 8
LBP_RADIUS = 3.0
LBP_METHOD = "uniform"
LBP_GRID = 3
LBP_BLUR = 1.5
DC_PARTS = 3
DC_MIN_LEN = 5


def n_lbp_codes(points: int = LBP_POINTS, method: str = LBP_METHOD) -> int:
    """Number of distinct codes ``local_binary_pattern`` returns for ``method``."""
    if method == "uniform":
        return points + 2
    if method == "nri_uniform":
        return points * (points - 1) + 3
    if method in ("default", "ror"):
        return 2**points
    raise ValueError(f"LBP method {method!r}: use uniform, nri_uniform, default or ror")


def lbp_codes(
    frame: np.ndarray, points: int = LBP_POINTS, radius: float = LBP_RADIUS, method: str = LBP_METHOD
):
    """LBP code image (H, W) int32 of one uint8 grayscale frame (H, W)."""
    from skimage.feature import local_binary_pattern

    if frame.ndim != 2:
        raise ValueError(f"lbp_codes needs a grayscale (H, W) frame, got shape {frame.shape}")
    return local_binary_pattern(np.ascontiguousarray(frame), points, radius, method).astype(np.int32)


def _cells(box: np.ndarray, grid: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Integer cells (x0, y0, x1, y1) of a ``grid x grid`` split of ``box``, clipped to the image."""
    x0, y0, x1, y1 = (float(v) for v in box)
    xs = np.linspace(x0, x1, grid + 1)
    ys = np.linspace(y0, y1, grid + 1)
    out = []
    for j in range(grid):
        for i in range(grid):
            cx0 = int(np.clip(np.floor(xs[i]), 0, width))
            cx1 = int(np.clip(np.ceil(xs[i + 1]), 0, width))
            cy0 = int(np.clip(np.floor(ys[j]), 0, height))
            cy1 = int(np.clip(np.ceil(ys[j + 1]), 0, height))
            out.append((cx0, cy0, max(cx1, cx0), max(cy1, cy0)))
    return out


def lbp_histograms(
    frames: np.ndarray,
    boxes: np.ndarray,
    points: int = LBP_POINTS,
    radius: float = LBP_RADIUS,
    method: str = LBP_METHOD,
    grid: int = LBP_GRID,
    blur: float = LBP_BLUR,
) -> np.ndarray:
    """LBP histograms of each region in each frame.

    ``frames``: (T, H, W) uint8 grayscale aligned faces. ``boxes``: (R, 4) float boxes
    ``x0, y0, x1, y1`` in aligned-face pixels, used for every frame, or (T, R, 4) one set per frame.
    Returns (T, R, B) float32 with ``B = grid**2 * n_lbp_codes(points, method)``; each cell's
    histogram sums to 1 (an empty cell, wholly outside the image, is all zeros). ``blur`` > 0
    smooths each frame with a Gaussian of that sigma (pixels) before the LBP codes.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must be (T, H, W) grayscale, got shape {frames.shape}")
    boxes = np.asarray(boxes, dtype=np.float32)
    per_frame = boxes.ndim == 3
    if boxes.shape[-1] != 4 or (per_frame and boxes.shape[0] != frames.shape[0]):
        raise ValueError(f"boxes must be (R, 4) or (T, R, 4), got {boxes.shape} for {frames.shape[0]} frames")
    n_codes = n_lbp_codes(points, method)
    t_len, height, width = frames.shape
    n_regions = boxes.shape[-2]
    out = np.zeros((t_len, n_regions, grid * grid * n_codes), np.float32)
    fixed_cells = None if per_frame else [_cells(b, grid, height, width) for b in boxes]
    for t in range(t_len):
        frame = frames[t]
        if blur > 0:
            import cv2

            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        codes = lbp_codes(frame, points, radius, method)
        cells = fixed_cells or [_cells(b, grid, height, width) for b in boxes[t]]
        for r, region_cells in enumerate(cells):
            for c, (x0, y0, x1, y1) in enumerate(region_cells):
                patch = codes[y0:y1, x0:x1]
                if patch.size == 0:
                    continue
                hist = np.bincount(patch.ravel(), minlength=n_codes)[:n_codes].astype(np.float32)
                out[t, r, c * n_codes : (c + 1) * n_codes] = hist / hist.sum()
    return out


def correlation(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Paper 004 eq. 1 along the last axis: ``sum(h1*h2) / sqrt(sum(h1^2) * sum(h2^2))``.

    Broadcasts; two all-zero histograms (an empty region) correlate as 1 (no change).
    """
    h1 = np.asarray(h1, np.float64)
    h2 = np.asarray(h2, np.float64)
    num = (h1 * h2).sum(axis=-1)
    den = np.sqrt((h1 * h1).sum(axis=-1) * (h2 * h2).sum(axis=-1))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def region_differences(hists: np.ndarray, onset_index: int = 0) -> np.ndarray:
    """Feature difference ``1 - d`` (eq. 1) of every frame to the onset frame, per region: (T, R) float32."""
    hists = np.asarray(hists)
    if hists.ndim != 3:
        raise ValueError(f"hists must be (T, R, B), got shape {hists.shape}")
    d = correlation(hists[onset_index][None], hists)
    return np.clip(1.0 - d, 0.0, None).astype(np.float32)


def difference_curve(hists: np.ndarray, onset_index: int = 0) -> np.ndarray:
    """The D&C-RoIs curve (T,) float32: ``1 - d`` summed over the regions (0 at the onset frame)."""
    return region_differences(hists, onset_index).sum(axis=1).astype(np.float32)


def divide_and_conquer_peak(
    curve: np.ndarray,
    start: int = 0,
    stop: int | None = None,
    parts: int = DC_PARTS,
    min_len: int = DC_MIN_LEN,
) -> int:
    """Index of the apex in ``curve[start:stop]`` by the divide-and-conquer search (module docstring).

    Returns an absolute index into ``curve``. Raises ValueError for an empty interval.
    """
    curve = np.asarray(curve, np.float64)
    stop = len(curve) if stop is None else stop
    if not 0 <= start < stop <= len(curve):
        raise ValueError(f"empty or invalid search interval [{start}, {stop}) for a curve of {len(curve)}")
    if parts < 2 or min_len < 1:
        raise ValueError("parts must be >= 2 and min_len >= 1")
    lo, hi = start, stop
    while hi - lo > min_len:
        bounds = np.linspace(lo, hi, parts + 1).round().astype(int)
        sums = [curve[a:b].sum() if b > a else -np.inf for a, b in zip(bounds[:-1], bounds[1:])]
        k = int(np.argmax(sums))
        lo, hi = int(bounds[k]), int(bounds[k + 1])
    return lo + int(np.argmax(curve[lo:hi]))


def spot(
    frames: np.ndarray,
    boxes: np.ndarray,
    onset_index: int = 0,
    stop: int | None = None,
    points: int = LBP_POINTS,
    radius: float = LBP_RADIUS,
    method: str = LBP_METHOD,
    grid: int = LBP_GRID,
    blur: float = LBP_BLUR,
    parts: int = DC_PARTS,
    min_len: int = DC_MIN_LEN,
) -> tuple[int, np.ndarray]:
    """The whole D&C-RoIs method: ``(apex index, curve (T,) float32)``; the search runs from
    ``onset_index`` to ``stop`` (exclusive; default: the last frame)."""
    hists = lbp_histograms(frames, boxes, points, radius, method, grid, blur)
    curve = difference_curve(hists, onset_index)
    return divide_and_conquer_peak(curve, onset_index, stop, parts, min_len), curve
