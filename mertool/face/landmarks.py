"""dlib's 68-point facial landmarks, and the dlib HOG face detector they are usually paired with.

Pure functions on arrays: images are uint8 (H, W) grayscale or (H, W, 3) RGB; boxes are float
``(x0, y0, x1, y1)`` in pixels; landmarks are float32 (68, 2) ``(x, y)`` in pixels, in dlib's
iBUG-300W order (0-16 jaw, 17-21 brow on the image's left, 22-26 brow on the image's right,
27-35 nose, 36-41 eye on the image's left, 42-47 eye on the image's right, 48-67 mouth).

The models are loaded once per process and cached (``functools.cache``); the predictor file comes
from the ``face-recognition-models`` package (:func:`mertool.env.dlib_model_path`).
"""

from __future__ import annotations

from functools import cache

import numpy as np

# Landmark index groups (image-left / image-right, i.e. as the picture shows them).
JAW = tuple(range(0, 17))
BROW_LEFT = tuple(range(17, 22))
BROW_RIGHT = tuple(range(22, 27))
NOSE = tuple(range(27, 36))
EYE_LEFT = tuple(range(36, 42))
EYE_RIGHT = tuple(range(42, 48))
MOUTH = tuple(range(48, 68))


@cache
def hog_detector():
    """dlib's frontal-face HOG detector (no model file needed)."""
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def shape_predictor():
    """dlib's 68-point shape predictor, from the face-recognition-models files."""
    import dlib

    from mertool.env import dlib_model_path

    return dlib.shape_predictor(str(dlib_model_path("landmarks68")))


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) from (H, W) or RGB (H, W, 3)."""
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def detect_hog(image: np.ndarray, upsample: int = 0) -> list[tuple[np.ndarray, float]]:
    """Faces found by dlib HOG: a list of ``(box (4,) float32, score)``, best first."""
    gray = np.ascontiguousarray(to_gray(image))
    rects, scores, _ = hog_detector().run(gray, upsample, 0.0)
    found = [
        (np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float32), float(s))
        for r, s in zip(rects, scores)
    ]
    return sorted(found, key=lambda item: -item[1])


def landmarks68(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 68 landmarks (68, 2) float32 inside ``box`` (x0, y0, x1, y1)."""
    import dlib

    gray = np.ascontiguousarray(to_gray(image))
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = shape_predictor()(gray, dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def box_from_landmarks(points: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """A face box around landmarks, widened by ``margin`` of its size on each side; (4,) float32."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    w, h = x1 - x0, y1 - y0
    return np.array([x0 - margin * w, y0 - margin * h, x1 + margin * w, y1 + margin * h], np.float32)


#: Where dlib's HOG detector puts its box relative to the landmarks' bounding box (w, h): the centre
#: is raised by 0.08 h and the square side is 1.05 max(w, h). Measured on the bundled photos
#: (astronaut, grace_hopper, zidane); boxes made this way give the same landmarks as the detector's
#: own box to 1-4 % of the inter-ocular distance (mean over the 68 points; the jaw line moves most),
#: about as much as HOG's own box changes between upsample 0 and 1.
PREDICTOR_BOX_RAISE = 0.08
PREDICTOR_BOX_SIDE = 1.05


def predictor_box(points: np.ndarray) -> np.ndarray:
    """The box the shape predictor expects for a face with landmarks ``points`` (68, 2); (4,) float32.

    A square shaped like a dlib HOG detection, so landmarks found from it match landmarks found
    from a detection: used to follow a face from frame to frame, and to re-centre boxes from
    other detectors (whose boxes have other proportions) before the final landmarks.
    """
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    w, h = float(x1 - x0), float(y1 - y0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0 - PREDICTOR_BOX_RAISE * h
    half = PREDICTOR_BOX_SIDE * max(w, h) / 2.0
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def interocular(points: np.ndarray) -> float:
    """Distance between the two eye centres (pixels)."""
    left, right = eye_centers(points)
    return float(np.linalg.norm(right - left))


def eye_centers(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (2,) of the image-left and image-right eyes."""
    return points[list(EYE_LEFT)].mean(axis=0), points[list(EYE_RIGHT)].mean(axis=0)
