"""Facial action units as smooth, localised displacement fields placed with the 68 dlib landmarks.

An action unit (AU) is a few *handles*: a point on the face (a landmark, or a point between
landmarks, plus an offset), a displacement direction and a window. The AU's displacement field
is the sum over its handles of ``direction * window(p - centre)``, where the window is an
anisotropic Gaussian (axes along and across the face) multiplied by a smooth taper that reaches
exactly zero at 3 sigma, so a field is *exactly* zero far from its AUs.

Everything is placed in a face frame built from the landmarks: unit ``d`` = inter-ocular
distance, axis ``x`` from the image-left eye to the image-right eye, ``y`` perpendicular to it,
pointing down the face. A handle's x direction is written as *outward* (away from the face's
midline), so one definition serves both sides.

Sides follow FACS: ``R12`` is the *subject's* right, which is the *image-left* side (dlib's
points 36-41). Emotion -> AU patterns are in :data:`EMOTION_PATTERNS` and tabled in docs/synth.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mertool.face.landmarks import EYE_LEFT, EYE_RIGHT

# mirror pairs (image-left point, image-right point) of the landmarks the handles use
_PAIRS = {
    "inner_brow": (21, 22),
    "mid_brow": (19, 24),
    "brow_2": (20, 23),
    "outer_brow": (17, 26),
    "brow_1": (18, 25),
    "upper_lid": ((37, 38), (43, 44)),
    "lower_lid": ((40, 41), (47, 46)),
    "nose_wing": (31, 35),
    "upper_lip": (50, 52),
    "mouth_corner": (48, 54),
    "jaw": (6, 10),
    "lower_lip_side": (58, 56),
}
#: midline points
_MID = {"chin": (8,), "lower_lip": (57,), "upper_lip_mid": (51,), "nose_root": (27, 28)}


@dataclass(frozen=True)
class Handle:
    """One displacement handle of an AU, in face units (``d`` = inter-ocular distance).

    ``at`` names a landmark group (a pair in ``_PAIRS`` is placed once per side, a midline group
    in ``_MID`` once); ``offset`` (out, down) moves the centre; ``direction`` (out, down) is the
    displacement direction, ``weight`` its relative size; ``sigma`` (along x, along y) the window.
    """

    at: str
    direction: tuple[float, float]
    weight: float = 1.0
    sigma: tuple[float, float] = (0.15, 0.15)
    offset: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class ActionUnit:
    code: int
    name: str
    handles: tuple[Handle, ...]


AU_TABLE: dict[int, ActionUnit] = {
    au.code: au
    for au in (
        ActionUnit(
            1,
            "inner brow raiser",
            (
                Handle("inner_brow", (0.0, -1.0), 1.0, (0.14, 0.12)),
                Handle("brow_2", (0.0, -1.0), 0.6, (0.14, 0.12)),
            ),
        ),
        ActionUnit(
            2,
            "outer brow raiser",
            (
                Handle("outer_brow", (0.15, -1.0), 0.8, (0.14, 0.12)),
                Handle("brow_1", (0.1, -1.0), 1.0, (0.14, 0.12)),
            ),
        ),
        ActionUnit(
            4,
            "brow lowerer",
            (
                Handle("inner_brow", (-0.6, 0.8), 1.0, (0.15, 0.12)),
                Handle("mid_brow", (-0.3, 0.95), 0.7, (0.15, 0.12)),
            ),
        ),
        ActionUnit(5, "upper lid raiser", (Handle("upper_lid", (0.0, -1.0), 0.5, (0.1, 0.08)),)),
        ActionUnit(
            6,
            "cheek raiser",
            (Handle("lower_lid", (0.1, -1.0), 0.8, (0.2, 0.14), offset=(0.0, 0.38)),),
        ),
        ActionUnit(7, "lid tightener", (Handle("lower_lid", (0.0, -1.0), 0.6, (0.12, 0.08)),)),
        ActionUnit(
            9,
            "nose wrinkler",
            (
                Handle("nose_wing", (-0.2, -1.0), 0.9, (0.12, 0.14), offset=(0.0, -0.08)),
                Handle("upper_lip", (0.0, -1.0), 0.35, (0.12, 0.1)),
            ),
        ),
        ActionUnit(10, "upper lip raiser", (Handle("upper_lip", (0.05, -1.0), 0.8, (0.14, 0.1)),)),
        ActionUnit(12, "lip corner puller", (Handle("mouth_corner", (0.6, -0.8), 1.0, (0.15, 0.13)),)),
        ActionUnit(
            14, "dimpler", (Handle("mouth_corner", (-0.9, -0.15), 0.8, (0.12, 0.11), offset=(0.05, 0.0)),)
        ),
        ActionUnit(15, "lip corner depressor", (Handle("mouth_corner", (0.15, 1.0), 1.0, (0.14, 0.13)),)),
        ActionUnit(
            17,
            "chin raiser",
            (
                Handle("chin", (0.0, -1.0), 0.8, (0.26, 0.16), offset=(0.0, -0.12)),
                Handle("lower_lip", (0.0, -1.0), 0.5, (0.14, 0.1)),
            ),
        ),
        ActionUnit(20, "lip stretcher", (Handle("mouth_corner", (1.0, 0.2), 0.9, (0.13, 0.12)),)),
        ActionUnit(
            23,
            "lip tightener",
            (
                Handle("upper_lip_mid", (0.0, 1.0), 0.5, (0.16, 0.09)),
                Handle("lower_lip", (0.0, -1.0), 0.5, (0.16, 0.09)),
            ),
        ),
        ActionUnit(
            26,
            "jaw drop",
            (
                Handle("chin", (0.0, 1.0), 1.0, (0.36, 0.25)),
                Handle("lower_lip", (0.0, 1.0), 0.7, (0.16, 0.12)),
                Handle("jaw", (0.0, 1.0), 0.45, (0.2, 0.2)),
            ),
        ),
        # not part of any emotion pattern: the eye blink of the long videos' distractors
        ActionUnit(45, "blink", (Handle("upper_lid", (0.0, 1.0), 1.0, (0.12, 0.07)),)),
    )
}


@dataclass(frozen=True)
class Pattern:
    """An emotion's AUs: ``core`` always, each of ``optional`` with probability ``p_optional``."""

    core: tuple[int, ...]
    optional: tuple[int, ...] = ()
    p_optional: float = 0.5
    #: AUs that may be unilateral (probability ``p_side``) and the forced side ("R"/"L"/None).
    sided: tuple[int, ...] = ()
    p_side: float = 0.15
    side: str | None = None


