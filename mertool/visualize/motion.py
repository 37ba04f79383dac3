"""Panels of ``mertool show`` for the motion stages: the apex curve, the flow and its maps.

* ``apex-curve`` (spot-apex): the per-frame score the apex method maximised, with the onset..offset
  window shaded, the spotted apex (solid line) and the labelled apex (dashed) marked.
* ``flow`` (flow): onset frame, apex frame, and the flow as a colour-wheel image (hue = direction,
  brightness = magnitude, scaled to the largest magnitude in the face, printed under it), with the
  wheel itself as a legend.
* ``motion-maps`` (flow): u and v (diverging colours, symmetric range), optical strain and the
  difference image |apex - onset|, each with its value range printed under it.

Pure helpers: :func:`flow_to_rgb` and :func:`color_wheel`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mertool.store import schema as S
from mertool.visualize import panel


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel picture (H, W, 3) uint8 of a flow field (H, W, 2).

    Hue is the direction ``atan2(v, u)`` (image axes: y points down; 0 = rightwards, red), saturation
    1, value the magnitude divided by ``max_magnitude`` (default: the field's largest), clipped to 1.
    """
    import cv2

    flow = np.asarray(flow, np.float32)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    ang = np.mod(np.arctan2(flow[..., 1], flow[..., 0]), 2 * np.pi)
    top = float(max_magnitude) if max_magnitude else float(mag.max())
    value = np.clip(mag / top, 0.0, 1.0) if top > 0 else np.zeros_like(mag)
    # float HSV in OpenCV: hue in degrees 0..360, saturation and value in 0..1
    hsv = np.stack([np.degrees(ang) % 360.0, np.ones_like(mag), value], axis=-1).astype(np.float32)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def color_wheel(size: int = 64) -> np.ndarray:
    """The legend of :func:`flow_to_rgb`: (size, size, 4) uint8 RGBA, transparent outside the disc."""
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u, v = (xx - c) / c, (yy - c) / c
    rgb = flow_to_rgb(np.stack([u, v], axis=-1), max_magnitude=1.0)
    alpha = np.where(np.hypot(u, v) <= 1.0, 255, 0).astype(np.uint8)
    return np.dstack([rgb, alpha])


def _gray_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.asarray(image, np.float32) * 255.0, 0, 255).astype(np.uint8)
    return np.dstack([image] * 3) if image.ndim == 2 else image


def _tiles(ax: Any, tiles: list[tuple[np.ndarray, dict[str, Any], str]], gap: int = 4) -> None:
    """Draw images side by side on one Axes, each with its own colour map and a caption under it."""
    height = max(t[0].shape[0] for t in tiles)
    x = 0
    for image, kw, caption in tiles:
        h, w = image.shape[:2]
        ax.imshow(image, extent=(x, x + w, h, 0), interpolation="nearest", **kw)
        ax.text(x + w / 2, h + 2, caption, ha="center", va="top", fontsize=7)
        x += w + gap
    ax.set_xlim(0, x - gap)
    ax.set_ylim(height + 14, 0)
    ax.set_axis_off()


def _flow_params(record: Any) -> dict[str, Any]:
    params = record.get(S.A_FLOW_PARAMS_JSON) or {}
    return params if isinstance(params, dict) else {}


