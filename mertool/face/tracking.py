"""Per-clip face tracking: detect once, follow with landmarks, re-detect only when the face is lost.

Detection costs 30-1600 ms a frame; the 68-point shape predictor costs 0.7 ms. A micro-expression
clip holds one face that barely moves, so :class:`FaceTracker` runs the detector on the first
frame only and finds every later frame's landmarks inside a box derived from the previous
frame's landmarks (:func:`mertool.face.landmarks.predictor_box`, shaped like a HOG detection so
the predictor sees what it was trained on).

A frame counts as **lost**, and the detector runs again on it, when its new landmarks

* leave the image (more than ``max_outside`` of the points outside it),
* jump (mean displacement from the previous frame over ``max_jump`` inter-ocular distances),
* change scale (inter-ocular distance changes by more than a factor ``max_scale``), or
* no longer look like the face that was detected: the frame is resampled into a small
  ``patch`` x ``patch`` gray patch normalised by its landmarks (mapped onto the first frame's
  landmarks), and its normalised correlation with the first frame's patch falls under
  ``min_similarity`` (0.8). This is the predictor's missing confidence score: on a tracked face
  the patches of a clip correlate at 0.9 and more whatever the expression (0.92-1.0 on the
  synthetic clips, blurred sunglasses included); landmarks left behind by a sudden camera jerk
  score about 0.6, a blank or noise frame about 0.

A re-detected face must correlate at least ``min_match`` (0.5) with the first frame (the same
person, not a face in the background); when it does not, or nothing is detected, the clip is
reported lost at that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mertool.face.alignment import eye_similarity
from mertool.face.landmarks import eye_centers, interocular, landmarks68, predictor_box


@dataclass(frozen=True)
class TrackerConfig:
    max_jump: float = 0.5  # mean landmark displacement between frames, in inter-ocular distances
    max_scale: float = 1.3  # largest inter-ocular distance ratio between consecutive frames
    max_outside: float = 0.25  # largest fraction of landmarks outside the image
    min_similarity: float = 0.8  # below this correlation with the first frame's patch: re-detect
    min_match: float = 0.5  # a re-detected face must correlate at least this much (the same face)
    patch: int = 32  # side of the appearance patch


class FaceNotFound(Exception):
    """No (matching) face in a frame: ``why`` says which check failed."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


@dataclass
class FrameFace:
    """The face in one frame: box (4,) and landmarks (68, 2) float32, and whether it was detected."""

    box: np.ndarray
    landmarks: np.ndarray
    redetected: bool
    similarity: float


