"""68-point landmarks on the bundled real photos, checked against independent references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mertool.face.landmarks import detect_hog, interocular, landmarks68, predictor_box


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def grace():
    import cv2
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def five_point(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """dlib's separately trained 5-point model (eye corners, nose base): an independent reference."""
    import dlib

    from mertool.env import dlib_model_dir
    from mertool.face.landmarks import to_gray

    sp5 = dlib.shape_predictor(str(dlib_model_dir() / "shape_predictor_5_face_landmarks.dat"))
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = sp5(np.ascontiguousarray(to_gray(image)), dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


# 5-point order: image-right eye outer/inner corner, image-left eye outer/inner corner, nose base;
# the same places in the 68-point scheme:
FIVE_TO_68 = (45, 42, 36, 39, 33)


def test_astronaut_eye_corners_at_hand_checked_places(astronaut):
    # Checked by eye on a 6x enlargement of the photo (rows 70-140, columns 170-280): the outer
    # and inner corners of the image-left eye, then of the image-right eye, and the nose base.
    hand = np.array([[195, 101], [212, 104], [238, 105], [255, 104], [224, 134]], np.float32)
    box, _ = detect_hog(astronaut, 0)[0]
    pts = landmarks68(astronaut, box)
    found = pts[[36, 39, 42, 45, 33]]
    assert np.abs(found - hand).max() <= 3.0, found


@pytest.mark.parametrize("name", ["astronaut", "grace"])
def test_landmarks_agree_with_the_5_point_model(name, request):
    image = request.getfixturevalue(name)
    box, _ = detect_hog(image, 0)[0]
    pts = landmarks68(image, box)
    ref = five_point(image, box)
    err = np.linalg.norm(pts[list(FIVE_TO_68)] - ref, axis=1)
    # a few pixels: within 8 % of the inter-ocular distance (43 px astronaut, 83 px grace hopper)
    assert err.max() <= 0.08 * interocular(pts), (name, err)
    # and anatomically ordered: image-left eye left of the image-right eye, brows above eyes,
    # eyes above the nose tip, the nose tip above the mouth, the mouth above the chin
    assert pts[36:42, 0].mean() < pts[42:48, 0].mean()
    assert pts[17:27, 1].mean() < pts[36:48, 1].mean() < pts[30, 1] < pts[48:68, 1].mean() < pts[8, 1]


def test_predictor_box_gives_the_detection_landmarks_back(astronaut, grace):
    # following a clip relies on this: a box derived from landmarks finds the same landmarks
    for image in (astronaut, grace):
        box, _ = detect_hog(image, 0)[0]
        pts = landmarks68(image, box)
        again = landmarks68(image, predictor_box(pts))
        assert np.linalg.norm(again - pts, axis=1).mean() < 0.05 * interocular(pts)
