"""Facial regions of interest defined from the 68 dlib landmarks.

Region sets (each a function ``landmarks (68, 2) -> boxes (R, 4) float32 x0, y0, x1, y1``, with
the region names in :data:`REGION_NAMES`):

``face``    the whole aligned frame (one box ``-0.5, -0.5, S - 0.5, S - 0.5``: the outer edges of its
            pixels; needs the frame side ``size``).
``rois15``  paper 001's 15 facial regions. The paper shows them only in a figure (after Kato et
            al.'s segmentation), so they are defined here from the landmarks, one per place where
            action units show: both brows (AU 1, 2), the glabella between them (AU 4), both eyes
            (AU 5, 6, 7, 43), the nose root (AU 9 wrinkles), the nose tip and wings (AU 9, 38),
            both cheeks under the eyes (AU 6), both nasolabial folds (AU 10, 11), both mouth
            corners (AU 12, 14, 15), the lips (AU 16, 23-26) and the chin (AU 17).
``au5``     paper 002's five AU regions: eye_brow (AU 1, 2, 4, 5, 7), mouth (AU 10, 12, 14, 15,
            16, 25, 26), chin (AU 17), cheek (AU 6), nose (AU 9, 38). Regions on both sides of
            the face (eye_brow, cheek) are **one box spanning both sides**, so an asymmetric
            action (L12, R12) stays visible against the other side within one crop.
``dc3``     paper 004's D&C-RoIs: eye+brow on the image's left, eye+brow on the image's right, mouth.

Coordinates are those of the landmarks: pixels, in OpenCV's pixel-centre convention (pixel ``i``
covers ``i - 0.5 .. i + 0.5``). Every margin is a multiple of the inter-ocular distance ``d``, so
the regions scale with the face; docs/figures/rois.png draws them. Boxes may reach past the image on a face near the
border; cropping (``mertool crop-rois``) repeats the border pixels there.

"Left"/"right" are as the image shows them (dlib's points 36-41 are the image-left eye, which is
the subject's right eye).
"""

from __future__ import annotations

import numpy as np

from mertool.face.landmarks import BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, MOUTH, NOSE

REGION_NAMES: dict[str, tuple[str, ...]] = {
    "face": ("face",),
    "rois15": (
        "brow_left",
        "brow_right",
        "glabella",
        "eye_left",
        "eye_right",
        "nose_root",
        "nose_tip",
        "cheek_left",
        "cheek_right",
        "nasolabial_left",
        "nasolabial_right",
        "mouth_corner_left",
        "mouth_corner_right",
        "lips",
        "chin",
    ),
    "au5": ("eye_brow", "mouth", "chin", "cheek", "nose"),
    "dc3": ("eye_brow_left", "eye_brow_right", "mouth"),
}
#: The action units each region of ``au5`` covers (paper 002).
AU5_UNITS: dict[str, tuple[int, ...]] = {
    "eye_brow": (1, 2, 4, 5, 7),
    "mouth": (10, 12, 14, 15, 16, 25, 26),
    "chin": (17,),
    "cheek": (6,),
    "nose": (9, 38),
}


def _box(points: np.ndarray, pad: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """Bounding box of ``points`` padded by (left, top, right, bottom) multiples of ``scale``."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    left, top, right, bottom = pad
    return np.array(
        [x0 - left * scale, y0 - top * scale, x1 + right * scale, y1 + bottom * scale], np.float32
    )


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres, the scale every region is padded by."""
    left = landmarks[list(EYE_LEFT)].mean(axis=0)
    right = landmarks[list(EYE_RIGHT)].mean(axis=0)
    return float(np.linalg.norm(right - left))


def dc3(landmarks: np.ndarray) -> np.ndarray:
    """Paper 004's three D&C regions, (3, 4) float32: each eye with its brow, and the mouth.

    Eye+brow boxes take the brow and eye points, padded by 0.15 of the inter-ocular distance
    sideways and 0.1 above and below; the mouth box takes the 20 mouth points padded by 0.15
    sideways and 0.1 vertically.
    """
    d = interocular(landmarks)
    left = _box(landmarks[list(BROW_LEFT) + list(EYE_LEFT)], (0.15, 0.1, 0.15, 0.1), d)
    right = _box(landmarks[list(BROW_RIGHT) + list(EYE_RIGHT)], (0.15, 0.1, 0.15, 0.1), d)
    mouth = _box(landmarks[list(MOUTH)], (0.15, 0.1, 0.15, 0.1), d)
    return np.stack([left, right, mouth])


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], np.float32)


def _around(centre: np.ndarray, half: float) -> np.ndarray:
    return _rect(centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)


