"""Per-block features of aligned faces for spotting (see :mod:`mertool.motion.spotting`).

The aligned face (S, S) is cut into an ``n x n`` grid of blocks; blocks that cover the eyes are
left out by default (a blink is the largest, fastest movement of a face and is not an
expression). Two feature families, each giving the per-block difference of every frame from the
mean of the frames ``k`` before and after it, (T, B) float64:

* ``lbp``: uniform LBP histograms (scikit-image, P=8, R=1, 10 bins) per block, compared by the
  chi-squared distance: the MEGC spotting baseline. Insensitive to a change of exposure.
* ``flow``: dense optical flow (OpenCV's DIS, ultra-fast preset) from frame ``t`` to ``t - k``
  and to ``t + k``; their sum is near zero for steady motion (both halves cancel) and points
  back towards the neutral face at an expression's apex. Each flow has the face's median motion
  taken out (what the alignment left of the head's), and the block value is the mean length of
  the sum: the main-directional motion magnitude of the MDMD family.

And one curve that is not a difference between frames but a displacement from the neutral face,
for the extent of a spotted movement (:func:`neutral_displacement`): the flow from each frame to
the per-pixel median of the faces around it (exposure-normalised), whose block value is 0 while
the face is at rest and rises and falls with an expression however long it holds its apex.
"""

from __future__ import annotations

import numpy as np

METHODS = ("lbp", "flow")
LBP_BINS = 10  # uniform patterns of P=8: 9 + "non-uniform"


def block_grid(size: int, n: int) -> np.ndarray:
    """(n * n, 4) int32 blocks ``x0, y0, x1, y1`` (end exclusive) tiling a ``size`` square."""
    edges = np.linspace(0, size, n + 1).round().astype(np.int32)
    return np.array(
        [[edges[j], edges[i], edges[j + 1], edges[i + 1]] for i in range(n) for j in range(n)], np.int32
    )