def appearance_patch(
    gray: np.ndarray,
    points: np.ndarray,
    size: int,
    reference: np.ndarray | None = None,
    frame_matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Zero-mean, unit-norm float32 (size, size) patch of the face, normalised by its landmarks.

    The frame is mapped onto ``reference`` landmarks (68, 2) by the least-squares similarity of
    all 68 points (steadier than two eye centres on a blurred face), then framed by the
    reference's eyes (``frame_matrix``, computed from them when not given); without
    ``reference`` the face's own landmarks are the reference.
    """
    import cv2

    from mertool.face.alignment import compose, fit_similarity

    ref = points if reference is None else reference
    m = frame_matrix if frame_matrix is not None else eye_similarity(*eye_centers(ref), 2 * size)
    if reference is not None:
        m = compose(m, fit_similarity(points, reference))
    # a plain bilinear warp to twice the size, then an area average: cheap and alias-free enough
    big = cv2.warpAffine(
        gray, m, (2 * size, 2 * size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    patch = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-6 else patch


def outside_fraction(points: np.ndarray, width: int, height: int) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(np.mean((x < 0) | (y < 0) | (x >= width) | (y >= height)))


class FaceTracker:
    """Follows one face through a clip. Call :meth:`update` once per frame, in order.

    ``detector`` is a :class:`mertool.face.detectors.Detector`. Frames are given as the gray
    image (for the shape predictor) and, optionally, the colour image the detector should see
    (``color_bgr``, as OpenCV decodes it); the gray image is used when it is None.
    """

    def __init__(self, detector, config: TrackerConfig | None = None):
        self.detector = detector
        self.config = config or TrackerConfig()
        self.previous: np.ndarray | None = None
        self.reference: np.ndarray | None = None  # the first frame's appearance patch
        self.reference_points: np.ndarray | None = None  # and its landmarks
        self._patch_matrix: np.ndarray | None = None  # frames the reference's eyes in the patch
        self.anchor_box: np.ndarray | None = None  # the box the last detection's landmarks came from
        self.anchor_points: np.ndarray | None = None  # and those landmarks

    # -- checks
    def similarity(self, gray: np.ndarray, points: np.ndarray) -> float:
        if self.reference is None:
            return 1.0
        patch = appearance_patch(gray, points, self.config.patch, self.reference_points, self._patch_matrix)
        return float((patch * self.reference).sum())

    def lost_because(
        self, gray: np.ndarray, points: np.ndarray, motion: bool = True
    ) -> tuple[str | None, float]:
        """Why the landmarks ``points`` of this frame do not follow the face (None: they do), and
        the appearance similarity. ``motion=False`` is the check of a re-detected face: no jump
        or scale checks (it may have moved far), and the looser ``min_match`` similarity."""
        cfg = self.config
        h, w = gray.shape[:2]
        outside = outside_fraction(points, w, h)
        if outside > cfg.max_outside:
            return f"{outside:.0%} of the landmarks left the image", 0.0
        if motion and self.previous is not None:
            prev_iod = max(interocular(self.previous), 1e-6)
            jump = float(np.linalg.norm(points - self.previous, axis=1).mean()) / prev_iod
            if jump > cfg.max_jump:
                return f"landmarks jumped {jump:.2f} inter-ocular distances", 0.0
            ratio = interocular(points) / prev_iod
            if not (1 / cfg.max_scale <= ratio <= cfg.max_scale):
                return f"face scale changed by {ratio:.2f}x", 0.0
        sim = self.similarity(gray, points)
        if sim < (cfg.min_similarity if motion else cfg.min_match):
            return f"the face no longer matches the first frame (similarity {sim:.2f})", sim
        return None, sim

    # -- detection
    def detect(self, gray: np.ndarray, color_bgr: np.ndarray | None) -> np.ndarray:
        """Landmarks (68, 2) of the detected face best matching the clip; raises FaceNotFound."""
        import cv2

        image = gray if color_bgr is None else cv2.cvtColor(color_bgr, cv2.COLOR_BGR2RGB)
        found = self.detector.detect(image)
        if not found:
            raise FaceNotFound(f"no face found by the {self.detector.name} detector")
        candidates = [box for box, _ in found]
        if self.previous is not None:  # the face nearest to where it was
            centre = self.previous.mean(axis=0)
            candidates.sort(
                key=lambda b: float(np.hypot((b[0] + b[2]) / 2 - centre[0], (b[1] + b[3]) / 2 - centre[1]))
            )
        points = landmarks68(gray, candidates[0])
        # re-centre on a predictor-shaped box: other detectors' boxes have other proportions
        self.anchor_box = predictor_box(points)
        self.anchor_points = landmarks68(gray, self.anchor_box)
        return self.anchor_points

    def follow_box(self) -> np.ndarray:
        """The box for the next frame: the detection's box moved as the face moved since then
        (the similarity of all 68 points, detection frame -> previous frame), so the predictor
        sees the same framing as on the detected frame instead of a box re-derived from its own
        output, which drifts on blurred or low-contrast faces."""
        from mertool.face.alignment import fit_similarity, transform_points

        m = fit_similarity(self.anchor_points, self.previous)
        x0, y0, x1, y1 = self.anchor_box
        corners = transform_points(np.array([[x0, y0], [x1, y1], [x0, y1], [x1, y0]], np.float32), m)
        centre = corners.mean(axis=0)
        half = float(np.linalg.norm(corners[1] - corners[0])) / (2 * np.sqrt(2))
        return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half], np.float32)

    # -- per frame
    def update(self, gray: np.ndarray, color_bgr: np.ndarray | None = None) -> FrameFace:
        """The face in the next frame of the clip; raises :class:`FaceNotFound` when it is gone."""
        redetected = False
        if self.previous is None:
            points = self.detect(gray, color_bgr)
            self.reference = appearance_patch(gray, points, self.config.patch)
            self.reference_points = points
            self._patch_matrix = eye_similarity(*eye_centers(points), 2 * self.config.patch)
            sim = 1.0
        else:
            points = landmarks68(gray, self.follow_box())
            why, sim = self.lost_because(gray, points)
            if why is not None:
                try:
                    points = self.detect(gray, color_bgr)
                except FaceNotFound as exc:
                    raise FaceNotFound(f"face lost ({why}) and {exc.why}") from None
                again, sim = self.lost_because(gray, points, motion=False)
                if again is not None:
                    raise FaceNotFound(f"face lost ({why}); the re-detected face does not match: {again}")
                redetected = True
        self.previous = points
        return FrameFace(predictor_box(points), points, redetected, sim)
