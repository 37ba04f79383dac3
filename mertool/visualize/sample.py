"""A sample as the face stage sees it: the panels of detect-faces / crop-rois, and the renderer.

Panels (see :mod:`mertool.visualize` for the registry):

``source``   source frames (onset, apex, offset) with the face box and the 68 landmarks
``aligned``  the same frames aligned, with the aligned landmarks
``rois``     the onset face with the outlines of each region set (rois15, au5, dc3)
``crops``    what crop-rois cut: the face crops and, at the apex, each set's region crops

:func:`render_sample` stacks the panels that apply (or those named) into one PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError
from mertool.store import schema as S
from mertool.visualize import PanelSpec, applicable, panel, registered

GAP = 6  # pixels between tiles


def key_frames(record: Any) -> list[tuple[str, int]]:
    """``(role, frame number)`` for onset, apex (spotted, labelled, else the middle) and offset."""
    numbers = [int(n) for n in record.array(S.D_FRAME_NUMBERS)]
    have = set(numbers)

    def pick(value: Any, fallback: int) -> int:
        return int(value) if value is not None and int(value) in have else fallback

    onset = pick(record.get(S.A_ONSET), numbers[0])
    offset = pick(record.get(S.A_OFFSET), numbers[-1])
    apex_value = record.get(S.A_APEX_SPOTTED, record.get(S.A_APEX))
    if apex_value is not None and int(apex_value) in have:
        middle = ("apex", int(apex_value))
    else:
        target = (onset + offset) / 2
        middle = ("middle", min(numbers, key=lambda n: (abs(n - target), n)))
    return [("onset", onset), middle, ("offset", offset)]


def tile(images: list[np.ndarray], gap: int = GAP) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Images side by side on white (heights padded to the tallest): (canvas, x/y offset of each)."""
    rgb = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im[..., :3] for im in images]
    height = max(im.shape[0] for im in rgb)
    width = sum(im.shape[1] for im in rgb) + gap * (len(rgb) - 1)
    canvas = np.full((height, width, 3), 255, np.uint8)
    offsets = []
    x = 0
    for im in rgb:
        canvas[: im.shape[0], x : x + im.shape[1]] = im
        offsets.append((x, 0))
        x += im.shape[1] + gap
    return canvas, offsets


def _captions(ax, offsets: list[tuple[int, int]], texts: list[str]) -> None:
    for (x, _), text in zip(offsets, texts):
        ax.text(
            x + 2,
            2,
            text,
            color="white",
            fontsize=7,
            va="top",
            ha="left",
            bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none", "pad": 1},
        )


def _index(record: Any) -> dict[int, int]:
    return {int(n): i for i, n in enumerate(record.array(S.D_FRAME_NUMBERS))}


def read_source_frame(label: str) -> np.ndarray | None:
    """A source frame (RGB) from its file, or ``VIDEO#N``; None when it cannot be read."""
    import cv2

    from mertool.face.sources import parse_video_label

    video = parse_video_label(label)
    if video is not None:
        cap = cv2.VideoCapture(video[0])
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, video[1])
            ok, frame = cap.read()
        finally:
            cap.release()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None
    data = np.fromfile(label, np.uint8) if Path(label).is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img is not None else None


