"""Drawing region boxes on faces, and the docs figure of every region set (docs/figures/rois.png).

``python -m mertool.visualize.regions docs/figures/rois.png`` (``make docs-rois``) aligns the
astronaut photo that scikit-image ships with the same code ``detect-faces`` uses, and draws the
15 ROIs (paper 001), the 5 AU regions (paper 002) and the 3 D&C RoIs (paper 004) on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

#: Matplotlib colour maps per region set.
SET_CMAPS = {"rois15": "tab20", "au5": "tab10", "dc3": "Set1", "face": "Greys"}
SET_TITLES = {
    "face": "whole aligned face",
    "rois15": "rois15: 15 ROIs (paper 001)",
    "au5": "au5: 5 AU regions (paper 002)",
    "dc3": "dc3: D&C RoIs (paper 004)",
}


def set_colors(region_set: str, n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps[SET_CMAPS.get(region_set, "tab20")]
    count = getattr(cmap, "N", 20)
    return [cmap(i % count) for i in range(n)]


def draw_boxes(
    ax,
    boxes: np.ndarray,
    region_set: str,
    offset: tuple[float, float] = (0.0, 0.0),
    numbers: bool = True,
    linewidth: float = 1.2,
    fontsize: float = 6.0,
) -> None:
    """Outline ``boxes`` (R, 4) on ``ax``, shifted by ``offset``, numbered 1..R when ``numbers``."""
    from matplotlib.patches import Rectangle

    colors = set_colors(region_set, len(boxes))
    dx, dy = offset
    for i, (box, color) in enumerate(zip(np.asarray(boxes, float), colors)):
        x0, y0, x1, y1 = box
        ax.add_patch(
            Rectangle((x0 + dx, y0 + dy), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=linewidth)
        )
        if numbers:
            ax.text(
                x0 + dx + 1,
                y0 + dy + 1,
                str(i + 1),
                color="white",
                fontsize=fontsize,
                va="top",
                ha="left",
                bbox={"facecolor": color, "edgecolor": "none", "pad": 0.6, "alpha": 0.85},
            )


def aligned_astronaut(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """skimage's astronaut aligned as detect-faces aligns a clip: (RGB (size, size, 3), landmarks (68, 2))."""
    import cv2
    from skimage import data

    from mertool.face import alignment as al
    from mertool.face.detectors import get_detector
    from mertool.face.tracking import FaceTracker

    rgb = data.astronaut()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    face = FaceTracker(get_detector("dlib-hog")).update(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), bgr)
    m = al.clip_transform(face.landmarks[None], size)
    return al.warp(rgb, m, size), al.transform_points(face.landmarks, m)


def figure(out: str | Path, size: int = 256) -> Path:
    """Write the region-set figure to ``out`` (PNG) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mertool.face.rois import REGION_NAMES, region_boxes

    image, points = aligned_astronaut(size)
    sets = ("rois15", "au5", "dc3")
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 6.6), dpi=110)
    for ax, name in zip(axes, sets):
        ax.imshow(image)
        ax.scatter(points[:, 0], points[:, 1], s=3, c="white", edgecolors="none", alpha=0.8)
        draw_boxes(ax, region_boxes(points, name, size=size), name, fontsize=7)
        ax.set_title(SET_TITLES[name], fontsize=10)
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.axis("off")
        entries = [f"{i + 1:>2} {n}" for i, n in enumerate(REGION_NAMES[name])]
        for col, start in enumerate(range(0, len(entries), 8)):
            ax.text(
                0.5 * col,
                -0.02,
                "\n".join(entries[start : start + 8]),
                transform=ax.transAxes,
                va="top",
                ha="left",
                fontsize=8,
                family="monospace",
            )
    fig.suptitle(
        f"Region sets on an aligned face ({size}x{size}; boxes from the 68 dlib landmarks, white dots)",
        fontsize=11,
    )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.2, wspace=0.04)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    print(figure(args[0] if args else "docs/figures/rois.png"))


if __name__ == "__main__":
    main()
