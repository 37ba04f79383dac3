"""Bi-WOOF: bi-weighted oriented optical flow (Liong, See, Wong & Phan, Signal Processing: Image
Communication 62, 2018, "Less is more: micro-expression recognition from video using apex frame").

From one flow field, onset -> apex, (u, v) per pixel, and its optical strain ``eps`` per pixel:

1. every pixel votes for its orientation bin (:func:`mertool.features.grid.orientation_bins`,
   C bins over [-pi, pi)) with its flow magnitude ``rho = sqrt(u^2 + v^2)`` (the *local* weight);
2. in each block b of the grid (5 x 5 by default, the paper's choice for CASME II) the
   histogram is normalised to sum 1 (a block without motion stays all zero);
3. each block's histogram is multiplied by the block's mean optical strain
   ``xi_b = mean(eps over b)`` (the *global* weight: blocks that deform more count more);
4. the blocks are concatenated row-major and the whole vector is scaled to unit L2 norm.

That is the procedure of the authors' released code (github.com/christy1206/biwoof, ``biwoof.m``:
8 bins, 5 x 5 blocks, per-block ``histt / sum(histt)``, strain weight, ``Hist / norm(Hist)``);
the code weights by the block's strain *sum*, the paper by its *mean*, and we follow the paper
(the two differ by the block's pixel count, equal up to one row or column across blocks).

Feature length: ``rows * cols * bins``.
"""

from __future__ import annotations

import numpy as np

from mertool.errors import MertoolError
from mertool.features.grid import block_labels, block_sums, check_flow, grid_shape, orientation_bins


def feature_length(blocks: int | tuple[int, int] = 5, bins: int = 8) -> int:
    rows, cols = grid_shape(blocks)
    return rows * cols * bins


def bi_woof(
    flow: np.ndarray, strain: np.ndarray, blocks: int | tuple[int, int] = 5, bins: int = 8
) -> np.ndarray:
    """The Bi-WOOF feature of one clip (module docstring).

    Args:
        flow: (H, W, 2) u, v in pixels, onset -> apex (u right, v down).
        strain: (H, W) optical strain magnitude (non-negative).
        blocks: block grid, ``K`` (K x K) or ``(rows, cols)``.
        bins: orientation bins.

    Returns:
        (rows * cols * bins,) float64, unit L2 norm (all zero when nothing moves or strains).
    """
    flow = check_flow(flow)
    strain = np.asarray(strain, np.float64)
    if strain.shape != flow.shape[:2]:
        raise MertoolError(f"strain {strain.shape} and flow {flow.shape[:2]} differ in size")
    h, w = strain.shape
    rows, cols = grid_shape(blocks)
    labels = block_labels(h, w, (rows, cols))
    n_blocks = rows * cols
    rho = np.hypot(flow[..., 0], flow[..., 1])
    hist = block_sums(rho, labels, n_blocks, orientation_bins(flow[..., 0], flow[..., 1], bins), bins)
    total = hist.sum(axis=1, keepdims=True)
    hist = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    counts = np.bincount(labels.ravel(), minlength=n_blocks).astype(np.float64)
    xi = block_sums(strain, labels, n_blocks)[:, 0] / counts
    feat = (hist * xi[:, None]).ravel()
    norm = np.linalg.norm(feat)
    return feat / norm if norm > 0 else feat
