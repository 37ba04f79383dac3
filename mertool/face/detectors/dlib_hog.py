"""dlib's HOG + linear-SVM frontal face detector: the default (no model file needed).

Finds frontal faces of about 80 px and larger at ``upsample=0``; ``upsample=1`` doubles the image
first (faces from about 40 px) at four times the cost. By default (``upsample=None``) it tries 0
first and 1 only when nothing was found, so large faces cost the least.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mertool.face.detectors.base import Detection, register_detector
from mertool.face.landmarks import detect_hog


class DlibHog:
    name = "dlib-hog"

    def __init__(self, upsample: int | None = None):
        self.upsample = upsample

    def detect(self, image: np.ndarray) -> list[Detection]:
        if self.upsample is not None:
            return detect_hog(image, self.upsample)
        return detect_hog(image, 0) or detect_hog(image, 1)


@register_detector("dlib-hog", description="dlib HOG frontal faces (default; no model file)")
def build(weights: tuple[Path, ...] = (), upsample: int | None = None, **_: object) -> DlibHog:
    if weights:
        from mertool.errors import MertoolError

        raise MertoolError(
            "the dlib-hog detector takes no --weights file", hint="drop --weights, or pick another --detector"
        )
    return DlibHog(upsample)
