"""A small synthetic face-detection set in WIDER FACE's own layout, for tests, smoke targets and
benchmarks: real faces from the photos that installed packages ship, pasted onto backgrounds.

Faces: every face dlib HOG finds in the bundled photos (:func:`mertool.synth.sources.load_sources`:
scikit-image's astronaut, matplotlib's grace_hopper, ultralytics' zidane and bus). Each face is
cut with a margin around its HOG box and pasted through a feathered elliptical mask (so no
rectangular seam gives the answer away) at a random scale, position, mirror and brightness onto
a background: a random crop of a scikit-image texture or photo (brick, grass, gravel, coffee,
chelsea, rocket, ...), a colour gradient or noise. The ground-truth box is the HOG box as pasted.

Written exactly as WIDER FACE ships (see :mod:`mertool.datasets.widerface`)::

    ROOT/WIDER_{train,val}/images/<event>/<name>.jpg
    ROOT/wider_face_split/wider_face_{train,val}_bbx_gt.txt   (trailing spaces kept)
    ROOT/wider_face_split/wider_face_test_filelist.txt        (when n_test > 0)
    ROOT/eval_tools/ground_truth/wider_{face,easy,medium,hard}_val.mat   (with eval_tools=True)

With ``quirks=True`` (default) the set also carries WIDER's oddities so that converters meet
them: the first image of each split has no face (count ``0`` plus its all-zero line); the train
file has one box with ``w = 0``, one box flagged ``invalid``, and one face pasted across the
right border (its box reaches past the image). :class:`SyntheticWider` counts each.

Easy/medium/hard subsets (``gt_list``) are by pasted face width: hard = every valid face,
medium = width >= ``MEDIUM_PX``, easy = width >= ``EASY_PX``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EVENTS = ("0--Parade", "1--Handshaking", "2--Demonstration", "10--People_Marching")
MEDIUM_PX = 24
EASY_PX = 48


@dataclass
class SyntheticWider:
    """What :func:`make_synthetic_wider` wrote; counts are per split."""

    root: Path
    images: dict[str, int] = field(default_factory=dict)
    faces: dict[str, int] = field(default_factory=dict)  # boxes written, all kinds
    zero_face_images: dict[str, int] = field(default_factory=dict)
    zero_size_boxes: dict[str, int] = field(default_factory=dict)
    invalid_boxes: dict[str, int] = field(default_factory=dict)
    outside_boxes: dict[str, int] = field(default_factory=dict)  # boxes reaching past the image


@dataclass(frozen=True)
class FaceCrop:
    """A face cut from a photo: RGB uint8 (h, w, 3) and its face box inside the crop (x0, y0, x1, y1)."""

    image: np.ndarray
    box: np.ndarray


def face_crops(margin: float = 0.35) -> list[FaceCrop]:
    """Every bundled face, cut with ``margin`` x box size of context on each side."""
    from mertool.synth.sources import load_sources

    crops = []
    for src in load_sources(mirror=False):
        h, w = src.image.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in src.box)
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        cx0, cy0 = int(max(0, x0 - mx)), int(max(0, y0 - my))
        cx1, cy1 = int(min(w, x1 + mx)), int(min(h, y1 + my))
        crop = np.ascontiguousarray(src.image[cy0:cy1, cx0:cx1])
        crops.append(FaceCrop(crop, np.array([x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0], np.float32)))
    return crops


def _backgrounds() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("brick", "grass", "gravel", "coffee", "chelsea", "rocket", "hubble_deep_field", "text"):
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001,S112 - a missing or undownloadable image just is not used
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    return out


def _background(rng: np.random.Generator, sources: list[np.ndarray], h: int, w: int) -> np.ndarray:
    import cv2

    kind = rng.random()
    if sources and kind < 0.7:
        src = sources[int(rng.integers(len(sources)))]
        sh, sw = src.shape[:2]
        scale = rng.uniform(0.4, 1.0)
        ch, cw = max(8, int(sh * scale)), max(8, int(sw * scale))
        y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
        return cv2.resize(src[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)
    if kind < 0.85:
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8).copy()
    noise = rng.normal(128, 40, (h // 8 + 1, w // 8 + 1, 3)).clip(0, 255).astype(np.uint8)
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)


def _paste(
    canvas: np.ndarray, crop: FaceCrop, x: int, y: int, width: int, rng: np.random.Generator
) -> np.ndarray:
    """Paste ``crop`` resized so its face box is ``width`` px wide with the crop's top-left at (x, y).

    Returns the pasted face box (4,) float x0, y0, x1, y1 in canvas pixels (may reach past the canvas).
    """
    import cv2

    fw = float(crop.box[2] - crop.box[0])
    s = width / fw
    ch, cw = crop.image.shape[:2]
    nh, nw = max(2, int(round(ch * s))), max(2, int(round(cw * s)))
    img = cv2.resize(crop.image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    box = crop.box * s
    if rng.random() < 0.5:
        img = img[:, ::-1]
        box = np.array([nw - box[2], box[1], nw - box[0], box[3]], np.float32)
    img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-20, 20), 0, 255)
    # feathered ellipse covering the face box and some context
    yy, xx = np.mgrid[0:nh, 0:nw].astype(np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) * 0.72, (box[3] - box[1]) * 0.80
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    alpha = np.clip((1.25 - d) / 0.5, 0, 1)[..., None]
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + nw), min(H, y + nh)
    if x1 > x0 and y1 > y0:
        patch = img[y0 - y : y1 - y, x0 - x : x1 - x]
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = (a * patch + (1 - a) * region).astype(np.uint8)
    return box + np.array([x, y, x, y], np.float32)


def _grow(box: np.ndarray, f: float) -> np.ndarray:
    dx, dy = f * (box[2] - box[0]), f * (box[3] - box[1])
    return box + np.array([-dx, -dy, dx, dy], np.float32)


def _overlaps(box: np.ndarray, boxes: list[np.ndarray], limit: float = 0.05) -> bool:
    """True when ``box`` grown by a quarter (the pasted context) overlaps a grown earlier box."""
    box = _grow(box, 0.25)
    for b in (_grow(b, 0.25) for b in boxes):
        iw = min(box[2], b[2]) - max(box[0], b[0])
        ih = min(box[3], b[3]) - max(box[1], b[1])
        if (
            iw > 0
            and ih > 0
            and iw * ih > limit * min((box[2] - box[0]) * (box[3] - box[1]), (b[2] - b[0]) * (b[3] - b[1]))
        ):
            return True
    return False


def _render_image(
    rng: np.random.Generator,
    crops: list[FaceCrop],
    backgrounds: list[np.ndarray],
    n_faces: int,
    size_range: tuple[int, int],
    across_border: bool = False,
) -> tuple[np.ndarray, list[np.ndarray]]:
    h = int(rng.integers(size_range[0], size_range[1] + 1))
    w = int(rng.integers(size_range[0], size_range[1] + 1))
    canvas = _background(rng, backgrounds, h, w)
    boxes: list[np.ndarray] = []
    side = min(h, w)
    for k in range(n_faces):
        for _attempt in range(30):
            crop = crops[int(rng.integers(len(crops)))]
            width = int(rng.uniform(0.12, 0.42) * side)
            width = max(width, 14)
            s = width / float(crop.box[2] - crop.box[0])
            cw, ch = int(crop.image.shape[1] * s), int(crop.image.shape[0] * s)
            fx0, fy0 = crop.box[0] * s, crop.box[1] * s
            if across_border and k == 0:
                # face box centred on the right border: half of it reaches past the image
                x = int(w - fx0 - width / 2)
                y = int(rng.integers(0, max(1, h - ch)))
            else:
                # keep the whole face box inside the image (the crop's margin may fall outside)
                x = int(rng.integers(int(-fx0), max(int(-fx0) + 1, int(w - fx0 - width))))
                fh = float(crop.box[3] - crop.box[1]) * s
                y = int(rng.integers(int(-fy0), max(int(-fy0) + 1, int(h - fy0 - fh))))
            box = np.array([x + fx0, y + fy0, x + fx0 + width, y + crop.box[3] * s], np.float32)
            if not _overlaps(box, boxes):
                boxes.append(_paste(canvas, crop, x, y, width, rng))
                break
        del cw, ch
    return canvas, boxes


def _box_line(x: int, y: int, w: int, h: int, invalid: int = 0, blur: int = 0) -> str:
    vals = (x, y, w, h, blur, 0, 0, invalid, 0, 0)
    return "".join(f"{v} " for v in vals)  # WIDER writes a space after every value


def make_synthetic_wider(
    root: str | Path,
    n_train: int = 16,
    n_val: int = 8,
    n_test: int = 0,
    seed: int = 0,
    faces_per_image: tuple[int, int] = (1, 3),
    size_range: tuple[int, int] = (192, 320),
    quirks: bool = True,
    eval_tools: bool = True,
) -> SyntheticWider:
    """Write a synthetic WIDER FACE tree under ``root`` and return what it holds.

    ``faces_per_image`` is the inclusive range of pasted faces per image; ``size_range`` the
    inclusive range of image height and width in pixels. Same seed, same files.
    """
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    crops = face_crops()
    backgrounds = _backgrounds()
    out = SyntheticWider(root)
    split_dir = root / "wider_face_split"
    split_dir.mkdir(parents=True, exist_ok=True)
    val_records: list[tuple[str, str, np.ndarray]] = []
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        if n <= 0:
            continue
        lines: list[str] = []
        names: list[str] = []
        counts = {"faces": 0, "zero": 0, "zero_size": 0, "invalid": 0, "outside": 0}
        for i in range(n):
            event = EVENTS[i % len(EVENTS)]
            num, label = event.split("--")
            name = f"{event}/{num}_{label}_{label}_{split}_{i}.jpg"
            zero_face = quirks and i == 0
            across = quirks and split == "train" and i == 1
            k = 0 if zero_face else int(rng.integers(faces_per_image[0], faces_per_image[1] + 1))
            image, boxes = _render_image(rng, crops, backgrounds, k, size_range, across_border=across)
            path = root / f"WIDER_{split}" / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            names.append(name)
            H, W = image.shape[:2]
            rows = []
            for b in boxes:
                x, y = int(round(b[0])), int(round(b[1]))
                w, h = int(round(b[2] - b[0])), int(round(b[3] - b[1]))
                rows.append(_box_line(x, y, w, h))
                counts["outside"] += int(x < 0 or y < 0 or x + w > W or y + h > H)
            if quirks and split == "train" and i == 2:
                rows.append(_box_line(5, 5, 0, 12))  # WIDER's w = 0 boxes
                counts["zero_size"] += 1
            if quirks and split == "train" and i == 3:
                rows.append(_box_line(2, 2, 10, 10, invalid=1))  # flagged invalid
                counts["invalid"] += 1
            lines.append(name)
            lines.append(str(len(rows)))
            lines.extend(rows if rows else [_box_line(0, 0, 0, 0)])  # the zero-face quirk line
            counts["faces"] += len(rows)
            counts["zero"] += int(not rows)
            if split == "val":
                val_records.append(
                    (
                        event,
                        Path(name).stem,
                        np.array([[float(v) for v in r.split()[:4]] for r in rows]).reshape(-1, 4),
                    )
                )
        if split == "test":
            (split_dir / "wider_face_test_filelist.txt").write_text("".join(f"{nm}\n" for nm in names))
        else:
            (split_dir / f"wider_face_{split}_bbx_gt.txt").write_text("".join(f"{ln}\n" for ln in lines))
        out.images[split] = n
        out.faces[split] = counts["faces"]
        out.zero_face_images[split] = counts["zero"]
        out.zero_size_boxes[split] = counts["zero_size"]
        out.invalid_boxes[split] = counts["invalid"]
        out.outside_boxes[split] = counts["outside"]
    if eval_tools and val_records:
        write_eval_mats(root / "eval_tools" / "ground_truth", val_records)
    return out


def subset_indices(boxes: np.ndarray, subset: str) -> np.ndarray:
    """1-based indices of the faces of one image that count for ``subset`` (by face width)."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    w, h = boxes[:, 2], boxes[:, 3]
    valid = (w > 0) & (h > 0)
    limit = {"hard": 0, "medium": MEDIUM_PX, "easy": EASY_PX}[subset]
    return (np.flatnonzero(valid & (w >= limit)) + 1).astype(np.int64)


