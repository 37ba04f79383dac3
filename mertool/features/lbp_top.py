"""LBP-TOP: local binary patterns on three orthogonal planes (Zhao & Pietikäinen, IEEE TPAMI 2007).

For a gray volume ``V`` of T frames of H x W pixels, every *centre pixel* (t, y, x) gets three
LBP codes, one per plane through it:

* **XY**: the code of pixel (y, x) in frame ``V[t]`` (appearance);
* **XT**: the code of pixel (t, x) in the image ``V[:, y, :]`` (rows t, columns x: horizontal motion);
* **YT**: the code of pixel (t, y) in the image ``V[:, :, x]`` (rows t, columns y: vertical motion).

Codes are scikit-image's :func:`skimage.feature.local_binary_pattern` with ``P`` points on a circle
of radius ``R`` (bilinear interpolation), so this is LBP-TOP_{P,P,P,R,R,R}: one radius for X, Y
and T (scikit-image samples circles, not ellipses). Centre pixels are those whose whole
neighbourhood lies inside the volume: ``m <= t < T - m`` and the same for y and x, ``m = ceil(R)``.

The face is cut into a block grid (:mod:`.grid`; 5 x 5 by default, as in the CASME II and SMIC
LBP-TOP baselines); each block gets one histogram of codes per plane over its centre pixels (all
frames), each histogram normalised to sum 1 (``normalize="l1"``), and the feature is their
concatenation, block-major: ``[block 0: XY, XT, YT][block 1: ...]...``, length
``rows * cols * 3 * n_codes(P, method)``.

**Which LBP.** ``method="nri_uniform"`` (default) is Ojala's *uniform* patterns without rotation
invariance (``u2``): every pattern with at most two 0/1 transitions keeps its own bin and the rest
share one, ``P (P - 1) + 3`` bins (59 at P = 8). That is the LBP-TOP of Zhao & Pietikäinen and of
the SMIC / CASME II / MEGC baselines: on the XT and YT planes the direction of a pattern *is* the
direction of motion, which rotation invariance would throw away. ``method="uniform"`` is the
rotation-invariant ``riu2`` (``P + 2`` bins: 10 at P = 8), smaller and coarser.

Implementation: all the XY (XT, YT) planes of a volume are stacked into one tall image and coded
in one scikit-image call; a centre pixel's neighbourhood never crosses into the next plane, so the
codes equal those of plane-by-plane calls (tests/test_handcrafted.py checks exactly that).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from mertool.errors import MertoolError
from mertool.features.grid import block_labels, grid_shape

METHODS = ("nri_uniform", "uniform")
PLANES = ("XY", "XT", "YT")
NORMALIZE = ("l1", "none")


def n_codes(points: int, method: str = "nri_uniform") -> int:
    """Number of distinct codes (histogram bins) of ``method`` with ``points`` neighbours."""
    if method == "nri_uniform":
        return points * (points - 1) + 3
    if method == "uniform":
        return points + 2
    raise MertoolError(f"unknown LBP method {method!r}", hint=f"one of: {', '.join(METHODS)}")


def feature_length(blocks: int | tuple[int, int] = 5, points: int = 8, method: str = "nri_uniform") -> int:
    rows, cols = grid_shape(blocks)
    return rows * cols * len(PLANES) * n_codes(points, method)


def _lbp(image: np.ndarray, points: int, radius: float, method: str) -> np.ndarray:
    from skimage.feature import local_binary_pattern

    with warnings.catch_warnings():  # float input: scikit-image warns about ties, which are exact here
        warnings.simplefilter("ignore", UserWarning)
        return local_binary_pattern(image, points, radius, method=method).astype(np.int64)


def plane_codes(
    volume: np.ndarray, points: int = 8, radius: float = 1.0, method: str = "nri_uniform"
) -> dict[str, np.ndarray]:
    """LBP codes of every pixel on each plane: ``{"XY", "XT", "YT"}`` -> (T, H, W) int64.

    ``volume``: (T, H, W), any real dtype (uint8 gray levels are what the model passes). Codes of
    pixels near the volume's faces are computed but meaningless (their neighbours fall outside);
    :func:`lbp_top` counts only centre pixels.
    """
    v = np.ascontiguousarray(volume)
    t, h, w = v.shape
    xy = _lbp(v.reshape(t * h, w), points, radius, method).reshape(t, h, w)
    xt = _lbp(v.transpose(1, 0, 2).reshape(h * t, w), points, radius, method).reshape(h, t, w)
    yt = _lbp(v.transpose(2, 0, 1).reshape(w * t, h), points, radius, method).reshape(w, t, h)
    return {"XY": xy, "XT": xt.transpose(1, 0, 2), "YT": yt.transpose(1, 2, 0)}


def lbp_top(
    volume: np.ndarray,
    blocks: int | tuple[int, int] = 5,
    points: int = 8,
    radius: float = 1.0,
    method: str = "nri_uniform",
    normalize: str = "l1",
) -> np.ndarray:
    """The LBP-TOP feature of one gray volume (module docstring).

    Args:
        volume: (T, H, W) gray levels, any real dtype; T, H and W at least ``2 ceil(radius) + 1``.
        blocks: block grid, ``K`` (K x K) or ``(rows, cols)``.
        points, radius: LBP neighbours and radius (the same on all three planes).
        method: ``nri_uniform`` (u2, default) or ``uniform`` (riu2).
        normalize: ``l1`` (each block's histogram per plane sums to 1) or ``none`` (counts).

    Returns:
        (rows * cols * 3 * n_codes,) float64.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise MertoolError(f"LBP-TOP needs a (T, H, W) gray volume, got shape {volume.shape}")
    if method not in METHODS:
        raise MertoolError(f"unknown LBP method {method!r}", hint=f"one of: {', '.join(METHODS)}")
    if normalize not in NORMALIZE:
        raise MertoolError(f"unknown normalisation {normalize!r}", hint=f"one of: {', '.join(NORMALIZE)}")
    if points < 1 or radius <= 0:
        raise MertoolError(f"LBP needs points >= 1 and radius > 0, got points={points}, radius={radius}")
    m = math.ceil(radius)
    t, h, w = volume.shape
    if min(t, h, w) < 2 * m + 1:
        raise MertoolError(
            f"LBP-TOP with radius {radius} needs at least {2 * m + 1} frames, rows and columns; "
            f"the volume is {t} x {h} x {w}",
            hint="give more frames (the clip input's length) or a smaller radius",
        )
    rows, cols = grid_shape(blocks)
    labels = block_labels(h, w, (rows, cols))[m : h - m, m : w - m]  # centre pixels' blocks
    n_blocks, k = rows * cols, n_codes(points, method)
    per_plane = []
    for codes in plane_codes(volume, points, radius, method).values():
        c = codes[m : t - m, m : h - m, m : w - m]
        index = np.broadcast_to(labels, c.shape) * k + c
        per_plane.append(np.bincount(index.ravel(), minlength=n_blocks * k).reshape(n_blocks, k))
    hist = np.stack(per_plane, axis=1).astype(np.float64)  # (blocks, 3, k)
    if normalize == "l1":
        total = hist.sum(axis=2, keepdims=True)
        hist = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    return hist.ravel()
