"""WIDER FACE as shipped -> the YOLO layout ultralytics trains on, with every dropped box counted.

Output (``OUT``)::

    OUT/images/{train,val}/<event>/<name>.jpg     symlinks to the WIDER images (or copies, hard links)
    OUT/labels/{train,val}/<event>/<stem>.txt     one line per face: "0 cx cy w h", normalised to [0, 1]
    OUT/data.yaml                                 ultralytics dataset file (nc 1, names {0: face})

Per box, in this order: ``w`` or ``h`` <= 0 -> dropped (zero-size); ``invalid`` = 1 -> dropped;
otherwise clipped to the image (counted when it changed) and dropped when nothing is left
(outside) or when its shorter side is below ``min_size`` pixels (small; off by default). An
image with no face left gets an empty label file: ultralytics trains on it as background (the
zero-face records of WIDER land here). ``data.yaml`` also records the WIDER root (so
``detector eval`` can find ``eval_tools/ground_truth``) and these counts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mertool.errors import DatasetError, MertoolError

LINK_MODES = ("symlink", "copy", "hardlink")
MARKER = "mertool_prepare"


@dataclass
class SplitCounts:
    images: int = 0
    boxes_in: int = 0
    boxes_written: int = 0
    zero_face_images: int = 0  # images with no face left (empty label file)
    dropped_zero_size: int = 0
    dropped_invalid: int = 0
    dropped_outside: int = 0
    dropped_small: int = 0
    clipped: int = 0


@dataclass
class PrepareReport:
    out: Path
    data_yaml: Path
    root: Path
    splits: dict[str, SplitCounts] = field(default_factory=dict)
    quirks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "data_yaml": str(self.data_yaml),
            "widerface_root": str(self.root),
            "splits": {k: asdict(v) for k, v in self.splits.items()},
            "reader_warnings": self.quirks,
        }


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception as exc:  # noqa: BLE001 - PIL raises several kinds for a bad file
        raise MertoolError(
            f"{path}: cannot read the image header ({exc})", hint="is the file complete?"
        ) from exc


def yolo_lines(
    boxes: np.ndarray,
    attributes: np.ndarray | None,
    width: int,
    height: int,
    counts: SplitCounts,
    min_size: float = 0,
) -> list[str]:
    """YOLO label lines for WIDER boxes (N, 4) x, y, w, h of one width x height image; updates ``counts``."""
    invalid_col = 3  # ATTRIBUTES.index("invalid")
    lines = []
    for k, (x, y, w, h) in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
        counts.boxes_in += 1
        if w <= 0 or h <= 0:
            counts.dropped_zero_size += 1
            continue
        if attributes is not None and len(attributes) > k and attributes[k, invalid_col] == 1:
            counts.dropped_invalid += 1
            continue
        x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)
        if (x0, y0, x1, y1) != (x, y, x + w, y + h):
            counts.clipped += 1
        if x1 <= x0 or y1 <= y0:
            counts.dropped_outside += 1
            continue
        if min(x1 - x0, y1 - y0) < min_size:
            counts.dropped_small += 1
            continue
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        lines.append(f"0 {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")
        counts.boxes_written += 1
    return lines


def _place(src: Path, dst: Path, link: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    if link == "symlink":
        os.symlink(src.resolve(), dst)
    elif link == "hardlink":
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def _clear_previous(out: Path) -> None:
    """Remove an earlier prepare's images/ and labels/ (never anything else)."""
    data = out / "data.yaml"
    if not out.exists() or not any(out.iterdir()):
        return
    if not (data.is_file() and MARKER in data.read_text(encoding="utf-8", errors="replace")):
        raise MertoolError(
            f"{out} is not empty and is not an earlier 'mertool detector prepare' output",
            hint="give a new or empty folder with -o",
        )
    for sub in ("images", "labels"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)


def write_data_yaml(out: Path, splits: list[str], root: Path, counts: dict[str, SplitCounts]) -> Path:
    import yaml

    val = "val" if "val" in splits else splits[0]
    doc = {
        "path": str(out.resolve()),
        "train": "images/train" if "train" in splits else f"images/{val}",
        "val": f"images/{val}",
        "nc": 1,
        "names": {0: "face"},
        "widerface_root": str(Path(root).resolve()),
        MARKER: {k: asdict(v) for k, v in counts.items()},
    }
    path = out / "data.yaml"
    text = "# written by 'mertool detector prepare'; an ultralytics dataset file\n"
    path.write_text(text + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def prepare_widerface(
    root: str | Path,
    out: str | Path,
    splits: tuple[str, ...] = ("train", "val"),
    link: str = "symlink",
    min_size: float = 0,
) -> PrepareReport:
    """Convert the WIDER FACE tree at ``root`` into YOLO format under ``out``; see the module doc."""
    from mertool.console import track
    from mertool.datasets.widerface import read_widerface

    if link not in LINK_MODES:
        raise MertoolError(f"unknown link mode {link!r}", hint=f"one of {', '.join(LINK_MODES)}")
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder", hint="give the folder that holds wider_face_split/")
    read = read_widerface(root)
    have = {s.extra.get("split") for s in read.samples}
    wanted = [s for s in splits if s in have]
    missing = [s for s in splits if s not in have]
    if not wanted:
        raise DatasetError(
            f"{root}: none of the splits {', '.join(splits)} has annotated images",
            hint="; ".join(str(q) for q in read.quirks[:3])
            or "check wider_face_split/ and WIDER_train/images/",
        )
    if "test" in wanted:
        raise MertoolError(
            "the test split has no boxes to convert", hint="prepare train and val (the default)"
        )
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    # the reader's box-level warnings are what the counts below report; keep the others
    notes = [str(q) for q in read.quirks if "marked keep=False" not in q.message]
    report = PrepareReport(out, out / "data.yaml", root, quirks=notes)
    for split in missing:
        report.quirks.append(f"split {split}: no annotated images under {root}; not written")
    for split in wanted:
        counts = SplitCounts()
        samples = [s for s in read.samples if s.extra.get("split") == split]
        for sample in track(samples, f"prepare {split}"):
            image = sample.frames[0]
            width, height = image_size(image)
            lines = yolo_lines(
                sample.extra["boxes"], sample.extra["attributes"], width, height, counts, min_size
            )
            rel = Path(sample.subject) / image.name
            _place(image, out / "images" / split / rel, link)
            label = out / "labels" / split / rel.with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
            counts.images += 1
            counts.zero_face_images += int(not lines)
        report.splits[split] = counts
    write_data_yaml(out, wanted, root, report.splits)
    return report
