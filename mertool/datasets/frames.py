"""Frame files: finding them in a clip folder, numbering them, and decoding them safely.

Frames are numbered by the **last integer in the file name** (``img46.jpg`` -> 46,
``006_05562.jpg`` -> 5562, ``reg_image000101.bmp`` -> 101, ``S005_001_00000011.png`` -> 11), never
by list position, because clip folders may start anywhere and may have gaps (frame drops).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mertool.errors import SampleError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
_LAST_INT = re.compile(r"(\d+)(?!.*\d)")
#: The largest frame number (frame numbers are stored as int32); a longer run of digits in a file
#: name makes it a stray file, not a frame.
MAX_FRAME = 2**31 - 1


def frame_number(path: str | Path) -> int | None:
    """The last integer in the file's stem, or None when it has none (or one beyond :data:`MAX_FRAME`)."""
    m = _LAST_INT.search(Path(path).stem)
    n = int(m.group(1)) if m else None
    return n if n is not None and n <= MAX_FRAME else None


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("._")


def list_frames(folder: Path, prefix: str | None = None) -> tuple[list[Path], list[int], list[Path]]:
    """Image files in ``folder`` sorted by frame number.

    Returns ``(frames, numbers, strays)``: ``strays`` are non-image files and images without a
    number (``Desktop - Shortcut.lnk``, ``.DS_Store``), for the reader to report as quirks.
    ``prefix`` keeps only names starting with it (``reg_`` for cropped CASME II frames).
    """
    frames: list[tuple[int, str]] = []
    strays: list[Path] = []
    if not folder.is_dir():
        return [], [], []
    # one scandir per clip folder; entry types come from the listing (no stat per file), and
    # names are parsed as strings: a Path is made once per frame, at the end
    with os.scandir(folder) as it:
        entries = [(e.name, e.is_dir()) for e in it]
    for name, is_dir in entries:
        if is_dir:
            continue
        dot = name.rfind(".")
        stem, suffix = (name[:dot], name[dot:].lower()) if dot > 0 else (name, "")
        m = _LAST_INT.search(stem) if suffix in IMAGE_SUFFIXES and not name.startswith("._") else None
        if m is not None and int(m.group(1)) > MAX_FRAME:  # a name, not a frame number (int32 arrays)
            m = None
        if m is None or (prefix is not None and not name.startswith(prefix)):
            strays.append(folder / name)
        else:
            frames.append((int(m.group(1)), name))
    frames.sort()
    return [folder / name for _, name in frames], [n for n, _ in frames], sorted(strays)