#: Native emotion -> AU pattern (lower-case emotion names; SMIC's classes included).
EMOTION_PATTERNS: dict[str, Pattern] = {
    "happiness": Pattern((6, 12), sided=(12,)),
    "positive": Pattern((6, 12), sided=(12,)),
    "surprise": Pattern((1, 2, 26), optional=(5,)),
    "disgust": Pattern((4, 9), optional=(10,), sided=(10,)),
    "repression": Pattern((15, 17), optional=(14,), sided=(14, 15)),
    "anger": Pattern((4, 7), optional=(23,)),
    "contempt": Pattern((14,), optional=(12,), p_optional=0.4, side="R"),
    "sadness": Pattern((1, 4, 15)),
}


@dataclass(frozen=True)
class AUSpec:
    """One AU as used in one clip: code, side (None both, "R" subject's right, "L") and gain."""

    code: int
    side: str | None = None
    gain: float = 1.0

    @property
    def token(self) -> str:
        return f"{self.side or ''}{self.code}"


@dataclass
class Expression:
    """The AUs of one clip, with per-clip jitter of handle geometry (face units)."""

    emotion: str
    aus: tuple[AUSpec, ...]
    jitter: dict[str, float] = field(default_factory=dict)

    @property
    def tokens(self) -> list[str]:
        return [a.token for a in self.aus]


