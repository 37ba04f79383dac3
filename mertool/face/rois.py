"""Facial regions of interest defined from the 68 dlib landmarks.

Region sets (each a function ``landmarks (68, 2) -> boxes (R, 4) float32 x0, y0, x1, y1``, with
the region names in :data:`REGION_NAMES`):

``dc3``    paper 004's D&C-RoIs: eye+brow on the image's left, eye+brow on the image's right, mouth.

"Left"/"right" are as the image shows them (dlib's points 36-41 are the image-left eye, which is
the subject's right eye).
"""

from __future__ import annotations

import numpy as np

from mertool.face.landmarks import BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, MOUTH

REGION_NAMES: dict[str, tuple[str, ...]] = {
    "dc3": ("eye_brow_left", "eye_brow_right", "mouth"),
}


def _box(points: np.ndarray, pad: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """Bounding box of ``points`` padded by (left, top, right, bottom) multiples of ``scale``."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    left, top, right, bottom = pad
    return np.array(
        [x0 - left * scale, y0 - top * scale, x1 + right * scale, y1 + bottom * scale], np.float32
    )


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres, the scale every region is padded by."""
    left = landmarks[list(EYE_LEFT)].mean(axis=0)
    right = landmarks[list(EYE_RIGHT)].mean(axis=0)
    return float(np.linalg.norm(right - left))


def dc3(landmarks: np.ndarray) -> np.ndarray:
    """Paper 004's three D&C regions, (3, 4) float32: each eye with its brow, and the mouth.

    Eye+brow boxes take the brow and eye points, padded by 0.15 of the inter-ocular distance
    sideways and 0.1 above and below; the mouth box takes the 20 mouth points padded by 0.15
    sideways and 0.1 vertically.
    """
    d = interocular(landmarks)
    left = _box(landmarks[list(BROW_LEFT) + list(EYE_LEFT)], (0.15, 0.1, 0.15, 0.1), d)
    right = _box(landmarks[list(BROW_RIGHT) + list(EYE_RIGHT)], (0.15, 0.1, 0.15, 0.1), d)
    mouth = _box(landmarks[list(MOUTH)], (0.15, 0.1, 0.15, 0.1), d)
    return np.stack([left, right, mouth])


REGION_SETS = {"dc3": dc3}


def region_boxes(landmarks: np.ndarray, region_set: str) -> np.ndarray:
    """Boxes (R, 4) float32 of ``region_set`` for one face's landmarks (68, 2)."""
    try:
        return REGION_SETS[region_set](landmarks)
    except KeyError:
        from mertool.errors import MertoolError

        raise MertoolError(
            f"unknown region set {region_set!r}", hint=f"one of: {', '.join(REGION_SETS)}"
        ) from None
