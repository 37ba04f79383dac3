"""Similarity alignment of faces: eyes level, a fixed inter-ocular distance, the eyes at a fixed place.

Pure functions on arrays. A transform is a float32 (2, 3) matrix ``M`` mapping source pixels to
aligned-face pixels, ``[x', y'] = M @ [x, y, 1]`` (OpenCV's ``warpAffine`` convention).

The aligned face of side ``S`` has the midpoint of the two eye centres at ``(S / 2, EYE_Y * S)``
and the eye centres ``EYE_DISTANCE * S`` apart on one horizontal line. With the defaults (0.32 and
0.34) a 128-pixel face has the eyes 41 pixels apart, the brows near y = 30 and the chin near
y = 110 (lower with the mouth open), with the whole jaw inside the frame.

**One transform per clip** (``mode="clip"``, the default). A transform recomputed on every frame
would follow the jitter of the landmarks (about 1 % of the inter-ocular distance per frame, the
size of a micro-expression itself) and turn it into apparent motion, and eye centres averaged
over the eyelids move when the lids do (AU 5, 7, 43). So the transform is chosen once, from
the eye centres of a *reference shape*: the per-point median of the first ``n_first`` (5)
frames' landmarks. Those frames precede the onset in the datasets (clips start at or before
it), the median discards a single bad frame, and 5 frames are 25 ms at 200 fps, too short for
the head to move. Motion of the head during the clip then stays in the aligned frames, which is
what the flow stage should see for an honest estimate.

**One transform per frame** (``mode="frame"``), for videos where the head moves: each frame is
first mapped onto the reference shape by the least-squares similarity of its *stable* points
(eye corners and the nose bridge, which micro-expressions barely move), then aligned with the
clip transform. This removes head rotation, scale and shift while keeping the mouth, brows and
lids free to move.
"""

from __future__ import annotations

import numpy as np

from mertool.face.landmarks import eye_centers

EYE_DISTANCE = 0.32  # inter-ocular distance as a fraction of the aligned side
EYE_Y = 0.34  # height of the eye line as a fraction of the aligned side
N_FIRST = 5  # frames whose median shape is the clip's reference
#: Landmarks that expressions barely move: outer/inner eye corners and the nose bridge.
STABLE_POINTS = (36, 39, 42, 45, 27, 28, 29, 30)
MODES = ("clip", "frame")


def eye_similarity(
    left: np.ndarray,
    right: np.ndarray,
    size: int,
    eye_distance: float = EYE_DISTANCE,
    eye_y: float = EYE_Y,
) -> np.ndarray:
    """(2, 3) float32 transform putting eye centres ``left``/``right`` (source pixels) level,
    ``eye_distance * size`` apart, with their midpoint at ``(size / 2, eye_y * size)``."""
    left = np.asarray(left, np.float64)
    right = np.asarray(right, np.float64)
    delta = right - left
    dist = float(np.hypot(*delta))
    if dist < 1e-6:
        raise ValueError("the two eye centres coincide; cannot align")
    scale = eye_distance * size / dist
    angle = np.arctan2(delta[1], delta[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # rotate by -angle, then scale
    mid = (left + right) / 2.0
    target = np.array([size / 2.0, eye_y * size])
    return np.hstack([rot, (target - rot @ mid)[:, None]]).astype(np.float32)


def reference_shape(landmarks: np.ndarray, n_first: int = N_FIRST) -> np.ndarray:
    """Per-point median of the first ``n_first`` frames' landmarks (T, 68, 2) -> (68, 2) float32."""
    lm = np.asarray(landmarks, np.float32)
    return np.median(lm[: max(1, n_first)], axis=0).astype(np.float32)


def clip_transform(
    landmarks: np.ndarray,
    size: int,
    n_first: int = N_FIRST,
    eye_distance: float = EYE_DISTANCE,
    eye_y: float = EYE_Y,
) -> np.ndarray:
    """The clip's one (2, 3) float32 transform, from the reference shape of landmarks (T, 68, 2)."""
    left, right = eye_centers(reference_shape(landmarks, n_first))
    return eye_similarity(left, right, size, eye_distance, eye_y)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift; no reflection) mapping points
    ``src`` (N, 2) onto ``dst`` (N, 2), as a (2, 3) float32 matrix.

    Closed form (Umeyama's, in complex numbers): with both point sets centred, the rotation and
    scale ``s * exp(i * angle)`` is ``sum(conj(z) * w) / sum(|z| ** 2)``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    z = (src[:, 0] - mu_s[0]) + 1j * (src[:, 1] - mu_s[1])
    w = (dst[:, 0] - mu_d[0]) + 1j * (dst[:, 1] - mu_d[1])
    var = float(np.vdot(z, z).real)
    if var < 1e-12:
        raise ValueError("the source points coincide; cannot fit a similarity")
    k = np.vdot(z, w) / var  # vdot conjugates its first argument
    c, s = k.real, k.imag
    rot = np.array([[c, -s], [s, c]])
    t = mu_d - rot @ mu_s
    return np.array([[c, -s, t[0]], [s, c, t[1]]], np.float32)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2, 3) transform applying ``inner`` first, then ``outer``."""
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2].astype(np.float32)


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) similarity/affine transform."""
    a = np.vstack([np.asarray(matrix, np.float64), [0, 0, 1]])
    return np.linalg.inv(a)[:2].astype(np.float32)


def frame_transforms(
    landmarks: np.ndarray,
    size: int,
    n_first: int = N_FIRST,
    eye_distance: float = EYE_DISTANCE,
    eye_y: float = EYE_Y,
) -> np.ndarray:
    """Per-frame transforms (T, 2, 3) float32: each frame's stable points onto the reference
    shape, then the clip transform (see the module docstring)."""
    lm = np.asarray(landmarks, np.float32)
    ref = reference_shape(lm, n_first)
    clip = clip_transform(lm, size, n_first, eye_distance, eye_y)
    idx = list(STABLE_POINTS)
    return np.stack([compose(clip, fit_similarity(frame[idx], ref[idx])) for frame in lm])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (..., 2) mapped by a (2, 3) transform; float32."""
    pts = np.asarray(points, np.float64)
    m = np.asarray(matrix, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp(image: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``image`` resampled through ``matrix`` to ``size`` x ``size`` (or ``(width, height)``) uint8.

    Bilinear; pixels from outside the source repeat its border (no black wedges moving with the
    head). When the transform shrinks by more than 2x the image is first halved with
    ``cv2.pyrDown`` (a proper low-pass) as often as needed, so the result does not alias.
    """
    import cv2

    m = np.asarray(matrix, np.float64).copy()
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    while scale < 0.5 and min(image.shape[:2]) >= 32:
        image = cv2.pyrDown(image)
        m[:, :2] *= 2.0
        scale *= 2.0
    w, h = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    return cv2.warpAffine(
        image, m.astype(np.float32), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