def rois15(landmarks: np.ndarray) -> np.ndarray:
    """Paper 001's 15 regions, (15, 4) float32, in the order of ``REGION_NAMES["rois15"]``.

    With ``p[i]`` the landmarks and ``d`` the inter-ocular distance:

    * brows: the 5 brow points, padded 0.1 d sideways and below, 0.15 d above;
    * glabella: between the inner brow ends (21, 22), from 0.15 d above them down to the nose
      root (27);
    * eyes: the 6 eye points, padded 0.15 d sideways and 0.12 d vertically;
    * nose root: 0.18 d either side of the bridge, from point 27 to 29;
    * nose tip: points 30-35 (tip, nostrils, wings), padded 0.08 d;
    * cheeks: under each eye (outer to inner corner, 0.1 d beyond the outer one), from 0.1 d
      below the lower lid to the nose tip's height;
    * nasolabial folds: from the nose wing (31 / 35) out to 0.2 d beyond the mouth corner,
      from 0.1 d above the wing down to the corner;
    * mouth corners: squares of side 0.36 d on points 48 and 54;
    * lips: the lips between the corners (49-53, 55-59), padded 0.08 d vertically;
    * chin: from 0.05 d under the lower lip (57) to the chin point (8), as wide as jaw points
      7-9 or the lower lip, whichever is wider.
    """
    p = np.asarray(landmarks, np.float32)
    d = interocular(p)
    brow_pad = (0.1, 0.15, 0.1, 0.1)
    eye_pad = (0.15, 0.12, 0.15, 0.12)
    brow_left = _box(p[list(BROW_LEFT)], brow_pad, d)
    brow_right = _box(p[list(BROW_RIGHT)], brow_pad, d)
    glabella = _rect(
        p[21, 0] - 0.05 * d, min(p[21, 1], p[22, 1]) - 0.15 * d, p[22, 0] + 0.05 * d, p[27, 1] + 0.05 * d
    )
    eye_left = _box(p[list(EYE_LEFT)], eye_pad, d)
    eye_right = _box(p[list(EYE_RIGHT)], eye_pad, d)
    nose_root = _rect(p[27, 0] - 0.18 * d, p[27, 1], p[27, 0] + 0.18 * d, p[29, 1])
    nose_tip = _box(p[30:36], (0.08, 0.08, 0.08, 0.08), d)
    lid_left = max(p[40, 1], p[41, 1])
    lid_right = max(p[46, 1], p[47, 1])
    cheek_left = _rect(p[36, 0] - 0.1 * d, lid_left + 0.1 * d, p[39, 0], p[30, 1])
    cheek_right = _rect(p[42, 0], lid_right + 0.1 * d, p[45, 0] + 0.1 * d, p[30, 1])
    naso_left = _rect(p[48, 0] - 0.2 * d, p[31, 1] - 0.1 * d, p[31, 0], p[48, 1])
    naso_right = _rect(p[35, 0], p[35, 1] - 0.1 * d, p[54, 0] + 0.2 * d, p[54, 1])
    corner_left = _around(p[48], 0.18 * d)
    corner_right = _around(p[54], 0.18 * d)
    lips = _box(p[[49, 50, 51, 52, 53, 55, 56, 57, 58, 59]], (0.0, 0.08, 0.0, 0.08), d)
    chin = _rect(
        min(p[7, 0], p[58, 0]), p[57, 1] + 0.05 * d, max(p[9, 0], p[56, 0]), max(p[8, 1], p[57, 1] + 0.3 * d)
    )
    return np.stack(
        [
            brow_left,
            brow_right,
            glabella,
            eye_left,
            eye_right,
            nose_root,
            nose_tip,
            cheek_left,
            cheek_right,
            naso_left,
            naso_right,
            corner_left,
            corner_right,
            lips,
            chin,
        ]
    )


def au5(landmarks: np.ndarray) -> np.ndarray:
    """Paper 002's five AU regions, (5, 4) float32: eye_brow, mouth, chin, cheek, nose.

    * eye_brow: both brows and both eyes in one box, padded 0.15 d sideways and above, 0.12 d below;
    * mouth: the 20 mouth points, padded 0.15 d sideways and 0.1 d vertically (as dc3's mouth);
    * chin: from 0.05 d under the lower lip to 0.05 d under the chin point, between jaw points 6
      and 10;
    * cheek: both cheeks in one box, from 0.1 d outside the outer eye corners, between 0.1 d
      below the lower lids and the base of the nose (33) (the nose sits in its middle);
    * nose: the 9 nose points, padded 0.15 d sideways, 0.05 d above and 0.08 d below.
    """
    p = np.asarray(landmarks, np.float32)
    d = interocular(p)
    eye_brow = _box(
        p[list(BROW_LEFT) + list(BROW_RIGHT) + list(EYE_LEFT) + list(EYE_RIGHT)], (0.15, 0.15, 0.15, 0.12), d
    )
    mouth = _box(p[list(MOUTH)], (0.15, 0.1, 0.15, 0.1), d)
    chin = _rect(p[6, 0], p[57, 1] + 0.05 * d, p[10, 0], max(p[8, 1], p[57, 1] + 0.3 * d) + 0.05 * d)
    lid = max(p[40, 1], p[41, 1], p[46, 1], p[47, 1])
    cheek = _rect(p[36, 0] - 0.1 * d, lid + 0.1 * d, p[45, 0] + 0.1 * d, max(p[33, 1], lid + 0.4 * d))
    nose = _box(p[list(NOSE)], (0.15, 0.05, 0.15, 0.08), d)
    return np.stack([eye_brow, mouth, chin, cheek, nose])


def face(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The whole aligned frame of side ``size``: (1, 4) float32 ``-0.5, -0.5, size - 0.5, size - 0.5``
    (the outer edges of its pixels, in the pixel-centre convention of the landmarks)."""
    edge = float(size) - 0.5
    return np.array([[-0.5, -0.5, edge, edge]], np.float32)


REGION_SETS = {"rois15": rois15, "au5": au5, "dc3": dc3}
#: Every set crop-rois can cut, in its order ("all").
ALL_SETS = ("face", "rois15", "au5", "dc3")


def region_boxes(landmarks: np.ndarray, region_set: str, size: int | None = None) -> np.ndarray:
    """Boxes (R, 4) float32 of ``region_set`` for one face's landmarks (68, 2).

    ``size`` (the aligned frame's side) is needed for the ``face`` set only.
    """
    if region_set == "face":
        if size is None:
            raise ValueError("the 'face' region set needs the frame size")
        return face(landmarks, size)
    try:
        return REGION_SETS[region_set](landmarks)
    except KeyError:
        from mertool.errors import MertoolError

        raise MertoolError(
            f"unknown region set {region_set!r}", hint=f"one of: {', '.join(ALL_SETS)}"
        ) from None
