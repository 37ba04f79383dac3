"""An ultralytics YOLO model as a face detector (any weights file; paper 000's detector included).

The weights file must be on this machine: ultralytics would download a bare ``yolov8n.pt`` name,
mertool refuses instead (it runs offline; :func:`mertool.env.configure_ultralytics` is called
before the import). When the model's class names include ``face``, only those classes count;
otherwise every class is taken as a face (a one-class face model named ``0`` or ``item``).

``import ultralytics`` resets OpenCV's thread count; it is set back to what it was.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from mertool.face.detectors.base import Detection, register_detector, sort_detections


@cache
def _model(path: str):
    import cv2

    from mertool.env import configure_ultralytics, set_cv2_threads

    threads = cv2.getNumThreads()
    configure_ultralytics()
    try:
        from ultralytics import YOLO
    finally:
        set_cv2_threads(threads)
    try:
        model = YOLO(path)
    except Exception as exc:  # noqa: BLE001 - ultralytics raises many kinds for a bad file
        from mertool.errors import MertoolError

        raise MertoolError(
            f"{path} could not be loaded as an ultralytics YOLO model ({exc.__class__.__name__}: {exc})",
            hint="give a .pt file saved by ultralytics (model.save or a training run's weights/best.pt)",
        ) from exc
    finally:
        set_cv2_threads(threads)
    return model


def face_classes(names: dict[int, str]) -> list[int] | None:
    """Class ids whose name contains 'face', or None to take every class."""
    ids = [i for i, n in names.items() if "face" in str(n).lower()]
    return ids or None


class YoloDetector:
    name = "yolo"

    def __init__(self, path: Path, conf: float = 0.25, imgsz: int | None = None, device: str = "cpu"):
        # imgsz None: ultralytics uses the size the weights were trained at (kept in the .pt);
        # a 160-px face model run at 640 finds thousands of false boxes and no face.
        self.path = path
        self.conf = conf
        self.imgsz = imgsz
        self.device = device

    def detect(self, image: np.ndarray) -> list[Detection]:
        import cv2

        from mertool.env import set_cv2_threads

        model = _model(str(self.path))
        threads = cv2.getNumThreads()
        bgr = (
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            if image.ndim == 3
            else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        )
        try:
            size = {"imgsz": self.imgsz} if self.imgsz else {}
            result = model.predict(
                bgr,
                conf=self.conf,
                device=self.device,
                **size,
                classes=face_classes(getattr(model, "names", {}) or {}),
                verbose=False,
            )[0]
        finally:
            set_cv2_threads(threads)
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = boxes.xyxy.cpu().numpy()
        conf = boxes.conf.cpu().numpy()
        return sort_detections([(b, float(c)) for b, c in zip(xyxy, conf)])


@register_detector(
    "yolo", needs_weights=True, suffixes=(".pt",), description="ultralytics YOLO weights file (.pt)"
)
def build(weights: tuple[Path, ...] = (), conf: float = 0.25, **_: object) -> YoloDetector:
    return YoloDetector(weights[0], conf=conf)