def list_dir(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(subfolders, files)`` of ``folder``, each sorted by name; one scandir, no stat per entry.

    Empty lists when ``folder`` is not a folder. Hidden entries (``.DS_Store``, ``._x``) count as files.
    """
    dirs: list[Path] = []
    files: list[Path] = []
    if not folder.is_dir():
        return dirs, files
    with os.scandir(folder) as it:
        for e in it:
            (dirs if e.is_dir() else files).append(folder / e.name)
    return sorted(dirs), sorted(files)


def describe_numbers(numbers: Iterable[int], limit: int = 8) -> str:
    """Frame numbers as short ranges for a message: ``[5, 6, 7, 9]`` -> ``"5-7, 9"``."""
    nums = sorted(set(numbers))
    spans: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        spans.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    if len(spans) > limit:
        return ", ".join(spans[:limit]) + f", ... ({len(nums)} in all)"
    return ", ".join(spans)


def missing_spans(numbers: Iterable[int], first: int | None, last: int | None) -> list[tuple[int, int]]:
    """Runs ``(a, b)`` of frame numbers absent from ``numbers`` inside ``first..last`` (inclusive).

    Work and memory grow with the frames on disk, never with ``last - first``: a sheet may hold
    a typo such as an offset of 10**12 (found by fuzzing; listing every number ran out of memory)."""
    if first is None or last is None or last < first:
        return []
    spans: list[tuple[int, int]] = []
    prev = first - 1
    for n in sorted({n for n in numbers if first <= n <= last}):
        if n > prev + 1:
            spans.append((prev + 1, n - 1))
        prev = n
    if prev < last:
        spans.append((prev + 1, last))
    return spans


def missing_numbers(
    numbers: Iterable[int], first: int | None, last: int | None, limit: int | None = None
) -> list[int]:
    """Frame numbers absent from ``numbers`` inside ``first..last`` (inclusive); at most ``limit``."""
    out: list[int] = []
    for a, b in missing_spans(numbers, first, last):
        for n in range(a, b + 1):
            if limit is not None and len(out) >= limit:
                return out
            out.append(n)
    return out


def _describe_spans(spans: list[tuple[int, int]], limit: int = 8) -> str:
    text = [str(a) if a == b else f"{a}-{b}" for a, b in spans[:limit]]
    if len(spans) > limit:
        total = sum(b - a + 1 for a, b in spans)
        return ", ".join(text) + f", ... ({total} in all)"
    return ", ".join(text)


def gap_message(numbers: Iterable[int], first: int | None, last: int | None) -> str | None:
    """A quirk message when frames inside ``first..last`` are absent from ``numbers``; else None.

    When none of ``first..last`` is on disk the message says so once, instead of listing every
    number (a sheet whose numbers do not match the file names, e.g. clip-relative numbering).
    """
    nums = sorted(set(numbers))
    spans = missing_spans(nums, first, last)
    if not spans:
        return None
    if spans == [(first, last)]:
        have = f"frames on disk: {describe_numbers(nums)}" if nums else "no frames on disk"
        return f"none of the frames {first}..{last} is on disk ({have})"
    return f"frame(s) {_describe_spans(spans)} missing inside {first}..{last}"


def check_clip_frames(
    numbers: list[int], onset: int | None, apex: int | None, offset: int | None
) -> list[str]:
    """Problems of one clip's frame numbers against its annotation, as messages (empty: none).

    Reports frames missing inside onset..offset (a blank onset/offset falls back to the first/last
    frame on disk), an offset before the onset, and an apex outside onset..offset.
    """
    if not numbers:
        return ["no frames"]
    if onset is not None and offset is not None and offset < onset:
        return [f"offset {offset} before onset {onset}"]
    problems = []
    first = onset if onset is not None else numbers[0]
    last = offset if offset is not None else numbers[-1]
    gap = gap_message(numbers, first, last)
    if gap:
        problems.append(f"{gap} (onset..offset)")
    if apex is not None and onset is not None and offset is not None and not onset <= apex <= offset:
        problems.append(f"apex {apex} outside onset..offset {onset}..{offset}")
    return problems


def read_image(path: str | Path, sample_id: str = "?", gray: bool = False) -> np.ndarray:
    """Decode one frame to uint8 RGB (H, W, 3), or (H, W) with ``gray``.

    Raises :class:`~mertool.errors.SampleError` naming the file for a missing or corrupt image.
    """
    import cv2

    path = Path(path)
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise SampleError(sample_id, f"frame file missing: {path}")
    if path.suffix.lower() in (".jpg", ".jpeg") and data.size and b"\xff\xd9" not in data[-4096:].tobytes():
        # OpenCV decodes a JPEG cut short without a word, filling the rest with gray
        raise SampleError(sample_id, f"truncated JPEG (no end-of-image marker): {path}")
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    try:
        img = cv2.imdecode(data, flag) if data.size else None
    except cv2.error:  # a header claiming an impossible size (found by fuzzing BMP bytes)
        img = None
    if img is None:
        raise SampleError(sample_id, f"cannot decode image (corrupt or truncated): {path}")
    if not gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def read_clip_folder(
    folder: Path, root: Path, prefix: str | None = None
) -> tuple[list[Path], list[int], list]:
    """A clip folder's frames and numbers (:func:`list_frames`), with a Quirk for each stray file
    in it (a ``Desktop - Shortcut.lnk``, a ``.DS_Store``), named relative to the dataset ``root``."""
    from mertool.datasets.base import Quirk, relpath

    frames, numbers, strays = list_frames(folder, prefix)
    quirks = [Quirk(relpath(s, root), "stray file in a clip folder (not a frame); ignored") for s in strays]
    return frames, numbers, quirks