@panel(
    "source",
    needs=(S.D_FRAME_PATHS, S.D_FRAME_NUMBERS, S.D_BOXES, S.D_LANDMARKS),
    order=10,
    title="source frames: face box and 68 landmarks",
    aspect=2.4,
)
def source_panel(record: Any, ax: Any) -> None:
    from matplotlib.patches import Rectangle

    idx = _index(record)
    paths = record.array(S.D_FRAME_PATHS)
    boxes = record.array(S.D_BOXES)
    points = record.array(S.D_LANDMARKS)
    redetected = record.array(S.D_REDETECTED) if record.has(S.D_REDETECTED) else None
    frames = key_frames(record)
    crops, texts, shifts = [], [], []
    for role, number in frames:
        i = idx[number]
        img = read_source_frame(paths[i])
        if img is None:
            ax.text(
                0.5,
                0.5,
                f"source frame not readable: {paths[i]}",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
            )
            return
        # show the face and some context around it, not the whole (possibly large) frame
        x0, y0, x1, y1 = boxes[i]
        pad = 0.6 * (x1 - x0)
        h, w = img.shape[:2]
        cx0, cy0 = int(max(0, x0 - pad)), int(max(0, y0 - pad))
        cx1, cy1 = int(min(w, x1 + pad)), int(min(h, y1 + pad))
        crops.append(img[cy0:cy1, cx0:cx1])
        shifts.append((cx0, cy0))
        note = " (re-detected)" if redetected is not None and redetected[i] else ""
        texts.append(f"{role} {number}{note}")
    canvas, offsets = tile(crops)
    ax.imshow(canvas)
    for (_role, number), (ox, oy), (sx, sy) in zip(frames, offsets, shifts):
        i = idx[number]
        x0, y0, x1, y1 = boxes[i]
        ax.add_patch(
            Rectangle(
                (x0 - sx + ox, y0 - sy + oy), x1 - x0, y1 - y0, fill=False, edgecolor="lime", linewidth=1.2
            )
        )
        pts = points[i]
        ax.scatter(pts[:, 0] - sx + ox, pts[:, 1] - sy + oy, s=3, c="yellow", edgecolors="none")
    _captions(ax, offsets, texts)


@panel(
    "aligned",
    needs=(S.D_FRAMES, S.D_LANDMARKS_ALIGNED, S.D_FRAME_NUMBERS),
    order=20,
    title="aligned faces with their landmarks",
    aspect=3.0,
)
def aligned_panel(record: Any, ax: Any) -> None:
    idx = _index(record)
    frames = record.array(S.D_FRAMES)
    points = record.array(S.D_LANDMARKS_ALIGNED)
    roles = key_frames(record)
    canvas, offsets = tile([frames[idx[n]] for _, n in roles])
    ax.imshow(canvas, cmap="gray")
    for (_, n), (ox, oy) in zip(roles, offsets):
        pts = points[idx[n]]
        ax.scatter(pts[:, 0] + ox, pts[:, 1] + oy, s=3, c="yellow", edgecolors="none")
    _captions(ax, offsets, [f"{r} {n}" for r, n in roles])


def _onset_face(record: Any) -> tuple[np.ndarray, np.ndarray]:
    """(aligned onset image, aligned landmarks at the onset) from frames or crops/face."""
    from mertool.stages.crop_rois import anchor_landmarks

    idx = _index(record)
    onset = key_frames(record)[0][1]
    points = anchor_landmarks(record.array(S.D_LANDMARKS_ALIGNED), idx[onset])
    if record.has(S.D_FRAMES):
        return record.array(S.D_FRAMES)[idx[onset]], points
    crops = record.array(f"{S.CROPS_GROUP}/face")
    numbers = [int(n) for n in record.array(S.D_CROP_FRAME_NUMBERS)]
    k = numbers.index(onset) if onset in numbers else 0
    image = crops[k]
    side = record.get(S.A_FACE_SIZE, image.shape[0])
    if image.shape[0] != side:  # face crops resized by --size: landmarks follow (pixel centres)
        points = (points + 0.5) * (image.shape[0] / float(side)) - 0.5
    return image, points


@panel(
    "rois",
    needs=((S.D_FRAMES, f"{S.CROPS_GROUP}/face"), S.D_LANDMARKS_ALIGNED, S.D_FRAME_NUMBERS),
    order=30,
    title="region sets: rois15 (paper 001), au5 (paper 002), dc3 (paper 004)",
    aspect=3.0,
)
def rois_panel(record: Any, ax: Any) -> None:
    from mertool.face.rois import region_boxes
    from mertool.visualize.regions import draw_boxes

    image, points = _onset_face(record)
    sets = ("rois15", "au5", "dc3")
    canvas, offsets = tile([image] * len(sets))
    ax.imshow(canvas, cmap="gray")
    scale = image.shape[0] / float(record.get(S.A_FACE_SIZE, image.shape[0]))
    for name, off in zip(sets, offsets):
        stored = f"{S.ROI_BOXES_GROUP}/{name}"
        if record.has(stored):
            boxes = (record.array(stored)[0] + 0.5) * scale - 0.5
        else:
            boxes = region_boxes(points, name)
        draw_boxes(ax, boxes, name, offset=off, fontsize=5, linewidth=0.9)
    _captions(ax, [(x, y + image.shape[0] - 14) for x, y in offsets], list(sets))


