"""The block grid and the orientation bins the hand-crafted features share.

**Blocks.** An image of H x W pixels is cut into ``rows x cols`` blocks whose edges are
``round(linspace(0, H, rows + 1))`` (and the same for W): blocks differ by at most one pixel, and
every pixel belongs to exactly one block. Blocks are numbered row-major (block ``i * cols + j``
is row ``i``, column ``j``), which is the order every feature vector concatenates them in.

**Orientations.** A flow vector (u, v) in image coordinates (u to the right, v *down*) has the
angle ``theta = atan2(v, u)`` in [-pi, pi]. With C bins, bin k holds
``-pi + k * 2pi/C <= theta < -pi + (k + 1) * 2pi/C`` (theta = pi wraps to bin 0): the layout of
Liong et al.'s Bi-WOOF code (edges -180, -135, ... degrees for C = 8). With C = 8: bin 0 points
left (-180..-135 degrees), bin 2 up (-90..-45), bin 4 right (0..45), bin 6 down (90..135).
"""

from __future__ import annotations

import numpy as np

from mertool.errors import MertoolError


def grid_shape(blocks: int | tuple[int, int]) -> tuple[int, int]:
    """``5`` -> ``(5, 5)``; ``(rows, cols)`` as given. Both at least 1."""
    rows, cols = (blocks, blocks) if isinstance(blocks, (int, np.integer)) else tuple(blocks)
    if int(rows) < 1 or int(cols) < 1:
        raise MertoolError(f"a block grid needs at least 1 x 1 blocks, got {rows} x {cols}")
    return int(rows), int(cols)


def block_edges(n: int, parts: int) -> np.ndarray:
    """(parts + 1,) int64 edges of ``parts`` near-equal intervals of ``0..n``."""
    if parts > n:
        raise MertoolError(
            f"cannot cut {n} pixels into {parts} blocks",
            hint="use fewer blocks (--opt blocks=K) or a larger --input-size",
        )
    return np.round(np.linspace(0, n, parts + 1)).astype(np.int64)


def block_labels(height: int, width: int, blocks: int | tuple[int, int]) -> np.ndarray:
    """(H, W) int64: the block number of every pixel (row-major, see module docstring)."""
    rows, cols = grid_shape(blocks)
    ry = np.searchsorted(block_edges(height, rows), np.arange(height), side="right") - 1
    cx = np.searchsorted(block_edges(width, cols), np.arange(width), side="right") - 1
    return ry[:, None] * cols + cx[None, :]


def orientation_bins(u: np.ndarray, v: np.ndarray, bins: int) -> np.ndarray:
    """Orientation bin (int64, same shape as ``u``) of every flow vector (module docstring)."""
    if bins < 1:
        raise MertoolError(f"need at least one orientation bin, got {bins}")
    theta = np.arctan2(np.asarray(v, np.float64), np.asarray(u, np.float64))
    k = np.floor((theta + np.pi) / (2 * np.pi / bins)).astype(np.int64)
    return k % bins


def check_flow(flow: np.ndarray, name: str = "flow") -> np.ndarray:
    """``flow`` as (H, W, 2) float64 or a clear error."""
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise MertoolError(f"{name} must be (H, W, 2) = u, v per pixel, got shape {flow.shape}")
    if not np.isfinite(flow).all():
        raise MertoolError(f"{name} holds NaN or infinite values", hint="check the flow stage's output")
    return flow


def block_sums(
    values: np.ndarray, labels: np.ndarray, n_blocks: int, bins: np.ndarray | None = None, n_bins: int = 1
) -> np.ndarray:
    """Sum of ``values`` per block (and per bin when ``bins`` is given): (n_blocks, n_bins) float64."""
    index = labels.ravel() * n_bins + (0 if bins is None else bins.ravel())
    sums = np.bincount(index, weights=np.asarray(values, np.float64).ravel(), minlength=n_blocks * n_bins)
    return sums.reshape(n_blocks, n_bins)
