"""Rendering a clip: warp the neutral frame by each frame's motion, then add what a camera adds.

Motion model (all fields in pixels of the clip's first frame, the annotated onset)::

    q = H_t(p + a_t D(p))

A face point at ``p`` in the onset frame appears at ``q`` in frame ``t``: ``D`` (H, W, 2) is the
expression's apex displacement field, ``a_t`` the time course (0 at onset, 1 at apex), and
``H_t`` a small rigid head drift (2x3, identity at the onset frame). Frames are made by backward
warping with ``cv2.remap``: the inverse of ``p -> p + a D(p)`` is found by one fixed-point step
(``p <- r - a D(r)``) and 3 Newton steps with ``D``'s Jacobian (residuals about 0.02 px, the
1/32 px resolution of ``cv2.remap``'s coordinates; the generator rejects fields whose Jacobian
reaches 0.9, so the map never folds), and the neutral frame is sampled there (bicubic).

Then the camera: a per-frame illumination flicker (a slow sinusoid of up to 1.2 % plus 0.2 %
jitter), Gaussian sensor noise (1-3 grey levels, fresh every frame, see :func:`sensor_noise`), rounding to uint8; the
layout module encodes JPEG (CASME II, SAMM) or BMP (SMIC).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

NEWTON_ITERATIONS = 3


@dataclass(frozen=True)
class Camera:
    """Per-clip capture settings (independent of the clip's class)."""

    noise_sigma: float  # grey levels
    flicker: np.ndarray  # (T,) float32 multiplicative gain per frame
    jpeg_quality: int

    @classmethod
    def draw(cls, n_frames: int, fps: float, rng: np.random.Generator) -> Camera:
        t = np.arange(n_frames) / fps
        amp = rng.uniform(0.0, 0.012)
        freq = rng.uniform(2.0, 12.0)
        phase = rng.uniform(0, 2 * np.pi)
        gains = 1.0 + amp * np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.002, n_frames)
        gains /= gains[0]  # the onset frame keeps the neutral exposure
        return cls(float(rng.uniform(1.0, 3.0)), gains.astype(np.float32), int(rng.integers(88, 96)))