@panel(
    "crops",
    needs=(f"{S.CROPS_GROUP}/face", S.D_CROP_FRAME_NUMBERS),
    order=40,
    title="crops: faces at the cut frames, then each region set at the last cut frame",
    aspect=4.0,
)
def crops_panel(record: Any, ax: Any) -> None:
    faces = record.array(f"{S.CROPS_GROUP}/face")
    roles = record.get(S.A_CROP_FRAMES, [])
    numbers = [int(n) for n in record.array(S.D_CROP_FRAME_NUMBERS)]
    tiles = list(faces)
    texts = [f"{r} {n}" for r, n in zip(roles, numbers)] if roles else [str(n) for n in numbers]
    side = faces.shape[1]
    for name in ("rois15", "au5", "dc3"):
        key = f"{S.CROPS_GROUP}/{name}"
        if not record.has(key):
            continue
        regions = record.array(key)[-1]  # (R, s, s[, 3]) at the last cut frame
        cols = int(np.ceil(np.sqrt(len(regions))))
        rows = int(np.ceil(len(regions) / cols))
        cell = max(8, side // max(cols, rows))
        import cv2

        grid = np.full((rows * cell, cols * cell) + regions.shape[3:], 255, np.uint8)
        for k, region in enumerate(regions):
            r, c = divmod(k, cols)
            grid[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = cv2.resize(region, (cell, cell))
        tiles.append(grid)
        texts.append(name)
    canvas, offsets = tile(tiles)
    ax.imshow(canvas, cmap="gray")
    _captions(ax, offsets, texts)


def choose_panels(record: Any, names: list[str] | None) -> list[PanelSpec]:
    """The panels to draw: every applicable one, or ``names`` (each checked against the sample)."""
    if not names:
        found = applicable(record)
        if not found:
            raise MertoolError(
                f"sample {record.id}: nothing to draw (arrays: {', '.join(record.array_names()) or 'none'})",
                hint="show draws the outputs of detect-faces, crop-rois and the motion stages",
            )
        return found
    specs = registered()
    out = []
    for name in names:
        if name not in specs:
            raise MertoolError(f"unknown panel {name!r}", hint=f"one of: {', '.join(specs)}")
        missing = specs[name].missing(record)
        if missing:
            raise MertoolError(
                f"sample {record.id}: panel {name!r} needs {', '.join(missing)}",
                hint="run the stage that makes them first (mertool inspect FILE lists what the file holds)",
            )
        out.append(specs[name])
    return out


def title_of(record: Any) -> str:
    parts = [record.id]
    for key in (S.A_LABEL, S.A_EMOTION):
        if record.get(key):
            parts.append(f"{key} {record.get(key)}")
            break
    for key in (S.A_ONSET, S.A_APEX, S.A_APEX_SPOTTED, S.A_OFFSET):
        if record.get(key) is not None:
            parts.append(f"{key} {record.get(key)}")
    if not record.ok:
        parts.append(f"FAILED: {record.get(S.A_ERROR)}")
    return "  ·  ".join(parts)


def render_sample(record: Any, out: str | Path, panels: list[str] | None = None, width: float = 10.0) -> Path:
    """Draw ``record``'s panels, one row each, into the PNG ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = choose_panels(record, panels)
    heights = [width / spec.aspect + 0.35 for spec in specs]
    fig, axes = plt.subplots(
        len(specs),
        1,
        figsize=(width, sum(heights) + 0.5),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for spec, ax in zip(specs, axes[:, 0]):
        ax.set_axis_off()
        ax.set_title(spec.title, fontsize=9, loc="left")
        spec.draw(record, ax)
    fig.suptitle(title_of(record), fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
