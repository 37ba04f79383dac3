"""dlib's CNN face detector (max-margin object detection, the MMOD model file).

More robust to pose and lighting than HOG, but slow on a CPU (about 1.6 s for a 512x512 image),
which is affordable here because detection runs once per clip. The model file comes from the
``face-recognition-models`` package unless ``--weights`` names another ``.dat`` MMOD file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from mertool.face.detectors.base import Detection, register_detector, sort_detections


@cache
def _model(path: str):
    import dlib

    try:
        return dlib.cnn_face_detection_model_v1(path)
    except RuntimeError as exc:
        from mertool.errors import MertoolError

        raise MertoolError(
            f"{path} is not a dlib MMOD face-detector file ({exc})",
            hint="give mmod_human_face_detector.dat (from face-recognition-models) or drop --weights",
        ) from exc


class DlibCnn:
    name = "dlib-cnn"

    def __init__(self, path: Path, upsample: int = 0):
        self.path = path
        self.upsample = upsample

    def detect(self, image: np.ndarray) -> list[Detection]:
        rgb = np.ascontiguousarray(image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2))
        found = _model(str(self.path))(rgb, self.upsample)
        return sort_detections(
            [
                (
                    [d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1],
                    float(d.confidence),
                )
                for d in found
            ]
        )


@register_detector(
    "dlib-cnn", suffixes=(".dat",), description="dlib CNN (MMOD) faces; slow on CPU, once per clip"
)
def build(weights: tuple[Path, ...] = (), upsample: int = 0, **_: object) -> DlibCnn:
    from mertool.env import dlib_model_path

    return DlibCnn(weights[0] if weights else dlib_model_path("mmod"), upsample)