@panel("apex-curve", needs=(S.D_APEX_CURVE,), order=55, title="apex curve", aspect=3.0)
def apex_curve_panel(record: Any, ax: Any) -> None:
    curve = np.asarray(record.array(S.D_APEX_CURVE), np.float32)
    numbers = (
        np.asarray(record.array(S.D_FRAME_NUMBERS))
        if record.has(S.D_FRAME_NUMBERS)
        else np.arange(len(curve))
    )
    if len(numbers) != len(curve):
        numbers = np.arange(len(curve))
    ax.set_axis_on()
    ax.plot(numbers, curve, color="0.2", linewidth=1.2)
    onset, offset = record.get(S.A_ONSET), record.get(S.A_OFFSET)
    if onset is not None or offset is not None:
        lo = onset if onset is not None else numbers[0]
        hi = offset if offset is not None else numbers[-1]
        ax.axvspan(lo, hi, color="0.9", zorder=0, label="onset..offset")
    spotted, label = record.get(S.A_APEX_SPOTTED), record.get(S.A_APEX)
    if spotted is not None:
        ax.axvline(spotted, color="tab:red", linewidth=1.5, label=f"spotted apex {spotted}")
    if label is not None:
        ax.axvline(label, color="tab:blue", linestyle="--", linewidth=1.5, label=f"labelled apex {label}")
    ax.set_xlabel("frame", fontsize=7)
    ax.set_ylabel("score", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper right", frameon=False)
    method = record.get(S.A_APEX_METHOD) or "?"
    title = f"apex curve ({method})"
    if spotted is not None and label is not None and record.get(S.A_FPS):
        err = int(spotted) - int(label)
        title += f": spotted - labelled = {err:+d} frames ({err / float(record.get(S.A_FPS)) * 1000:+.0f} ms)"
    ax.set_title(title, fontsize=8)


@panel("flow", needs=(S.D_FLOW,), order=60, title="optical flow onset → apex", aspect=4.4)
def flow_panel(record: Any, ax: Any) -> None:
    flow = np.asarray(record.array(S.D_FLOW), np.float32)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    top = float(np.percentile(mag, 99.5)) or float(mag.max())
    tiles: list[tuple[np.ndarray, dict[str, Any], str]] = []
    params = _flow_params(record)
    for name, frame_key in ((S.D_ONSET_IMAGE, "onset_frame"), (S.D_APEX_IMAGE, "apex_frame")):
        if record.has(name):
            role = name.split("_")[0]
            tiles.append((_gray_rgb(record.array(name)), {}, f"{role} (frame {params.get(frame_key, '?')})"))
    tiles.append((flow_to_rgb(flow, top), {}, f"flow: brightness = |flow|, full at {top:.2f} px"))
    tiles.append((color_wheel(flow.shape[0]), {}, "hue = direction"))
    _tiles(ax, tiles)
    norm = record.get(S.A_NORMALIZATION)
    method = record.get(S.A_FLOW_METHOD) or "?"
    extra = f", normalised: {norm}" if norm and norm != "none" else ""
    ax.set_title(
        f"optical flow onset → apex ({method}, preset {params.get('preset', '?')}{extra})", fontsize=8
    )


@panel("motion-maps", needs=(S.D_FLOW,), order=65, title="flow components, strain, difference", aspect=4.4)
def motion_maps_panel(record: Any, ax: Any) -> None:
    flow = np.asarray(record.array(S.D_FLOW), np.float32)
    tiles: list[tuple[np.ndarray, dict[str, Any], str]] = []
    for k, name in enumerate(("u", "v")):
        c = flow[..., k]
        r = float(np.abs(c).max()) or 1.0
        tiles.append((c, {"cmap": "RdBu_r", "vmin": -r, "vmax": r}, f"{name}: {c.min():.2f}..{c.max():.2f}"))
    if record.has(S.D_STRAIN):
        s = np.asarray(record.array(S.D_STRAIN), np.float32)
        top = float(np.percentile(s, 99.5)) or float(s.max()) or 1.0
        tiles.append((s, {"cmap": "magma", "vmin": 0, "vmax": top}, f"strain: 0..{s.max():.3f}"))
    if record.has(S.D_DIFF):
        d = np.asarray(record.array(S.D_DIFF), np.float32)
        d = d.mean(axis=-1) if d.ndim == 3 else d
        top = float(np.percentile(d, 99.5)) or float(d.max()) or 1.0
        tiles.append((d, {"cmap": "inferno", "vmin": 0, "vmax": top}, f"|apex - onset|: 0..{d.max():.3f}"))
    _tiles(ax, tiles)
    params = _flow_params(record)
    ax.set_title(
        f"flow components, optical strain ({params.get('strain', 'eq7')}), difference image", fontsize=8
    )