def draw_expression(emotion: str, rng: np.random.Generator) -> Expression:
    """The AUs of one clip of ``emotion``: the pattern's core AUs, optional ones at random,
    sides at random, and per-AU gains in [0.7, 1.3] (so intensity balance varies per clip)."""
    pattern = EMOTION_PATTERNS[emotion]
    codes = list(pattern.core) + [c for c in pattern.optional if rng.random() < pattern.p_optional]
    aus = []
    for code in sorted(codes):
        side = pattern.side
        if side is None and code in pattern.sided and rng.random() < pattern.p_side:
            side = "R" if rng.random() < 0.5 else "L"
        aus.append(AUSpec(code, side, float(rng.uniform(0.7, 1.3))))
    jitter = {
        "pos": float(rng.uniform(0.0, 0.04)),  # handle centres move up to 4 % of d
        "angle": float(rng.uniform(-10, 10)),  # directions rotate by up to 10 degrees
        "sigma": float(rng.uniform(0.88, 1.12)),
        "seed": int(rng.integers(2**31)),
    }
    return Expression(emotion, tuple(aus), jitter)


# ------------------------------------------------------------------------------------------------
# geometry


@dataclass(frozen=True)
class FaceFrame:
    """Face axes from the landmarks: origin between the eyes, unit ``d``, x outward-right, y down."""

    centre: np.ndarray  # (2,)
    ex: np.ndarray  # (2,) unit, image-left eye -> image-right eye
    ey: np.ndarray  # (2,) unit, down the face
    d: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        left = landmarks[list(EYE_LEFT)].mean(axis=0)
        right = landmarks[list(EYE_RIGHT)].mean(axis=0)
        d = float(np.linalg.norm(right - left))
        ex = (right - left) / d
        ey = np.array([-ex[1], ex[0]])
        return cls((left + right) / 2, ex, ey, d)


