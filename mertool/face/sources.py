"""Where a clip's frames come from: a dataset's frame files, a folder of frames, or a video file.

``detect-faces`` takes, besides a dataset root, two ad-hoc inputs, each one sample:

* a **folder of frames**: id ``frames/<folder>/<folder>``, subject and clip = the folder's name;
  frames ordered by the last integer in their names (as datasets number them), or by name when
  the names hold no numbers (then numbered 1, 2, ... in that order);
* a **video file** (anything OpenCV's ``VideoCapture`` opens): id ``video/<stem>/<stem>``,
  frames numbered 0, 1, 2, ... in decoding order, fps from the container. Frames are decoded
  one at a time while the face is followed (memory stays bounded by one frame), and recorded in
  ``frame_paths`` as ``VIDEO#N``.

:func:`read_frame` decodes one frame file and names the file in every error (missing, empty,
corrupt, truncated JPEG).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mertool.errors import MertoolError, SampleError

if TYPE_CHECKING:  # imported lazily below: worker processes need no dataset readers
    from mertool.datasets.base import Sample

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv"})
_JPEG = frozenset({".jpg", ".jpeg"})
_JPEG_EOI = b"\xff\xd9"


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def has_frames(folder: Path) -> bool:
    """True when ``folder`` directly holds image files."""
    from mertool.datasets.frames import is_image

    return folder.is_dir() and any(p.is_file() and is_image(p) for p in folder.iterdir())


def read_frame(path: str | Path, sample_id: str = "?", gray: bool = False) -> np.ndarray:
    """Decode one frame file: uint8 BGR (H, W, 3) as OpenCV decodes it, or (H, W) with ``gray``.

    Raises :class:`SampleError` naming the file when it is missing, empty, not an image, or a
    JPEG cut short (OpenCV would decode a truncated JPEG silently, filling the rest with gray).
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise SampleError(sample_id, f"frame file missing: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise SampleError(sample_id, f"frame file is empty: {path}")
    if path.suffix.lower() in _JPEG and _JPEG_EOI not in data[-4096:].tobytes():
        raise SampleError(sample_id, f"truncated JPEG (no end-of-image marker): {path}")
    try:
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    except cv2.error:  # a header claiming an impossible size (found by fuzzing BMP bytes)
        img = None
    if img is None:
        raise SampleError(sample_id, f"cannot decode image (corrupt or not an image): {path}")
    return img


def folder_sample(folder: str | Path) -> Sample:
    """One sample from a folder of frames (see the module docstring)."""
    from mertool.datasets.base import Sample
    from mertool.datasets.frames import frame_number, is_image, list_frames

    folder = Path(folder)
    frames, numbers, strays = list_frames(folder)
    unnumbered = sorted(p for p in strays if is_image(p) and frame_number(p) is None)
    if not frames and unnumbered:
        frames, numbers = unnumbered, list(range(1, len(unnumbered) + 1))
    if not frames:
        raise MertoolError(
            f"{folder} holds no image frames",
            hint="give a folder of .jpg/.png/.bmp frames, a video or a dataset root",
        )
    if len(set(numbers)) != len(numbers):
        dup = sorted({n for n in numbers if numbers.count(n) > 1})[:3]
        raise MertoolError(
            f"{folder}: several frames share the frame number(s) {dup} (the last integer in their names)",
            hint="keep one clip per folder, with frame numbers in the file names",
        )
    name = folder.resolve().name
    return Sample(
        id=f"frames/{name}/{name}",
        dataset="frames",
        subject=name,
        clip=name,
        frames=tuple(frames),
        frame_numbers=tuple(numbers),
        fps=None,
        emotion=None,
    )


def video_sample(path: str | Path) -> Sample:
    """One sample from a video file; its frames are decoded later by :func:`iter_video`."""
    import cv2

    from mertool.datasets.base import Sample

    path = Path(path)
    if not path.is_file():
        raise MertoolError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MertoolError(
                f"{path}: OpenCV cannot open this video",
                hint="convert it (ffmpeg -i IN out.mp4) or extract its frames",
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
    finally:
        cap.release()
    stem = path.stem
    return Sample(
        id=f"video/{stem}/{stem}",
        dataset="video",
        subject=stem,
        clip=stem,
        frames=(),
        frame_numbers=(),
        fps=fps,
        emotion=None,
        extra={"video": str(path)},
    )


def video_frame_label(video: str | Path, number: int) -> str:
    return f"{video}#{number}"


def parse_video_label(label: str) -> tuple[str, int] | None:
    """``VIDEO#N`` -> (VIDEO, N) when VIDEO is a video file name, else None."""
    head, sep, tail = label.rpartition("#")
    if sep and tail.isascii() and tail.isdigit() and is_video(head):
        return head, int(tail)
    return None


@dataclass(frozen=True)
class ClipFrames:
    """The frames of one clip to decode: files with their numbers, or a video."""

    sample_id: str
    paths: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()
    video: str | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def iter_frames(self, gray: bool = False) -> Iterator[tuple[int, str, np.ndarray]]:
        """``(frame number, file or VIDEO#N, image)`` in order; BGR or gray uint8."""
        if self.video is not None:
            yield from iter_video(self.video, self.sample_id, gray)
            return
        for number, path in zip(self.numbers, self.paths):
            yield number, path, read_frame(path, self.sample_id, gray)


def iter_video(
    path: str, sample_id: str, gray: bool = False, times_ms: list[float] | None = None
) -> Iterator[tuple[int, str, np.ndarray]]:
    """Decode a video one frame at a time: ``(index, VIDEO#index, image)``; with ``times_ms`` (a
    list), each decoded frame's timestamp in milliseconds (OpenCV's ``CAP_PROP_POS_MSEC``) is
    appended to it (see :func:`frame_times`)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SampleError(sample_id, f"OpenCV cannot open the video {path}")
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if gray:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if times_ms is not None:
                times_ms.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
            yield index, video_frame_label(path, index), frame
            index += 1
        if index == 0:
            raise SampleError(sample_id, f"no frame could be decoded from the video {path}")
    finally:
        cap.release()


#: frame intervals further than this fraction from 1/fps make a video's frame rate variable
VFR_TOLERANCE = 0.25


def frame_times(times_ms: list[float], fps: float) -> tuple[np.ndarray, str | None]:
    """Each frame's time in seconds, and why the frame rate is variable (None when it is not).

    A video whose container says ``fps`` but whose frames are not ``1/fps`` apart (a phone's
    variable-rate recording) gets its times from the timestamps; a constant-rate video, or
    timestamps that are missing (all zero) or not increasing, keeps ``index / fps``.
    """
    n = len(times_ms)
    regular = np.arange(n) / float(fps)
    if n < 3:
        return regular, None
    t = np.asarray(times_ms, np.float64) / 1000.0
    steps = np.diff(t)
    if not (steps > 0).all():
        return regular, None
    off = np.abs(steps * fps - 1.0) > VFR_TOLERANCE
    if not off.any():
        return regular, None
    why = (
        f"variable frame rate: {int(off.sum())} of {len(steps)} frame intervals differ from 1/{fps:g} s "
        f"by more than {VFR_TOLERANCE:.0%} (from {steps.min() * 1000:.1f} to {steps.max() * 1000:.1f} ms); "
        "times are the video's own timestamps"
    )
    return t - t[0], why


def clip_frames(sample: Sample) -> ClipFrames:
    """The :class:`ClipFrames` of a dataset or ad-hoc :class:`Sample`."""
    video = sample.extra.get("video") if sample.extra else None
    if video:
        return ClipFrames(sample.id, video=str(video))
    return ClipFrames(
        sample.id, tuple(str(p) for p in sample.frames), tuple(int(n) for n in sample.frame_numbers)
    )


def clip_frames_from_paths(sample_id: str, paths: list[str], numbers: list[int]) -> ClipFrames:
    """:class:`ClipFrames` from a sample file's ``frame_paths`` / ``frame_numbers``."""
    parsed = [parse_video_label(p) for p in paths]
    if paths and all(parsed) and len({v for v, _ in parsed}) == 1:  # type: ignore[misc]
        return ClipFrames(sample_id, video=parsed[0][0])  # type: ignore[index]
    return ClipFrames(sample_id, tuple(paths), tuple(int(n) for n in numbers))
