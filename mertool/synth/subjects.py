"""Pseudo-subjects: one source face re-framed, re-posed and re-lit into a new-looking person.

A subject is the source photo warped by a random affine transform (scale so the jaw spans
50-62 % of the frame height, an in-plane roll of up to 7 degrees, 6 % anisotropic scaling and a
little shear along the face's axes, a placement jitter) and re-lit (white balance, saturation,
gamma, exposure, and a directional light gradient across the face). The result is the subject's
*neutral frame*: the image every frame of its clips is warped from, and the 68 landmarks that
place its action units (the source's dlib landmarks carried through the same transform).

A subject is only accepted when dlib's HOG detector (upsample 0) finds its face in the neutral
frame; otherwise the parameters are drawn again from the same generator (deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mertool.synth.sources import SourceFace

#: Jaw width as a fraction of the frame height (CASME II raw: about 280 px of 480).
FACE_FRACTION = (0.50, 0.62)
MAX_ROLL_DEG = 7.0
MAX_TRIES = 25


@dataclass
class Subject:
    """A pseudo-subject's neutral frame and face geometry, in frame pixels."""

    index: int
    source: str  # SourceFace.name
    neutral: np.ndarray  # (H, W, 3) float32 RGB, 0..255
    landmarks: np.ndarray  # (68, 2) float32
    box: np.ndarray  # (4,) float32 the HOG box found in the neutral frame
    params: dict[str, Any]

    @property
    def shape(self) -> tuple[int, int]:
        return self.neutral.shape[:2]

    @property
    def face_centre(self) -> np.ndarray:
        return self.landmarks.mean(axis=0)


def _affine(src: SourceFace, size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """2x3 source -> frame matrix and the parameters drawn."""
    W, H = size
    lm = src.landmarks.astype(np.float64)
    left, right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    eye_angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    roll = float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG))
    face_px = float(rng.uniform(*FACE_FRACTION)) * H
    scale = face_px / src.face_width
    aniso = float(rng.uniform(0.94, 1.06))
    shear = float(rng.uniform(-0.04, 0.04))
    cx = W / 2 + float(rng.uniform(-0.05, 0.05)) * W
    cy = H * float(rng.uniform(0.50, 0.56))

    c_src = lm.mean(axis=0)
    a = np.radians(roll - eye_angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    # anisotropy and shear in the face's own axes (after levelling the eyes)
    lev = np.radians(-eye_angle)
    level = np.array([[np.cos(lev), -np.sin(lev)], [np.sin(lev), np.cos(lev)]])
    shape = np.array([[aniso, shear], [0.0, 1.0 / aniso]])
    lin = scale * (rot @ level.T @ shape @ level)
    t = np.array([cx, cy]) - lin @ c_src
    M = np.hstack([lin, t[:, None]])
    params = {
        "roll_deg": roll,
        "face_px": face_px,
        "scale": scale,
        "aniso": aniso,
        "shear": shear,
        "centre": [cx, cy],
    }
    return M, params


def _warp_photo(image: np.ndarray, M: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Warp the photo into the frame, pre-shrinking with area averaging when it scales down."""
    import cv2

    scale = float(np.sqrt(abs(np.linalg.det(M[:, :2]))))
    img = image
    if scale < 0.8:
        f = scale / 0.9  # shrink to 0.9 of the final scale by area averaging, warp the rest
        img = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        sx, sy = img.shape[1] / image.shape[1], img.shape[0] / image.shape[0]
        M = M @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
    return cv2.warpAffine(
        img.astype(np.float32), M, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101
    )


def _relight(
    img: np.ndarray, centre: np.ndarray, face_px: float, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """White balance, saturation, gamma, exposure and a directional gradient; (H, W, 3) float32."""
    H, W = img.shape[:2]
    wb = np.exp(rng.normal(0.0, 0.06, 3))
    sat = float(rng.uniform(0.65, 1.15))
    gamma = float(rng.uniform(0.8, 1.25))
    gain = float(rng.uniform(0.78, 1.12))
    bias = float(rng.uniform(-12, 12))
    grad = float(rng.uniform(0.0, 0.3))
    phi = float(rng.uniform(0, 2 * np.pi))
    out = np.clip(img, 0, 255) * wb.astype(np.float32)
    y = out @ np.array([0.299, 0.587, 0.114], np.float32)
    out = y[..., None] + sat * (out - y[..., None])
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** gamma
    xs = (np.arange(W, dtype=np.float32) - centre[0]) / face_px
    ys = (np.arange(H, dtype=np.float32) - centre[1]) / face_px
    light = 1.0 + grad * (np.cos(phi) * xs[None, :] + np.sin(phi) * ys[:, None])
    out = out * (gain * np.clip(light, 0.4, 1.6))[..., None] + bias
    params = {
        "white_balance": wb.tolist(),
        "saturation": sat,
        "gamma": gamma,
        "gain": gain,
        "bias": bias,
        "light_gradient": grad,
        "light_angle_rad": phi,
    }
    return np.clip(out, 0, 255).astype(np.float32), params


def make_subject(index: int, source: SourceFace, size: tuple[int, int], rng: np.random.Generator) -> Subject:
    """Draw a pseudo-subject from ``source`` at frame ``size`` (W, H) whose face HOG finds.

    Raises :class:`~mertool.errors.MertoolError` when no draw in :data:`MAX_TRIES` gives a
    detectable face (a frame size too small for the detector's 80 px minimum, typically).
    """
    from mertool.face.landmarks import detect_hog

    W, H = size
    for attempt in range(MAX_TRIES):
        M, geo = _affine(source, size, rng)
        lms = (source.landmarks.astype(np.float64) @ M[:, :2].T + M[:, 2]).astype(np.float32)
        lo, hi = lms.min(axis=0), lms.max(axis=0)
        margin = 0.08 * (hi - lo)
        if (lo - margin < 0).any() or hi[0] + margin[0] >= W or hi[1] + margin[1] >= H:
            continue
        warped = _warp_photo(source.image, M, size)
        neutral, light = _relight(warped, lms.mean(axis=0), geo["face_px"], rng)
        found = detect_hog(np.clip(neutral + 0.5, 0, 255).astype(np.uint8), upsample=0)
        box = _matching_box(found, lms)
        if box is None:
            continue
        params = {"source": source.name, "attempt": attempt, **geo, **light, "matrix": M.tolist()}
        return Subject(index, source.name, neutral, lms, box, params)
    from mertool.errors import MertoolError

    raise MertoolError(
        f"could not make a subject from {source.name} whose face dlib HOG detects at {W}x{H}",
        hint="use a larger --size (the HOG detector needs faces of about 80 px or more)",
    )


def _matching_box(found: list[tuple[np.ndarray, float]], landmarks: np.ndarray) -> np.ndarray | None:
    """The detected box whose centre lies inside the landmarks' bounding box, if any."""
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    for box, _score in found:
        c = (box[:2] + box[2:]) / 2
        if (c >= lo).all() and (c <= hi).all():
            return box
    return None
