"""HOOF and MDMO: per-block orientation statistics of one flow field (onset -> apex).

**HOOF** (histogram of oriented optical flow; Chaudhry, Ravichandran, Hager & Vidal, CVPR 2009,
as used block-wise in micro-expression work): in each block of the grid every pixel votes for its
orientation bin (:func:`mertool.features.grid.orientation_bins`, C bins over [-pi, pi)) with its
flow magnitude; each block's histogram is normalised to sum 1 (``normalize=True``, Chaudhry's
normalisation: a distribution of directions, independent of the amount of motion) or left as
summed magnitudes (``normalize=False``). Feature: the blocks concatenated row-major,
``rows * cols * bins`` values. Unlike Chaudhry's, the bins are not mirrored about the vertical
axis: left and right motion (a one-sided smile) stay apart, as in MER usage.

**MDMO** (main directional mean optical flow; Liu, Zhang, Yan, Wang, Zhao & Fu, IEEE Trans.
Affective Computing 7(4), 2016): in each block the *main direction* is the orientation bin holding
the most pixels, and the block is described by the mean flow vector of the pixels in that bin.
Liu et al. use 36 landmark ROIs and write the mean in polar form (rho, theta); we use the block
grid (the flow file carries no landmarks at flow resolution) and the Cartesian mean (u, v), which
holds the same information without theta's wrap-around at +-pi (a linear SVM reads it directly).
Feature: ``rows * cols * 2`` values, ``[u_0, v_0, u_1, v_1, ...]``. (MDMO is sometimes confused
with MDMD, "main directional maximal difference" (Wang et al. 2017), which is a *spotting*
feature over frame differences, not a recognition descriptor of one flow field.)

Ties for the main direction go to the lowest bin number.
"""

from __future__ import annotations

import numpy as np

from mertool.features.grid import block_labels, block_sums, check_flow, grid_shape, orientation_bins

VARIANTS = ("hoof", "mdmo")


def feature_length(blocks: int | tuple[int, int] = 5, bins: int = 8, variant: str = "hoof") -> int:
    rows, cols = grid_shape(blocks)
    return rows * cols * (bins if variant == "hoof" else 2)


def hoof(
    flow: np.ndarray, blocks: int | tuple[int, int] = 5, bins: int = 8, normalize: bool = True
) -> np.ndarray:
    """Block-wise HOOF of one flow field (module docstring).

    Args:
        flow: (H, W, 2) u, v in pixels (u right, v down).
        blocks: ``K`` (K x K) or ``(rows, cols)``.
        bins: orientation bins.
        normalize: each block's histogram sums to 1 (all zero where nothing moves).

    Returns:
        (rows * cols * bins,) float64.
    """
    flow = check_flow(flow)
    h, w = flow.shape[:2]
    rows, cols = grid_shape(blocks)
    labels = block_labels(h, w, (rows, cols))
    rho = np.hypot(flow[..., 0], flow[..., 1])
    hist = block_sums(rho, labels, rows * cols, orientation_bins(flow[..., 0], flow[..., 1], bins), bins)
    if normalize:
        total = hist.sum(axis=1, keepdims=True)
        hist = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    return hist.ravel()


def mdmo(flow: np.ndarray, blocks: int | tuple[int, int] = 5, bins: int = 8) -> np.ndarray:
    """Main-direction mean flow per block (module docstring).

    Args:
        flow: (H, W, 2) u, v in pixels.
        blocks: ``K`` (K x K) or ``(rows, cols)``.
        bins: orientation bins that define the main direction.

    Returns:
        (rows * cols * 2,) float64: mean u, mean v of each block's main-direction pixels.
    """
    flow = check_flow(flow)
    h, w = flow.shape[:2]
    rows, cols = grid_shape(blocks)
    n_blocks = rows * cols
    labels = block_labels(h, w, (rows, cols))
    b = orientation_bins(flow[..., 0], flow[..., 1], bins)
    counts = block_sums(np.ones((h, w)), labels, n_blocks, b, bins)  # (blocks, bins)
    main = counts.argmax(axis=1)  # first maximum: lowest bin on ties
    in_main = b == main[labels]
    n = counts[np.arange(n_blocks), main]
    u = block_sums(np.where(in_main, flow[..., 0], 0.0), labels, n_blocks)[:, 0] / n
    v = block_sums(np.where(in_main, flow[..., 1], 0.0), labels, n_blocks)[:, 0] / n
    return np.stack([u, v], axis=1).ravel()