def write_eval_mats(folder: Path, records: list[tuple[str, str, np.ndarray]]) -> None:
    """WIDER FACE's evaluation ground truth, as MATLAB cell arrays written with ``scipy.io.savemat``.

    ``records`` are ``(event, image stem, boxes (N, 4) x, y, w, h)`` of the val images. Writes
    ``wider_face_val.mat`` (``event_list``, ``file_list``, ``face_bbx_list``) and
    ``wider_{easy,medium,hard}_val.mat`` (the same lists plus ``gt_list``: per image, the
    1-based indices of the faces that count; by face width, see :func:`subset_indices`).
    """
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    events = sorted({e for e, _, _ in records}, key=lambda e: int(e.split("--")[0]))

    def cell(items: list) -> np.ndarray:
        arr = np.empty((len(items), 1), dtype=object)
        for i, it in enumerate(items):
            arr[i, 0] = it
        return arr

    per_event = {e: [(s, b) for ev, s, b in records if ev == e] for e in events}
    event_list = cell(events)
    file_list = cell([cell([s for s, _ in per_event[e]]) for e in events])
    bbx_list = cell(
        [cell([np.asarray(b, np.float64).reshape(-1, 4) for _, b in per_event[e]]) for e in events]
    )
    scipy.io.savemat(
        str(folder / "wider_face_val.mat"),
        {"event_list": event_list, "file_list": file_list, "face_bbx_list": bbx_list},
    )
    for subset in ("easy", "medium", "hard"):
        gt = cell([cell([subset_indices(b, subset).reshape(-1, 1) for _, b in per_event[e]]) for e in events])
        scipy.io.savemat(
            str(folder / f"wider_{subset}_val.mat"),
            {"event_list": event_list, "file_list": file_list, "gt_list": gt},
        )
