"""Face detectors, one module per backend, behind one small protocol (see :mod:`.base`).

``get_detector("dlib-hog")`` returns an object with ``detect(image) -> [(box, score), ...]``.
"""

from mertool.face.detectors.base import DETECTOR_NAMES, Detector, get_detector

__all__ = ["DETECTOR_NAMES", "Detector", "get_detector"]
