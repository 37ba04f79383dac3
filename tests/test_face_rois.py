"""Region sets from landmarks: inside the face, in the right places, holding their landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from mertool.errors import MertoolError
from mertool.face import rois
from mertool.face.landmarks import BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, MOUTH, interocular


@pytest.fixture(scope="module")
def faces():
    """(landmarks (68, 2), detector box (4,)) of the two bundled frontal photos."""
    from pathlib import Path

    import cv2
    import matplotlib
    from skimage import data

    from mertool.face.landmarks import detect_hog, landmarks68

    grace = cv2.cvtColor(
        cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")),
        cv2.COLOR_BGR2RGB,
    )
    out = []
    for image in (data.astronaut(), grace):
        for upsample in (0, 1):
            box, _ = detect_hog(image, upsample)[0]
            out.append((landmarks68(image, box), box))
    return out


def face_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face: what the detector's box and the landmarks cover (HOG's box is tight: it leaves
    the chin point and the brows' ends out), with a margin of 0.1 inter-ocular distance."""
    d = interocular(points)
    lo = np.minimum(box[:2], points.min(axis=0)) - 0.1 * d
    hi = np.maximum(box[2:], points.max(axis=0)) + 0.1 * d
    return np.concatenate([lo, hi])


def contains(box: np.ndarray, pts: np.ndarray) -> bool:
    pts = np.atleast_2d(pts)
    return bool(
        np.all((pts[:, 0] >= box[0]) & (pts[:, 0] <= box[2]) & (pts[:, 1] >= box[1]) & (pts[:, 1] <= box[3]))
    )


def centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


@pytest.mark.parametrize("region_set", ["rois15", "au5", "dc3"])
def test_every_region_lies_inside_the_face_and_has_a_name(faces, region_set):
    for pts, detected in faces:
        boxes = rois.region_boxes(pts, region_set)
        assert boxes.shape == (len(rois.REGION_NAMES[region_set]), 4) and boxes.dtype == np.float32
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        fb = face_box(pts, detected)
        for name, box in zip(rois.REGION_NAMES[region_set], boxes):
            assert box[0] >= fb[0] and box[1] >= fb[1] and box[2] <= fb[2] and box[3] <= fb[3], (
                name,
                box,
                fb,
            )


def test_rois15_regions_hold_their_landmarks_and_sit_in_place(faces):
    for pts, _ in faces:
        b = dict(zip(rois.REGION_NAMES["rois15"], rois.rois15(pts)))
        assert contains(b["eye_left"], pts[list(EYE_LEFT)]) and contains(b["eye_right"], pts[list(EYE_RIGHT)])
        assert contains(b["brow_left"], pts[list(BROW_LEFT)]) and contains(
            b["brow_right"], pts[list(BROW_RIGHT)]
        )
        assert contains(b["nose_tip"], pts[30:36])
        assert contains(b["mouth_corner_left"], pts[48]) and contains(b["mouth_corner_right"], pts[54])
        assert contains(b["lips"], pts[[50, 51, 52, 56, 57, 58]])
        assert contains(b["chin"], pts[8]) and contains(b["glabella"], (pts[21] + pts[22]) / 2)
        assert contains(b["nose_root"], pts[27:30])
        # left/right as the image shows them; vertical order brows > eyes > cheeks > mouth > chin
        for side in ("brow", "eye", "cheek", "nasolabial", "mouth_corner"):
            assert centre(b[f"{side}_left"])[0] < centre(b[f"{side}_right"])[0], side
        ys = [centre(b[n])[1] for n in ("brow_left", "eye_left", "cheek_left", "mouth_corner_left", "chin")]
        assert ys == sorted(ys)
        # cheeks under the eyes, not over them; nasolabial folds beside the nose, above the corners
        assert b["cheek_left"][1] > pts[list(EYE_LEFT), 1].max()
        assert b["nasolabial_left"][2] <= pts[31, 0] + 1e-3 and b["nasolabial_right"][0] >= pts[35, 0] - 1e-3


def test_au5_regions_hold_their_action_unit_landmarks(faces):
    for pts, _ in faces:
        b = dict(zip(rois.REGION_NAMES["au5"], rois.au5(pts)))
        both = list(BROW_LEFT) + list(BROW_RIGHT) + list(EYE_LEFT) + list(EYE_RIGHT)
        assert contains(b["eye_brow"], pts[both])  # one box spanning both sides
        assert contains(b["mouth"], pts[list(MOUTH)])
        assert contains(b["nose"], pts[27:36])
        assert contains(b["chin"], pts[8]) and b["chin"][1] > pts[57, 1]
        # both cheeks in one box under the eyes, reaching past both outer eye corners
        assert b["cheek"][0] < pts[36, 0] and b["cheek"][2] > pts[45, 0] and b["cheek"][1] > pts[41, 1]
        assert set(rois.AU5_UNITS) == set(rois.REGION_NAMES["au5"])


def test_dc3_keeps_its_definition(faces):
    pts = faces[0][0]
    d = rois.interocular(pts)
    left = pts[list(BROW_LEFT) + list(EYE_LEFT)]
    expected = [
        left[:, 0].min() - 0.15 * d,
        left[:, 1].min() - 0.1 * d,
        left[:, 0].max() + 0.15 * d,
        left[:, 1].max() + 0.1 * d,
    ]
    np.testing.assert_allclose(rois.dc3(pts)[0], expected, rtol=1e-5)
    assert contains(rois.dc3(pts)[2], pts[list(MOUTH)])


def test_face_set_and_unknown_set():
    pts = np.zeros((68, 2), np.float32)
    np.testing.assert_array_equal(rois.region_boxes(pts, "face", size=96), [[-0.5, -0.5, 95.5, 95.5]])
    with pytest.raises(MertoolError, match="unknown region set"):
        rois.region_boxes(pts, "rois16")
