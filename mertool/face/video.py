"""One face through a long video: follow it, re-find it when it is lost, align every frame.

Clips are short and the face stage aligns each with one transform; a long video has head turns
and moments without a face, so here every frame gets its own similarity: the frame's stable
landmarks (eye corners, nose bridge; :data:`mertool.face.alignment.STABLE_POINTS`) fitted onto
the reference shape (the first frames' median), then the reference's eye alignment to an
``size`` x ``size`` grey face. Expressions barely move those points, so the alignment follows the
head, not the expression.

The face is the largest one in the first frame with a face (``face=1`` the second largest, ...);
afterwards the tracker (:class:`~mertool.face.tracking.FaceTracker`) follows it with landmarks
only and, when the checks say it is lost, detects again and keeps the face nearest to where it
was that still looks like it. While it is lost, detection is tried every ``retry`` frames. Lost
frames are marked (``valid`` False) and listed as gaps; the rest of the video is still aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from mertool.errors import SampleError


@dataclass
class VideoFaces:
    """Per-frame results, T = frames decoded. Lost frames: ``valid`` False, face all zero,
    landmarks NaN."""

    numbers: np.ndarray  # (T,) int64 frame numbers
    faces: np.ndarray  # (T, S, S) uint8 aligned grey faces
    landmarks: np.ndarray  # (T, 68, 2) float32 in the source frame
    valid: np.ndarray  # (T,) bool
    matrices: np.ndarray  # (T, 2, 3) float32 source -> aligned transform (NaN where lost)
    labels: list[str]  # (T,) the frame files (or VIDEO#N)
    reference_aligned: np.ndarray  # (68, 2) float32 reference shape in the aligned face
    frame_shape: tuple[int, int]
    redetected: list[int] = field(default_factory=list)  # frame numbers where the face was re-found
    gaps: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last) frame number lost, why
    faces_in_first: int = 0  # faces the detector saw where the face was first found

    @property
    def boxes(self) -> np.ndarray:
        """(T, 4) float32 x0, y0, x1, y1 of the landmarks (NaN where lost)."""
        lo = self.landmarks.min(axis=1)
        hi = self.landmarks.max(axis=1)
        return np.concatenate([lo, hi], axis=1)


class _Choose:
    """A detector wrapper that puts the ``index``-th largest face first (the first detection only)."""

    def __init__(self, detector, index: int):
        self.detector, self.index, self.name = detector, index, detector.name
        self.seen = 0
        self.used = False

    def detect(self, image):
        found = self.detector.detect(image)
        if self.used:
            return found
        self.seen = len(found)
        found = sorted(found, key=lambda f: -float((f[0][2] - f[0][0]) * (f[0][3] - f[0][1])))
        if self.index >= len(found):
            return []
        self.used = True
        return [found[self.index]] + [f for i, f in enumerate(found) if i != self.index]


def follow_video(
    frames: Iterable[tuple[int, str, np.ndarray | None]],
    detector,
    size: int = 128,
    face: int = 0,
    retry: int = 5,
    register: bool = True,
    video_id: str = "?",
    on_frame: Callable[[int], None] | None = None,
) -> VideoFaces:
    """Track, re-detect and align one face through ``frames`` ((number, label, BGR or grey uint8;
    None for a frame that could not be read, which becomes a gap)).

    Raises :class:`SampleError` naming the video when no frame has a face at all.
    """
    import cv2

    from mertool.face import alignment as al
    from mertool.face.tracking import FaceNotFound, FaceTracker

    chooser = _Choose(detector, face)
    tracker = FaceTracker(chooser)
    stable = list(al.STABLE_POINTS)
    numbers: list[int] = []
    faces: list[np.ndarray] = []
    points: list[np.ndarray] = []
    valid: list[bool] = []
    redetected: list[int] = []
    whys: dict[int, str] = {}
    ref = eye_m = None
    template: Registration | None = None
    previous_m: np.ndarray | None = None
    lost_why: str | None = None
    lost_since = 0
    shape: tuple[int, int] | None = None
    nan = np.full((68, 2), np.nan, np.float32)
    nan_m = np.full((2, 3), np.nan, np.float32)
    mats: list[np.ndarray] = []
    labels: list[str] = []
    blank = np.zeros((size, size), np.uint8)

    def no_face(number: int) -> None:
        numbers.append(int(number))
        faces.append(blank)
        points.append(nan)
        mats.append(nan_m)
        valid.append(False)

    for i, (number, label, image) in enumerate(frames):
        if on_frame is not None:
            on_frame(i)
        labels.append(str(label))
        if image is None:  # a frame that could not be read: a gap, not the end of the video
            whys.setdefault(i, f"cannot read {label}")
            no_face(number)
            continue
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if shape is None:
            shape = gray.shape[:2]
        elif gray.shape[:2] != shape:
            raise SampleError(
                video_id, f"frame {label} is {gray.shape[1]}x{gray.shape[0]}, not {shape[1]}x{shape[0]}"
            )
        found = None
        if lost_why is None or (i - lost_since) % retry == 0:
            try:
                found = tracker.update(gray, None if image.ndim == 2 else image)
            except FaceNotFound as exc:
                whys.setdefault(i, exc.why)
                if lost_why is None:
                    lost_why, lost_since = exc.why, i
        if found is None:
            no_face(number)
            continue
        numbers.append(int(number))
        if (lost_why is not None and ref is not None) or found.redetected:
            redetected.append(int(number))
        lost_why = None
        lm = found.landmarks
        if ref is None:
            ref = lm.copy()
            eye_m = al.clip_transform(lm[None], size)
        m = al.compose(eye_m, al.fit_similarity(lm[stable], ref[stable]))
        if register:
            if template is None:
                template = Registration(al.warp(gray, m, size), al.transform_points(ref, eye_m))
            # start from the previous frame's registration (the head moves little between two
            # frames); after a gap, from the landmarks
            start = m if previous_m is None or not valid[-1] else previous_m
            m = template.refine(gray, start, size, fallback=m)
            previous_m = m
        faces.append(al.warp(gray, m, size))
        mats.append(np.asarray(m, np.float32))
        points.append(lm.astype(np.float32))
        valid.append(True)
    if shape is None:
        raise SampleError(video_id, "the video has no frames")
    if ref is None:
        why = lost_why or "no face"
        raise SampleError(video_id, f"no face in any of its {len(numbers)} frames ({why})")
    return VideoFaces(
        np.asarray(numbers, np.int64),
        np.stack(faces),
        np.stack(points),
        np.asarray(valid, bool),
        np.stack(mats),
        labels,
        al.transform_points(ref, eye_m),
        shape,
        redetected,
        lost_runs(numbers, valid, whys),
        chooser.seen,
    )


class Registration:
    """Sub-pixel refinement of a frame's alignment against the first aligned face.

    Landmarks jitter by about a pixel from frame to frame on a noisy face, as much as a
    micro-expression moves; the enhanced correlation coefficient (OpenCV's ``findTransformECC``,
    Euclidean motion, on the blurred face inside the landmarks' hull) registers the whole face to
    a hundredth of a pixel and is insensitive to a change of exposure. The expression moves a
    small part of the face, so the registration follows the head. Where ECC does not converge
    the landmark alignment is kept.
    """

    BLUR = 1.0

    def __init__(self, face: np.ndarray, landmarks_aligned: np.ndarray):
        import cv2

        self.template = cv2.GaussianBlur(face.astype(np.float32), (0, 0), self.BLUR)
        mask = np.zeros(face.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(landmarks_aligned.astype(np.float32)).astype(np.int32), 255)
        self.mask = mask
        self.failed = 0

    def refine(
        self, gray: np.ndarray, m: np.ndarray, size: int, fallback: np.ndarray | None = None
    ) -> np.ndarray:
        """The (2, 3) source -> aligned transform ``m`` corrected so the face matches the template
        (``fallback``, default ``m``, where ECC does not converge)."""
        import cv2

        from mertool.face import alignment as al

        face = cv2.GaussianBlur(al.warp(gray, m, size).astype(np.float32), (0, 0), self.BLUR)
        w = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
        try:
            _, w = cv2.findTransformECC(self.template, face, w, cv2.MOTION_EUCLIDEAN, criteria, self.mask, 1)
        except cv2.error:
            self.failed += 1
            return m if fallback is None else fallback
        # face(w x) ~ template(x): the aligned pixel x comes from w x of the coarse face
        return al.compose(al.invert(w), m)


def lost_runs(numbers: list[int], valid: list[bool], whys: dict[int, str]) -> list[tuple[int, int, str]]:
    """``(first, last, why)`` frame numbers of every run of frames without the face."""
    runs: list[tuple[int, int, str]] = []
    start = None
    for i, ok in enumerate([*valid, True]):
        if not ok and start is None:
            start = i
        elif ok and start is not None:
            why = next((whys[j] for j in range(start, i) if j in whys), "face lost")
            runs.append((int(numbers[start]), int(numbers[i - 1]), why))
            start = None
    return runs