def eye_blocks(blocks: np.ndarray, landmarks: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """(B,) bool: blocks overlapping either eye's box (its 6 landmarks widened by ``margin`` of the
    inter-ocular distance). ``landmarks``: (68, 2) in the aligned face's pixels."""
    from mertool.face.landmarks import EYE_LEFT, EYE_RIGHT

    lm = np.asarray(landmarks, np.float64)
    d = float(np.linalg.norm(lm[list(EYE_LEFT)].mean(0) - lm[list(EYE_RIGHT)].mean(0)))
    out = np.zeros(len(blocks), bool)
    for eye in (EYE_LEFT, EYE_RIGHT):
        pts = lm[list(eye)]
        x0, y0 = pts.min(0) - margin * d
        x1, y1 = pts.max(0) + margin * d
        out |= (blocks[:, 0] < x1) & (blocks[:, 2] > x0) & (blocks[:, 1] < y1) & (blocks[:, 3] > y0)
    return out


def face_blocks(blocks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(B,) bool: blocks whose centre lies inside the face (the convex hull of the 68 landmarks,
    aligned-face pixels): background and hair move with the camera, not with the face."""
    import cv2

    hull = cv2.convexHull(np.asarray(landmarks, np.float32))
    centres = (blocks[:, :2] + blocks[:, 2:]) / 2.0
    return np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in centres])


def spotting_blocks(size: int, n: int, landmarks: np.ndarray, eyes: bool = False) -> np.ndarray:
    """(B', 4) the grid blocks spotting uses: inside the face, and (``eyes`` False) off the eyes."""
    blocks = block_grid(size, n)
    keep = face_blocks(blocks, landmarks)
    if not eyes:
        keep &= ~eye_blocks(blocks, landmarks)
    return blocks[keep]


def lbp_histograms(face: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """(B, 10) float32 normalised uniform-LBP histograms of a (S, S) uint8 face per block."""
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern(face, 8, 1, method="uniform").astype(np.int64)
    out = np.empty((len(blocks), LBP_BINS), np.float32)
    for b, (x0, y0, x1, y1) in enumerate(blocks):
        h = np.bincount(codes[y0:y1, x0:x1].ravel(), minlength=LBP_BINS)[:LBP_BINS].astype(np.float32)
        out[b] = h / max(1.0, float(h.sum()))
    return out


def lbp_difference(faces: np.ndarray, blocks: np.ndarray, k: int) -> np.ndarray:
    """(T, B) chi-squared LBP feature difference of (T, S, S) uint8 faces (see module docstring)."""
    from mertool.motion.spotting import histogram_difference

    feats = np.stack([lbp_histograms(f, blocks) for f in faces])
    return histogram_difference(feats, k)


def _dis():
    import cv2

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)


def _flow(dis, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    f = dis.calc(a, b, None)
    return f - np.median(f.reshape(-1, 2), axis=0)


def block_means(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """(B,) mean of a (S, S) map over each block (through one integral image)."""
    ii = np.pad(np.cumsum(np.cumsum(values, 0), 1), ((1, 0), (1, 0)))
    x0, y0, x1, y1 = blocks.T
    area = np.maximum(1, (x1 - x0) * (y1 - y0))
    return (ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]) / area


def flow_difference(faces: np.ndarray, blocks: np.ndarray, k: int) -> np.ndarray:
    """(T, B) mean length per block of ``flow(t -> t-k) + flow(t -> t+k)`` (see the module docstring)."""
    n = len(faces)
    dis = _dis()
    out = np.zeros((n, len(blocks)), np.float64)
    for t in range(n):
        a, b = faces[max(0, t - k)], faces[min(n - 1, t + k)]
        s = _flow(dis, faces[t], a) + _flow(dis, faces[t], b)
        out[t] = block_means(np.hypot(s[..., 0], s[..., 1]), blocks)
    return out


def normalise_exposure(face: np.ndarray, mean: float = 128.0, std: float = 40.0) -> np.ndarray:
    """(S, S) uint8 ``face`` scaled to a fixed mean and standard deviation: a change of exposure or
    of the light's strength no longer reads as motion in the flow."""
    x = np.asarray(face, np.float32)
    return ((x - x.mean()) / (float(x.std()) + 1e-6) * std + mean).clip(0, 255).astype(np.uint8)


def neutral_displacement(
    faces: np.ndarray,
    blocks: np.ndarray,
    window: int,
    valid: np.ndarray | None = None,
    step: int | None = None,
    samples: int = 80,
) -> np.ndarray:
    """(T, B) mean length per block of the flow from each frame to its local neutral face.

    The neutral face of the frames in a chunk of ``step`` (default ``window // 2``) frames is the
    per-pixel median of up to ``samples`` exposure-normalised faces evenly spread over ``window``
    frames either side of the chunk: an expression lasts a few seconds at most, so over a window
    of several seconds the median is the face at rest. Each flow has the face's median motion
    taken out, as in :func:`flow_difference`. Frames without a face (``valid`` False) give 0.
    """
    n = len(faces)
    ok = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    step = max(1, window // 2 if step is None else step)
    dis = _dis()
    out = np.zeros((n, len(blocks)), np.float64)
    for c0 in range(0, n, step):
        c1 = min(n, c0 + step)
        pool = np.flatnonzero(ok[max(0, c0 - window) : min(n, c1 + window)]) + max(0, c0 - window)
        if not len(pool):
            continue
        pick = pool[np.linspace(0, len(pool) - 1, min(samples, len(pool))).round().astype(int)]
        neutral = np.median(np.stack([normalise_exposure(faces[i]) for i in pick]), axis=0).astype(np.uint8)
        for t in range(c0, c1):
            if ok[t]:
                fl = _flow(dis, normalise_exposure(faces[t]), neutral)
                out[t] = block_means(np.hypot(fl[..., 0], fl[..., 1]), blocks)
    return out


def block_difference(method: str, faces: np.ndarray, blocks: np.ndarray, k: int) -> np.ndarray:
    """(T, B) block differences of ``method`` (``lbp`` or ``flow``)."""
    if method == "lbp":
        return lbp_difference(faces, blocks, k)
    if method == "flow":
        return flow_difference(faces, blocks, k)
    raise ValueError(f"spotting method {method!r} is not one of {', '.join(METHODS)}")