def _points(at: str, landmarks: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Centres of a handle group with their outward sign: [(point, -1 image-left / +1 right / 0)]."""
    if at in _MID:
        return [(landmarks[list(_MID[at])].mean(axis=0), 0.0)]
    left, right = _PAIRS[at]
    left = (left,) if isinstance(left, int) else left
    right = (right,) if isinstance(right, int) else right
    return [(landmarks[list(left)].mean(axis=0), -1.0), (landmarks[list(right)].mean(axis=0), 1.0)]


def _rotate(v: tuple[float, float], degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass(frozen=True)
class PlacedHandle:
    """A handle placed in an image: centre, displacement (pixels per unit gain), window axes."""

    au: int
    centre: np.ndarray  # (2,) x, y pixels
    vector: np.ndarray  # (2,) pixels at gain 1 (before the clip's intensity normalisation)
    sigma_x: float  # pixels along the face's x axis
    sigma_y: float
    ex: np.ndarray
    ey: np.ndarray


def place_handles(expression: Expression, landmarks: np.ndarray) -> list[PlacedHandle]:
    """The clip's handles in image pixels, with its jitter applied (deterministic per jitter seed).

    "image-left" sign -1 is the subject's right side (FACS ``R``).
    """
    frame = FaceFrame.from_landmarks(landmarks)
    rng = np.random.default_rng(expression.jitter.get("seed", 0))
    pos, angle, sig = (expression.jitter.get(k, v) for k, v in (("pos", 0.0), ("angle", 0.0), ("sigma", 1.0)))
    placed = []
    for spec in expression.aus:
        au = AU_TABLE[spec.code]
        for h in au.handles:
            for point, sign in _points(h.at, landmarks):
                if spec.side == "R" and sign > 0 or spec.side == "L" and sign < 0:
                    continue
                out = sign if sign != 0 else 1.0
                off = np.array([h.offset[0] * out, h.offset[1]]) + rng.uniform(-pos, pos, 2)
                centre = point + frame.d * (off[0] * frame.ex + off[1] * frame.ey)
                local = _rotate((h.direction[0] * out, h.direction[1]), angle * out)
                local = local / max(np.linalg.norm(local), 1e-9)
                vector = h.weight * spec.gain * (local[0] * frame.ex + local[1] * frame.ey)
                placed.append(
                    PlacedHandle(
                        spec.code,
                        centre.astype(np.float64),
                        vector,
                        h.sigma[0] * sig * frame.d,
                        h.sigma[1] * sig * frame.d,
                        frame.ex,
                        frame.ey,
                    )
                )
    return placed


def _window(shape: tuple[int, int], h: PlacedHandle) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The handle's window on its bounding box: Gaussian times a taper that is 0 at 3 sigma."""
    H, W = shape
    reach = 3.0 * max(h.sigma_x, h.sigma_y)
    x0, x1 = max(0, int(np.floor(h.centre[0] - reach))), min(W, int(np.ceil(h.centre[0] + reach)) + 1)
    y0, y1 = max(0, int(np.floor(h.centre[1] - reach))), min(H, int(np.ceil(h.centre[1] + reach)) + 1)
    if x0 >= x1 or y0 >= y1:
        return np.zeros((0, 0), np.float64), (slice(0, 0), slice(0, 0))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dx, dy = xs - h.centre[0], ys - h.centre[1]
    u = (dx * h.ex[0] + dy * h.ex[1]) / h.sigma_x
    v = (dx * h.ey[0] + dy * h.ey[1]) / h.sigma_y
    r2 = u * u + v * v
    taper = np.clip(1.0 - r2 / 9.0, 0.0, None) ** 2
    return np.exp(-0.5 * r2) * taper, (slice(y0, y1), slice(x0, x1))


def displacement_field(handles: list[PlacedHandle], shape: tuple[int, int]) -> np.ndarray:
    """Sum of the handles' fields, (H, W, 2) float32 ``(dx, dy)`` pixels, unnormalised."""
    field = np.zeros((*shape, 2), np.float64)
    for h in handles:
        w, (sy, sx) = _window(shape, h)
        if w.size:
            field[sy, sx] += w[..., None] * h.vector
    return field.astype(np.float32)


def region_mask(handles: list[PlacedHandle], shape: tuple[int, int], radius: float = 2.0) -> np.ndarray:
    """(H, W) bool: pixels within ``radius`` (in sigmas, elliptic) of any handle centre.

    A geometric definition from the landmarks, independent of the field's values: the
    "moving region" the flow's endpoint error and the locality tests use.
    """
    H, W = shape
    mask = np.zeros(shape, bool)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    for h in handles:
        dx, dy = xs - h.centre[0], ys - h.centre[1]
        u = (dx * h.ex[0] + dy * h.ex[1]) / h.sigma_x
        v = (dx * h.ey[0] + dy * h.ey[1]) / h.sigma_y
        mask |= u * u + v * v <= radius * radius
    return mask


def max_jacobian(field: np.ndarray) -> float:
    """Largest Frobenius norm of the field's Jacobian (an upper bound of its spectral norm):
    below 1 the warp ``p -> p + field(p)`` folds nowhere and can be inverted."""
    gy, gx = np.gradient(field.astype(np.float64), axis=(0, 1))
    return float(np.sqrt((gx**2 + gy**2).sum(axis=-1)).max()) if field.size else 0.0


def expression_field(
    expression: Expression, landmarks: np.ndarray, shape: tuple[int, int], peak_px: float
) -> tuple[np.ndarray, np.ndarray, list[PlacedHandle]]:
    """The apex displacement field scaled so its largest displacement is ``peak_px`` pixels.

    Returns ``(field (H, W, 2) float32, region mask (H, W) bool, placed handles)``.
    """
    handles = place_handles(expression, landmarks)
    field = displacement_field(handles, shape)
    peak = float(np.sqrt((field**2).sum(axis=-1)).max()) if field.size else 0.0
    if peak > 0:
        field *= peak_px / peak
    return field, region_mask(handles, shape), handles
