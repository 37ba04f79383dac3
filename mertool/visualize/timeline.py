"""Pictures of a long video's analysis: the timeline PNG and the annotated frames of the MP4.

* :func:`draw_timeline`: the micro and macro spotting curves over time (seconds) with their
  thresholds, every spotted interval shaded (micro and macro in two colours) with its label and
  confidence written on it, and the frames without a face hatched grey.
* :func:`annotate_frame`: one video frame with the followed face's box, the current expression
  (kind, label, confidence) and the time, for the annotated MP4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

COLORS = {"micro": "#d62728", "macro": "#1f77b4"}
BGR = {"micro": (40, 39, 214), "macro": (180, 119, 31)}


def draw_timeline(
    out_png: str | Path,
    title: str,
    fps: float,
    curves: dict[str, np.ndarray],
    thresholds: dict[str, float],
    intervals: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
    n_frames: int,
) -> Path:
    """Write the timeline PNG. ``curves``: kind -> (T,) contrasted curve; ``intervals`` with
    ``onset_s``, ``offset_s``, ``kind`` and optionally ``label``/``confidence``; ``gaps`` with
    ``start_s``/``end_s``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(n_frames) / fps
    kinds = [k for k in ("micro", "macro") if k in curves]
    fig, axes = plt.subplots(
        max(1, len(kinds)), 1, figsize=(12, 2.2 * max(1, len(kinds)) + 0.6), sharex=True, squeeze=False
    )
    for ax, kind in zip(axes[:, 0], kinds or ["micro"]):
        c = curves.get(kind)
        if c is not None:
            ax.plot(t[: len(c)], c, color=COLORS[kind], lw=0.8, label=f"{kind} curve")
            if kind in thresholds:
                ax.axhline(thresholds[kind], color="k", ls="--", lw=0.7, label="threshold")
        top = float(np.nanmax(c)) if c is not None and len(c) else 1.0
        for iv in intervals:
            ax.axvspan(
                iv["onset_s"],
                iv["offset_s"],
                color=COLORS[iv["kind"]],
                alpha=0.25 if iv["kind"] == kind else 0.08,
            )
            if iv["kind"] == kind:
                text = iv.get("label") or kind
                if iv.get("confidence") is not None:
                    text += f" {iv['confidence']:.2f}"
                ax.text(
                    (iv["onset_s"] + iv["offset_s"]) / 2,
                    top * 0.95,
                    text,
                    ha="center",
                    va="top",
                    fontsize=7,
                    rotation=90,
                )
        for g in gaps:
            ax.axvspan(g["start_s"], g["end_s"] + 1 / fps, color="0.6", alpha=0.4, hatch="//", lw=0)
        ax.set_ylabel(kind)
        ax.legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 0].set_xlim(0, n_frames / fps)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def annotate_frame(
    image: np.ndarray, box: np.ndarray | None, current: dict[str, Any] | None, seconds: float, lost: bool
) -> np.ndarray:
    """A BGR copy of ``image`` (BGR or grey uint8) with the face box, the expression now showing
    (``current``: ``kind``, ``label``, ``confidence``) and the time written on it."""
    import cv2

    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    color = BGR[current["kind"]] if current else (60, 200, 60)
    if box is not None and np.isfinite(box).all():
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), color, 2 if current else 1)
    scale = max(0.4, out.shape[0] / 600)

    def write(text: str, row: int, bgr: tuple[int, int, int], thickness: int = 1) -> None:
        """``text`` at the left edge, on text row 1 (the time) or 2 (the expression)."""
        y = int((22 if row == 1 else 46) * scale)
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, bgr, thickness, cv2.LINE_AA)

    write(f"{seconds:7.2f} s", 1, (255, 255, 255))
    if lost:
        write("no face", 2, (0, 0, 255))
    elif current:
        text = current["kind"] + (f": {current['label']}" if current.get("label") else "")
        if current.get("confidence") is not None:
            text += f" ({current['confidence']:.2f})"
        write(text, 2, color, 2)
    return out