def draw_head_motion(
    n_frames: int,
    centre: np.ndarray,
    rng: np.random.Generator,
    max_shift_px: float = 0.6,
    max_roll_deg: float = 0.15,
) -> np.ndarray:
    """(T, 2, 3) float32 rigid transforms (rotation about ``centre`` + translation), identity
    at frame 0: a smoothed random walk whose largest shift is drawn in [0, max_shift_px]."""

    def walk(scale: float, dims: int) -> np.ndarray:
        steps = rng.normal(size=(n_frames, dims))
        path = np.cumsum(steps, axis=0)
        k = max(1, n_frames // 10)
        kernel = np.ones(k) / k
        path = np.stack(
            [np.convolve(np.pad(path[:, i], (k, k), mode="edge"), kernel, "same")[k:-k] for i in range(dims)],
            1,
        )
        path -= path[0]
        peak = np.abs(path).max()
        return path * (scale / peak) if peak > 0 else path

    shift = walk(rng.uniform(0.0, max_shift_px), 2)
    roll = np.radians(walk(rng.uniform(0.0, max_roll_deg), 1)[:, 0])
    out = np.zeros((n_frames, 2, 3), np.float64)
    c = np.asarray(centre, np.float64)
    for t in range(n_frames):
        R = np.array([[np.cos(roll[t]), -np.sin(roll[t])], [np.sin(roll[t]), np.cos(roll[t])]])
        out[t, :, :2] = R
        out[t, :, 2] = c - R @ c + shift[t]
    out[0] = [[1, 0, 0], [0, 1, 0]]
    return out.astype(np.float32)


@cache
def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y), each (H, W) float32; cached read-only."""
    H, W = shape
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def support_box(field: np.ndarray, pad: int | None = None) -> tuple[slice, slice] | None:
    """Bounding box (rows, cols) of the nonzero part of ``field`` widened by ``pad`` pixels
    (default: its largest displacement plus 4, enough for any head drift this module draws)."""
    if pad is None:
        pad = int(np.ceil(float(np.abs(field).max()) + 4))
    nz = np.abs(field).max(axis=-1) > 0
    if not nz.any():
        return None
    rows, cols = np.flatnonzero(nz.any(axis=1)), np.flatnonzero(nz.any(axis=0))
    H, W = nz.shape
    return (
        slice(max(0, rows[0] - pad), min(H, rows[-1] + pad + 1)),
        slice(max(0, cols[0] - pad), min(W, cols[-1] + pad + 1)),
    )


def field_with_jacobian(field: np.ndarray) -> np.ndarray:
    """(H, W, 6) float32: the field's (dx, dy) and its Jacobian d(dx)/dx, d(dx)/dy, d(dy)/dx,
    d(dy)/dy (central differences), sampled together by the Newton inversion."""
    gy, gx = np.gradient(field.astype(np.float32), axis=(0, 1))
    return np.dstack([field, gx[..., 0], gy[..., 0], gx[..., 1], gy[..., 1]]).astype(np.float32)


def source_coordinates(
    field: np.ndarray,
    amount: float,
    head: np.ndarray,
    box: tuple[slice, slice] | None | bool = True,
    stacked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (map_x, map_y) (H, W) float32: where in the onset frame each pixel of the
    frame ``q = head(p + amount * field(p))`` comes from.

    Inverts ``p -> p + amount * field(p)`` by one fixed-point step and Newton iterations
    (the field is sampled bilinearly, its Jacobian from :func:`field_with_jacobian`).
    ``box`` is the region the expression can reach (:func:`support_box`; ``True`` computes it)
    and ``stacked`` the field with its Jacobian; a clip passes both once for all its frames.
    """
    import cv2

    H, W = field.shape[:2]
    gx, gy = _grid((H, W))
    A = head[:, :2].astype(np.float64)
    b = head[:, 2].astype(np.float64)
    Ai = np.linalg.inv(A)
    rx = (Ai[0, 0] * (gx - b[0]) + Ai[0, 1] * (gy - b[1])).astype(np.float32)
    ry = (Ai[1, 0] * (gx - b[0]) + Ai[1, 1] * (gy - b[1])).astype(np.float32)
    if amount == 0:
        return rx, ry
    if box is True:
        box = support_box(field)
    if box is None or box is False:
        return rx, ry
    if stacked is None:
        stacked = field_with_jacobian(field)
    sy, sx = box
    r_x, r_y = rx[sy, sx], ry[sy, sx]
    a = np.float32(amount)

    def sample(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return cv2.remap(stacked, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    s = sample(r_x, r_y)
    px, py = r_x - a * s[..., 0], r_y - a * s[..., 1]
    for _ in range(NEWTON_ITERATIONS):
        s = sample(px, py)
        fx = px + a * s[..., 0] - r_x
        fy = py + a * s[..., 1] - r_y
        m00, m01, m10, m11 = 1 + a * s[..., 2], a * s[..., 3], a * s[..., 4], 1 + a * s[..., 5]
        det = m00 * m11 - m01 * m10
        px = px - (m11 * fx - m01 * fy) / det
        py = py - (m00 * fy - m10 * fx) / det
    rx[sy, sx], ry[sy, sx] = px, py
    return rx, ry


def forward_flow(field: np.ndarray, amount: float, head: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32: exact displacement of each onset-frame pixel ``x`` to frame ``t``,
    ``head(x + amount * field(x)) - x`` (what a perfect optical flow onset -> t returns)."""
    gx, gy = _grid(field.shape[:2])
    px = gx + amount * field[..., 0]
    py = gy + amount * field[..., 1]
    A, b = head[:, :2].astype(np.float32), head[:, 2].astype(np.float32)
    qx = A[0, 0] * px + A[0, 1] * py + b[0]
    qy = A[1, 0] * px + A[1, 1] * py + b[1]
    return np.stack([qx - gx, qy - gy], axis=-1).astype(np.float32)


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma of an RGB float image."""
    return image @ np.array([0.299, 0.587, 0.114], np.float32)


def render_frames(
    neutral: np.ndarray,
    field: np.ndarray,
    profile: np.ndarray,
    head: np.ndarray,
    camera: Camera,
    rng: np.random.Generator,
    gray: bool = False,
):
    """Yield the clip's frames, uint8 (H, W, 3) RGB, or (H, W) with ``gray``.

    ``neutral`` (H, W, 3) float32 0..255; ``field`` (H, W, 2) float32 apex displacement;
    ``profile`` (T,) time course; ``head`` (T, 2, 3) drift; ``rng`` draws the sensor noise.
    """
    import cv2

    base = to_gray(neutral) if gray else neutral
    box = support_box(field)
    stacked = field_with_jacobian(field)
    for t in range(len(profile)):
        mx, my = source_coordinates(field, float(profile[t]), head[t], box, stacked)
        img = cv2.remap(base, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        img *= camera.flicker[t]
        img += sensor_noise(img.shape, camera.noise_sigma, rng)
        np.clip(img, 0, 255, out=img)
        img += 0.5
        yield img.astype(np.uint8)


@cache
def _gauss_lut() -> np.ndarray:
    """The standard normal's quantiles at (i + 0.5) / 256, i = 0..255: (256,) float32."""
    from statistics import NormalDist

    nd = NormalDist()
    lut = np.array([nd.inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32)
    lut.setflags(write=False)
    return lut


def sensor_noise(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Fresh zero-mean noise of standard deviation ~``sigma``, float32 ``shape``.

    Gaussian quantised to 256 levels (clipped at 2.9 sigma): one random byte per value through a
    lookup table, 5x faster than drawing normals, which keeps rendering cheap.
    """
    lut = _gauss_lut() * np.float32(sigma)
    return np.take(lut, rng.integers(0, 256, shape, dtype=np.uint8))
