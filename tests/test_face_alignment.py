"""Similarity alignment: exact geometry on numbers, and head rotation/shift removed on real frames."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.face_clips import astronaut_bgr, face_frame, frame_matrix, write_clip

from mertool.face import alignment as al
from mertool.face.landmarks import eye_centers


def test_eye_similarity_puts_the_eyes_level_at_the_chosen_place():
    left, right = np.array([100.0, 80.0]), np.array([140.0, 110.0])  # tilted 36.9 degrees, 50 px apart
    m = al.eye_similarity(left, right, 128)
    out = al.transform_points(np.stack([left, right]), m)
    target_y = al.EYE_Y * 128
    half = al.EYE_DISTANCE * 128 / 2
    np.testing.assert_allclose(out, [[64 - half, target_y], [64 + half, target_y]], atol=1e-3)
    assert m.dtype == np.float32 and m.shape == (2, 3)


def test_fit_similarity_recovers_a_known_transform_and_compose_inverts():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (20, 2))
    angle, scale, shift = np.deg2rad(12.0), 1.3, np.array([5.0, -7.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = al.fit_similarity(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-5)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-4)
    back = al.compose(al.invert(m), m)
    np.testing.assert_allclose(back, [[1, 0, 0], [0, 1, 0]], atol=1e-5)


@pytest.fixture(scope="module")
def true_eyes():
    """Eye centres of the unmoved astronaut photo (source pixels)."""
    import cv2

    from mertool.face.detectors import get_detector
    from mertool.face.tracking import FaceTracker

    img = astronaut_bgr()
    face = FaceTracker(get_detector("dlib-hog")).update(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), img)
    return np.stack(eye_centers(face.landmarks))


def _eyes_in_frame(true_eyes, pose):
    """Where the photo's eyes really are in a frame moved by ``pose``."""
    return al.transform_points(true_eyes, frame_matrix(*pose).astype(np.float32))


POSES = [(15.0, 10.0, -8.0, 1.0), (-10.0, -15.0, 5.0, 0.9), (6.0, 4.0, 12.0, 1.12), (0.0, 0.0, 0.0, 1.0)]


def test_alignment_removes_a_rotation_shift_and_scale(true_eyes):
    import cv2

    from mertool.face.detectors import get_detector
    from mertool.face.tracking import FaceTracker

    size = 128
    target = np.array(
        [[64 - al.EYE_DISTANCE * 64, al.EYE_Y * size], [64 + al.EYE_DISTANCE * 64, al.EYE_Y * size]]
    )
    faces = []
    for pose in POSES:
        frame = face_frame(*pose)
        face = FaceTracker(get_detector("dlib-hog")).update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), frame)
        m = al.clip_transform(face.landmarks[None], size)
        # the eyes' true positions (from the known motion, not from these landmarks) land on target
        landed = al.transform_points(_eyes_in_frame(true_eyes, pose), m)
        assert np.abs(landed - target).max() < 1.5, (pose, landed - target)
        faces.append(cv2.cvtColor(al.warp(frame, m, size), cv2.COLOR_BGR2GRAY).astype(np.float32))
    # and the aligned faces look alike whatever the pose (normalised correlation)
    ref = (faces[-1] - faces[-1].mean()).ravel()
    for face in faces[:-1]:
        f = (face - face.mean()).ravel()
        assert float(f @ ref / np.linalg.norm(f) / np.linalg.norm(ref)) > 0.95


def test_clip_alignment_is_one_transform_and_frame_alignment_follows_the_head(tmp_path, true_eyes):
    from mertool.face.sources import clip_frames, folder_sample
    from mertool.stages.detect_faces import FaceOptions, process_clip

    # a head turning and drifting across 10 frames: up to 8 degrees and 9 pixels
    poses = [(0.8 * i, 1.0 * i, -0.5 * i, 1.0) for i in range(10)]
    write_clip(tmp_path / "clip", range(10), "f{:03d}.png", poses)
    clip = clip_frames(folder_sample(tmp_path / "clip"))
    truth = np.stack([_eyes_in_frame(true_eyes, p) for p in poses])  # (T, 2, 2)

    per_clip = process_clip(clip, FaceOptions(align="clip"))
    assert per_clip["align_matrix"].shape == (2, 3)
    landed = al.transform_points(truth, per_clip["align_matrix"])
    # one transform: the head's own motion stays in the aligned frames (several pixels)
    assert np.abs(landed[-1] - landed[0]).max() > 3.0

    per_frame = process_clip(clip, FaceOptions(align="frame"))
    mats = per_frame["align_matrix"]
    assert mats.shape == (10, 2, 3)
    landed = np.stack([al.transform_points(t, m) for t, m in zip(truth, mats)])
    # per-frame alignment removes it: every frame's true eyes within about a pixel of the first's
    assert np.abs(landed - landed[0]).max() < 1.5
    assert per_frame["frames"].shape == (10, 128, 128, 3) and per_frame["frames"].dtype == np.uint8


def test_warp_does_not_alias_when_it_shrinks():
    checker = (np.indices((512, 512)).sum(axis=0) % 2 * 255).astype(np.uint8)  # finest possible pattern
    small = al.warp(checker, np.array([[0.125, 0, 0], [0, 0.125, 0]], np.float32), 64)
    assert abs(float(small.mean()) - 127.5) < 3 and float(small.std()) < 10  # flat gray, no moire
