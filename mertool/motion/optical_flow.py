"""Optical flow between two aligned face frames: TV-L1 (paper 004 §3.1.2), DIS and Farneback.

Every function takes two frames of one size, (H, W) or (H, W, 3) RGB, uint8 or float in 0..1
(converted to grayscale), and returns the flow (H, W, 2) float32 ``u, v`` **onset -> apex in
pixels of the given frames** (for aligned faces, aligned-face pixels): the onset pixel at
``(x, y)`` is seen at ``(x + u, y + v)`` in the apex frame.

Methods and named presets (:data:`PRESETS`):

* ``opencv-default`` — TV-L1 (``cv2.optflow.DualTVL1OpticalFlow_create``) with OpenCV's own
  defaults: tau 0.25, lambda 0.15, theta 0.3, 5 scales, 5 warps, epsilon 0.01, 30 inner and 10
  outer iterations, scale step 0.8, median filter 5. What most MER code runs.
* ``micro`` — TV-L1 tuned for micro-motions (displacements of a pixel or two): 5 scales, 3 warps,
  1 outer and 5 inner iterations. About 5x faster than the defaults with an equal or lower
  endpoint error inside the moving regions of the synthetic ground truth (docs/motion.md).
* ``dis`` — OpenCV's DIS flow, MEDIUM preset (uint8 input).
* ``farneback`` — OpenCV's Farneback flow (pyr_scale 0.5, 3 levels, window 15, 3 iterations,
  poly_n 5, poly_sigma 1.2).

Call :func:`mertool.env.require_tvl1` before TV-L1 (a missing contrib module is an environment
problem with a repair command, not a crash); :func:`compute_flow` does it for you.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from mertool.errors import MertoolError

METHODS = ("tvl1", "dis", "farneback")


@dataclass(frozen=True)
class FlowParams:
    """One flow configuration. ``tvl1`` fields follow OpenCV's argument names."""

    method: str = "tvl1"
    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5
    dis_preset: str = "medium"
    farneback: dict[str, float] = field(
        default_factory=lambda: {
            "pyr_scale": 0.5,
            "levels": 3,
            "winsize": 15,
            "iterations": 3,
            "poly_n": 5,
            "poly_sigma": 1.2,
        }
    )

    def as_dict(self) -> dict[str, Any]:
        """The parameters that matter for ``method`` (what the flow stage records)."""
        d = asdict(self)
        if self.method == "tvl1":
            return {k: v for k, v in d.items() if k not in ("dis_preset", "farneback")}
        if self.method == "dis":
            return {"method": "dis", "dis_preset": self.dis_preset}
        return {"method": "farneback", **self.farneback}

    def with_overrides(self, **overrides: Any) -> FlowParams:
        """A copy with the non-None ``overrides`` applied (CLI ``--tvl1-*`` options)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self


PRESETS: dict[str, FlowParams] = {
    "opencv-default": FlowParams(),
    "micro": FlowParams(warps=3, outer_iterations=1, inner_iterations=5),
    "dis": FlowParams(method="dis"),
    "farneback": FlowParams(method="farneback"),
}
DEFAULT_PRESET = "micro"


def preset(name: str) -> FlowParams:
    try:
        return PRESETS[name]
    except KeyError:
        raise MertoolError(f"unknown flow preset {name!r}", hint=f"one of: {', '.join(PRESETS)}") from None


def _gray_u8(image: np.ndarray) -> np.ndarray:
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(image)


def _gray_f32(image: np.ndarray) -> np.ndarray:
    """Grayscale float32 in 0..1 (what TV-L1 is given; OpenCV scales float input by 255)."""
    import cv2

    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(
            image if image.dtype == np.uint8 else image.astype(np.float32), cv2.COLOR_RGB2GRAY
        )
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return np.ascontiguousarray(image, dtype=np.float32)


def check_pair(onset: np.ndarray, apex: np.ndarray) -> None:
    """Raise ValueError unless the two frames have the same height and width (at least 8x8)."""
    if onset.shape[:2] != apex.shape[:2]:
        raise ValueError(f"frame sizes differ: onset {onset.shape[:2]}, apex {apex.shape[:2]}")
    if min(onset.shape[:2]) < 8:
        raise ValueError(f"frames of {onset.shape[:2]} are too small for optical flow (8x8 at least)")


def tvl1(onset: np.ndarray, apex: np.ndarray, params: FlowParams | None = None) -> np.ndarray:
    """TV-L1 flow (H, W, 2) float32 onset -> apex, in pixels."""
    import cv2

    from mertool.env import require_tvl1

    require_tvl1()
    p = params or PRESETS["opencv-default"]
    check_pair(onset, apex)
    algo = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p.tau,
        lambda_=p.lambda_,
        theta=p.theta,
        nscales=p.nscales,
        warps=p.warps,
        epsilon=p.epsilon,
        innnerIterations=p.inner_iterations,
        outerIterations=p.outer_iterations,
        scaleStep=p.scale_step,
        gamma=p.gamma,
        medianFiltering=p.median_filtering,
    )
    return np.asarray(algo.calc(_gray_f32(onset), _gray_f32(apex), None), np.float32)


def dis(onset: np.ndarray, apex: np.ndarray, params: FlowParams | None = None) -> np.ndarray:
    """DIS flow (H, W, 2) float32 onset -> apex, in pixels."""
    import cv2

    p = params or PRESETS["dis"]
    check_pair(onset, apex)
    presets = {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }
    if p.dis_preset not in presets:
        raise MertoolError(f"unknown DIS preset {p.dis_preset!r}", hint=f"one of: {', '.join(presets)}")
    algo = cv2.DISOpticalFlow_create(presets[p.dis_preset])
    return np.asarray(algo.calc(_gray_u8(onset), _gray_u8(apex), None), np.float32)


def farneback(onset: np.ndarray, apex: np.ndarray, params: FlowParams | None = None) -> np.ndarray:
    """Farneback flow (H, W, 2) float32 onset -> apex, in pixels."""
    import cv2

    p = params or PRESETS["farneback"]
    check_pair(onset, apex)
    f = p.farneback
    flow = cv2.calcOpticalFlowFarneback(
        _gray_u8(onset),
        _gray_u8(apex),
        None,
        float(f["pyr_scale"]),
        int(f["levels"]),
        int(f["winsize"]),
        int(f["iterations"]),
        int(f["poly_n"]),
        float(f["poly_sigma"]),
        0,
    )
    return np.asarray(flow, np.float32)


_FUNCS = {"tvl1": tvl1, "dis": dis, "farneback": farneback}


def compute_flow(onset: np.ndarray, apex: np.ndarray, params: FlowParams | None = None) -> np.ndarray:
    """Flow (H, W, 2) float32 onset -> apex with ``params.method`` (default: the micro TV-L1 preset)."""
    p = params or PRESETS[DEFAULT_PRESET]
    try:
        func = _FUNCS[p.method]
    except KeyError:
        raise MertoolError(
            f"unknown flow method {p.method!r}", hint=f"one of: {', '.join(METHODS)}"
        ) from None
    return func(onset, apex, p)


def endpoint_error(flow: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean endpoint error ``|flow - truth|`` in pixels, over ``mask`` (bool (H, W)) when given."""
    err = np.linalg.norm(np.asarray(flow, np.float64) - np.asarray(truth, np.float64), axis=-1)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if not mask.any():
            return float("nan")
        err = err[mask]
    return float(err.mean())
