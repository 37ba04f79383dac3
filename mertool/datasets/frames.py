"""Frame files: finding them in a clip folder, numbering them, and decoding them safely.

Frames are numbered by the **last integer in the file name** (``img46.jpg`` -> 46,
``006_05562.jpg`` -> 5562, ``reg_image000101.bmp`` -> 101, ``S005_001_00000011.png`` -> 11), never
by list position, because clip folders may start anywhere and may have gaps (frame drops).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mertool.errors import SampleError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
_LAST_INT = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: str | Path) -> int | None:
    """The last integer in the file's stem, or None when it has none."""
    m = _LAST_INT.search(Path(path).stem)
    return int(m.group(1)) if m else None


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("._")


def list_frames(folder: Path, prefix: str | None = None) -> tuple[list[Path], list[int], list[Path]]:
    """Image files in ``folder`` sorted by frame number.

    Returns ``(frames, numbers, strays)``: ``strays`` are non-image files and images without a
    number (``Desktop - Shortcut.lnk``, ``.DS_Store``), for the reader to report as quirks.
    ``prefix`` keeps only names starting with it (``reg_`` for cropped CASME II frames).
    """
    frames: list[tuple[int, Path]] = []
    strays: list[Path] = []
    if not folder.is_dir():
        return [], [], []
    for p in folder.iterdir():
        if p.is_dir():
            continue
        if not is_image(p) or (prefix is not None and not p.name.startswith(prefix)):
            strays.append(p)
            continue
        n = frame_number(p)
        if n is None:
            strays.append(p)
        else:
            frames.append((n, p))
    frames.sort()
    return [p for _, p in frames], [n for n, _ in frames], sorted(strays)


def missing_numbers(numbers: Iterable[int], first: int | None, last: int | None) -> list[int]:
    """Frame numbers absent from ``numbers`` inside ``first..last`` (inclusive)."""
    if first is None or last is None or last < first:
        return []
    have = set(numbers)
    return [n for n in range(first, last + 1) if n not in have]


def read_image(path: str | Path, sample_id: str = "?", gray: bool = False) -> np.ndarray:
    """Decode one frame to uint8 RGB (H, W, 3), or (H, W) with ``gray``.

    Raises :class:`~mertool.errors.SampleError` naming the file for a missing or corrupt image.
    """
    import cv2

    path = Path(path)
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise SampleError(sample_id, f"frame file missing: {path}")
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    img = cv2.imdecode(data, flag) if data.size else None
    if img is None:
        raise SampleError(sample_id, f"cannot decode image (corrupt or truncated): {path}")
    if not gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img
