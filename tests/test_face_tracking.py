"""Per-clip tracking: one detection, landmarks after that, re-detection only when the face is lost."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fixtures.face_clips import astronaut_bgr, face_frame, frame_matrix

from mertool.face import alignment as al
from mertool.face.detectors import get_detector
from mertool.face.landmarks import eye_centers
from mertool.face.tracking import FaceNotFound, FaceTracker


class CountingDetector:
    """dlib HOG, counting the frames it ran on."""

    name = "counting"

    def __init__(self):
        self.inner = get_detector("dlib-hog")
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return self.inner.detect(image)


def run(frames):
    det = CountingDetector()
    tracker = FaceTracker(det)
    faces = [tracker.update(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), f) for f in frames]
    return det, faces


@pytest.fixture(scope="module")
def photo_eyes():
    img = astronaut_bgr()
    face = FaceTracker(get_detector("dlib-hog")).update(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), img)
    return np.stack(eye_centers(face.landmarks))


def test_a_steady_clip_is_detected_once(photo_eyes):
    poses = [(0.8 * np.sin(i / 3), 0.8 * np.cos(i / 4), 0.5 * np.sin(i / 5), 1.0) for i in range(12)]
    det, faces = run([face_frame(*p) for p in poses])
    assert det.calls == 1
    assert not any(f.redetected for f in faces)
    for pose, face in zip(poses, faces):  # and every frame's eyes are where the face really is
        truth = al.transform_points(photo_eyes, frame_matrix(*pose).astype(np.float32))
        assert np.abs(np.stack(eye_centers(face.landmarks)) - truth).max() < 2.0


def test_a_jump_is_redetected_on_that_frame_only(photo_eyes):
    poses = [(0.0, 0.0, 0.0, 1.0)] * 5 + [(0.0, 45.0, 20.0, 1.0)] * 5  # the camera jerks at frame 5
    det, faces = run([face_frame(*p) for p in poses])
    assert [i for i, f in enumerate(faces) if f.redetected] == [5]
    assert det.calls == 2
    truth = al.transform_points(photo_eyes, frame_matrix(*poses[5]).astype(np.float32))
    assert np.abs(np.stack(eye_centers(faces[5].landmarks)) - truth).max() < 2.0


def test_a_face_that_vanishes_is_reported_lost():
    frames = [face_frame() for _ in range(3)] + [np.full((240, 320, 3), 127, np.uint8)]
    with pytest.raises(FaceNotFound, match="no face found"):
        run(frames)


def test_another_face_does_not_pass_for_the_tracked_one():
    from pathlib import Path

    import matplotlib

    grace = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    small = cv2.resize(grace, None, fx=0.5, fy=0.5)[20:260]  # 240 rows, face ~110 px
    other = cv2.copyMakeBorder(small, 0, 0, 32, 32, cv2.BORDER_REFLECT)
    assert get_detector("dlib-hog").detect(cv2.cvtColor(other, cv2.COLOR_BGR2RGB)), "fixture: a findable face"
    with pytest.raises(FaceNotFound, match="does not match"):
        run([face_frame(), face_frame(), other])


def test_no_face_in_the_first_frame():
    with pytest.raises(FaceNotFound, match="no face found by the counting detector"):
        run([np.full((240, 320, 3), 90, np.uint8)])
