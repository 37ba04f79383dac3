"""WIDER FACE as shipped -> the YOLO layout ultralytics trains on, with every dropped box counted.

Output (``OUT``)::

    OUT/images/{train,holdout,val}/<event>/<name>.jpg  symlinks to the WIDER images (or copies, hard links)
    OUT/labels/{train,holdout,val}/<event>/<stem>.txt  one line per face: "0 cx cy w h", normalised to [0, 1]
    OUT/data.yaml                                      ultralytics dataset file (nc 1, names {0: face})

Splits (DESIGN.md §3: a checkpoint is never chosen on the data it is scored on):

* ``holdout``: a fixed, seeded fraction of WIDER *train* (:func:`holdout_mask`, 10 % by default),
  held out of training; ultralytics validates on it (data.yaml ``val``) to keep ``best.pt``
  and to stop early;
* ``train``: the rest of WIDER train (data.yaml ``train``);
* ``val``: WIDER *val*, the **test** split (data.yaml ``test``) that ``detector eval`` scores and
  nothing else ever looks at. WIDER's official easy/medium/hard evaluation is on these images too.

Without a WIDER train split there is nothing to train or select on: an error, not a fallback to
the val images.

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
#: data.yaml key recording how the selection split was held out (absent: an older prepare)
HOLDOUT_KEY = "mertool_holdout"
HOLDOUT_BY = ("image", "event")
DEFAULT_HOLDOUT = 0.1
#: output folder of each role: WIDER train minus the holdout, the holdout, WIDER val (the test split)
TRAIN, HOLDOUT, TEST = "train", "holdout", "val"


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
    splits: dict[str, SplitCounts] = field(default_factory=dict)  # by output folder: train, holdout, val
    quirks: list[str] = field(default_factory=list)
    holdout: dict = field(default_factory=dict)  # fraction, seed, by, images, events

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "data_yaml": str(self.data_yaml),
            "widerface_root": str(self.root),
            "splits": {k: asdict(v) for k, v in self.splits.items()},
            "roles": ROLES,
            "holdout": self.holdout,
            "reader_warnings": self.quirks,
        }


#: what each output folder is for (printed by the CLI, in --json and in data.yaml)
ROLES = {
    TRAIN: "training: WIDER train minus the holdout",
    HOLDOUT: "checkpoint selection and early stopping (ultralytics' val): held out of WIDER train",
    TEST: "test: WIDER val, scored by 'detector eval' only",
}


def _hash_unit(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``key`` alone (same on every machine and order)."""
    import hashlib

    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_mask(images: list[str], fraction: float, seed: int = 0, by: str = "image") -> np.ndarray:
    """Which WIDER train images (``event/name.jpg``) are held out for checkpoint selection.

    ``by="image"``: the ``round(fraction * N)`` images (at least 1, at most N - 1) with the
    smallest seeded hash of their path, so every event keeps about the same share in training.
    ``by="event"``: whole event folders in seeded-hash order until that many images are held out
    (at least one folder; at least one left for training); no event is both trained and selected
    on, but the held-out events' scenes are then missing from training while WIDER val has them.
    Each image's draw depends on the seed and its own path only (not on the listing order).
    """
    if by not in HOLDOUT_BY:
        raise MertoolError(f"unknown holdout unit {by!r}", hint=f"one of {', '.join(HOLDOUT_BY)}")
    if not 0.0 < fraction < 1.0:
        raise MertoolError(
            f"--holdout {fraction}: the held-out fraction of WIDER train must be between 0 and 1",
            hint=f"e.g. {DEFAULT_HOLDOUT} (10 %)",
        )
    n = len(images)
    if n < 2:
        raise DatasetError(
            f"WIDER train has {n} image(s): too few to hold some out for checkpoint selection",
            hint="prepare the full WIDER_train (12,880 images)",
        )
    target = min(n - 1, max(1, round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    if by == "image":
        order = sorted(range(n), key=lambda i: (_hash_unit(seed, images[i]), images[i]))
        mask[order[:target]] = True
        return mask
    events: dict[str, list[int]] = {}
    for i, name in enumerate(images):
        events.setdefault(name.split("/", 1)[0], []).append(i)
    if len(events) < 2:
        raise DatasetError(
            "WIDER train has one event folder: holding out whole events would leave nothing to train on",
            hint="use --holdout-by image",
        )
    for k, event in enumerate(sorted(events, key=lambda e: (_hash_unit(seed, e), e))):
        if k == len(events) - 1 or (k > 0 and mask.sum() >= target):
            break
        mask[events[event]] = True
    return mask


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


def write_data_yaml(out: Path, root: Path, counts: dict[str, SplitCounts], holdout: dict) -> Path:
    """data.yaml: ``train`` the training images, ``val`` the holdout ultralytics selects
    ``best.pt`` on, ``test`` WIDER val (only when it was prepared) for ``detector eval``."""
    import yaml

    doc = {
        "path": str(out.resolve()),
        "train": f"images/{TRAIN}",
        "val": f"images/{HOLDOUT}",
        **({"test": f"images/{TEST}"} if TEST in counts else {}),
        "nc": 1,
        "names": {0: "face"},
        "widerface_root": str(Path(root).resolve()),
        HOLDOUT_KEY: holdout,
        MARKER: {k: asdict(v) for k, v in counts.items()},
    }
    path = out / "data.yaml"
    text = (
        "# written by 'mertool detector prepare'; an ultralytics dataset file\n"
        f"# train: WIDER train minus the holdout; val: the holdout ({holdout['fraction']:g} of WIDER train, "
        "checkpoint selection); test: WIDER val, scored by 'mertool detector eval' only\n"
    )
    path.write_text(text + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def prepare_widerface(
    root: str | Path,
    out: str | Path,
    splits: tuple[str, ...] = ("train", "val"),
    link: str = "symlink",
    min_size: float = 0,
    holdout: float = DEFAULT_HOLDOUT,
    holdout_seed: int = 0,
    holdout_by: str = "image",
) -> PrepareReport:
    """Convert the WIDER FACE tree at ``root`` into YOLO format under ``out``; see the module doc.

    ``splits`` are WIDER's (``train`` is required); ``holdout`` of WIDER train (by ``holdout_by``,
    drawn with ``holdout_seed``, :func:`holdout_mask`) becomes the selection split."""
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
    if "train" not in wanted:
        raise DatasetError(
            f"{root}: no WIDER train split with annotated images. The detector is trained on WIDER "
            "train and its checkpoint chosen on a part of train held out; WIDER val is the test split "
            "'detector eval' scores, and is never trained or selected on",
            hint="put WIDER_train/images/ and wider_face_split/wider_face_train_bbx_gt.txt under the root",
        )
    train_samples = [s for s in read.samples if s.extra.get("split") == "train"]
    names = [f"{s.subject}/{s.frames[0].name}" for s in train_samples]
    held = holdout_mask(names, holdout, holdout_seed, holdout_by)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    # the reader's box-level warnings are what the counts below report; keep the others
    notes = [str(q) for q in read.quirks if "marked keep=False" not in q.message]
    report = PrepareReport(out, out / "data.yaml", root, quirks=notes)
    for split in missing:
        report.quirks.append(f"split {split}: no annotated images under {root}; not written")
    if "val" not in wanted:
        report.quirks.append("no WIDER val: there is no test split, so 'detector eval' has nothing to score")
    held_events = sorted({names[i].split("/", 1)[0] for i in np.flatnonzero(held)})
    report.holdout = {
        "fraction": float(holdout),
        "seed": int(holdout_seed),
        "by": holdout_by,
        "images": int(held.sum()),
        "events": len(held_events),
    }
    jobs = [(TRAIN if not h else HOLDOUT, s) for s, h in zip(train_samples, held)]
    if "val" in wanted:
        jobs += [(TEST, s) for s in read.samples if s.extra.get("split") == "val"]
    for folder in (TRAIN, HOLDOUT, TEST):
        samples = [s for f, s in jobs if f == folder]
        if not samples:
            continue
        counts = SplitCounts()
        for sample in track(samples, f"prepare {folder}"):
            image = sample.frames[0]
            width, height = image_size(image)
            lines = yolo_lines(
                sample.extra["boxes"], sample.extra["attributes"], width, height, counts, min_size
            )
            rel = Path(sample.subject) / image.name
            _place(image, out / "images" / folder / rel, link)
            label = out / "labels" / folder / rel.with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
            counts.images += 1
            counts.zero_face_images += int(not lines)
        report.splits[folder] = counts
    if report.splits[HOLDOUT].boxes_written == 0:
        report.quirks.append(
            f"the holdout ({report.holdout['images']} image(s)) has no face left: ultralytics cannot "
            "choose a checkpoint on it; prepare again with another --holdout-seed or a larger --holdout"
        )
    write_data_yaml(out, root, report.splits, report.holdout)
    return report


def check_selection(data: Path) -> dict:
    """The parsed data.yaml, after checking that the split ultralytics selects checkpoints on
    (``val``) is not the one scored (``test``) and that a mertool prepare holds WIDER val out of
    both; a clear error otherwise (DESIGN.md §3)."""
    import yaml

    doc = yaml.safe_load(Path(data).read_text(encoding="utf-8")) or {}
    if MARKER in doc and HOLDOUT_KEY not in doc:
        raise MertoolError(
            f"{data} was written by an older 'mertool detector prepare': its val split is WIDER val, "
            "the split 'detector eval' scores, so best.pt would be chosen on the test data",
            hint=f"prepare again (mertool detector prepare WIDER_ROOT -o {Path(data).parent}): it holds "
            "part of WIDER train out for selection; a cached 'make table-000-*' folder must be removed",
        )
    base = Path(doc.get("path") or Path(data).parent)

    def where(key: str) -> list[Path]:
        value = doc.get(key)
        items = value if isinstance(value, list) else ([value] if value else [])
        return [(base / str(v)).resolve() for v in items]

    if not where("train"):
        raise MertoolError(
            f"{data} names no train split", hint="give the data.yaml of 'mertool detector prepare'"
        )
    if not where("val"):
        raise MertoolError(
            f"{data} names no val split to choose the checkpoint on",
            hint="give the data.yaml of 'mertool detector prepare' (val: a holdout of WIDER train)",
        )
    shared = set(where("val")) & set(where("test"))
    if shared:
        raise MertoolError(
            f"{data}: the val split (checkpoint selection) and the test split are the same folder "
            f"({', '.join(map(str, sorted(shared)))}); a checkpoint chosen on the test data overstates it",
            hint="point val at images held out of training and test at images used for nothing else",
        )
    return doc
