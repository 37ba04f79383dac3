"""Optical strain: how much the flow field stretches and shears the face (paper 004 eq. 7).

With ``u, v`` the flow components and subscripts partial derivatives (``u_x = du/dx``):

* ``"eq7"`` (default; paper 004 eq. 7 exactly as printed)::

      V_z = sqrt(u_x^2 + v_y^2 + 1/2 (u_y^2 + v_x^2))

* ``"tensor"`` — the magnitude (Frobenius norm) of the infinitesimal strain tensor
  ``e = 1/2 (grad V + grad V^T)``, as in Liong et al.'s optical strain papers::

      V_z = sqrt(u_x^2 + v_y^2 + 1/2 (u_y + v_x)^2)

  The two differ only in the shear term. The tensor form is zero for a rigid rotation
  (``u = -w y, v = w x``), eq. 7 as printed is not (it gives ``|w|``), so a small head roll left
  after alignment shows up as "strain" under eq. 7. ``eq7`` is the default because mertool
  reproduces paper 004; use ``tensor`` for new work.

Derivative scheme: second-order central differences in the interior and first-order one-sided
differences at the border (``numpy.gradient`` with unit spacing), i.e. per pixel of the flow field.
"""

from __future__ import annotations

import numpy as np

KINDS = ("eq7", "tensor")
DEFAULT_KIND = "eq7"


def flow_gradients(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(u_x, u_y, v_x, v_y)``, each (H, W) float64, of a flow field (H, W, 2) by central differences."""
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2 or min(flow.shape[:2]) < 2:
        raise ValueError(f"flow must be (H, W, 2) with H, W >= 2, got shape {flow.shape}")
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    return u_x, u_y, v_x, v_y


def optical_strain(flow: np.ndarray, kind: str = DEFAULT_KIND) -> np.ndarray:
    """Optical strain magnitude (H, W) float32 of ``flow`` (H, W, 2); ``kind`` is ``eq7`` or ``tensor``."""
    u_x, u_y, v_x, v_y = flow_gradients(flow)
    if kind == "eq7":
        shear = 0.5 * (u_y**2 + v_x**2)
    elif kind == "tensor":
        shear = 0.5 * (u_y + v_x) ** 2
    else:
        raise ValueError(f"strain kind {kind!r}: use one of {', '.join(KINDS)}")
    return np.sqrt(u_x**2 + v_y**2 + shear).astype(np.float32)
