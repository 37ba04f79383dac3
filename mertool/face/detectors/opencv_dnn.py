"""OpenCV DNN face detectors: a Caffe, TensorFlow or ONNX SSD model the user supplies.

Paper 002 uses OpenCV's ResNet-10 SSD face detector (``res10_300x300_ssd_iter_140000.caffemodel``
with ``deploy.prototxt``, or its TensorFlow twin ``opencv_face_detector_uint8.pb`` with
``opencv_face_detector.pbtxt``). Give the model with ``--weights``:

* Caffe: ``--weights model.caffemodel`` (the ``.prototxt`` beside it, same stem or
  ``deploy.prototxt``, is found) or ``--weights model.caffemodel,deploy.prototxt``;
* TensorFlow: ``--weights model.pb`` (``.pbtxt`` beside it) or ``--weights model.pb,model.pbtxt``;
* ONNX: ``--weights model.onnx``.

The network sees a 300x300 BGR blob with the per-channel means (104, 177, 123) (what the
ResNet-10 SSD was trained with), and must output SSD detections shaped ``[1, 1, N, 7]``:
``(image_id, class, confidence, x0, y0, x1, y1)`` with coordinates as fractions of the image.
Detections under ``conf`` (0.5) are dropped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from mertool.errors import MertoolError
from mertool.face.detectors.base import Detection, register_detector, sort_detections

SUFFIXES = (".caffemodel", ".pb", ".onnx", ".prototxt", ".pbtxt")
CONFIG_SUFFIX = {".caffemodel": ".prototxt", ".pb": ".pbtxt"}


def find_config(model: Path) -> Path | None:
    """The text file describing a Caffe/TF model's graph, looked for beside the model file."""
    want = CONFIG_SUFFIX.get(model.suffix.lower())
    if want is None:
        return None
    candidates = [model.with_suffix(want)]
    if want == ".prototxt":
        candidates.append(model.with_name("deploy.prototxt"))
    candidates += sorted(model.parent.glob(f"*{want}"))
    for c in candidates:
        if c.is_file():
            return c
    raise MertoolError(
        f"{model}: a {model.suffix} model needs its {want} graph file, and none is beside it",
        hint=f"give both: --weights {model},GRAPH{want}",
    )


def model_files(weights: tuple[Path, ...]) -> tuple[Path, Path | None]:
    """(model, config) from the --weights paths, in either order."""
    model = next((p for p in weights if p.suffix.lower() in (".caffemodel", ".pb", ".onnx")), None)
    if model is None:
        raise MertoolError(
            f"--weights {','.join(map(str, weights))}: no .caffemodel, .pb or .onnx model file among them",
            hint="give the model file (its .prototxt/.pbtxt graph file may follow after a comma)",
        )
    config = next((p for p in weights if p != model), None)
    return model, config if config is not None else find_config(model)


@cache
def _net(model: str, config: str | None):
    import cv2

    try:
        net = cv2.dnn.readNet(model, config or "")
    except cv2.error as exc:
        raise MertoolError(
            f"OpenCV DNN could not read {model}{' with ' + config if config else ''}: {str(exc).strip()}",
            hint="give a Caffe (.caffemodel + .prototxt), TensorFlow (.pb + .pbtxt) or ONNX face model",
        ) from exc
    return net


def parse_ssd(out: np.ndarray, width: int, height: int, conf: float) -> list[Detection]:
    """SSD output ``[1, 1, N, 7]`` -> boxes in pixels (clipped to the image) with confidences."""
    det = np.asarray(out, np.float32)
    if det.ndim < 2 or det.shape[-1] != 7:
        raise MertoolError(
            f"the OpenCV DNN model's output has shape {tuple(det.shape)}, not SSD detections [1, 1, N, 7]",
            hint="this backend reads SSD-style face detectors such as OpenCV's ResNet-10 SSD",
        )
    det = det.reshape(-1, 7)
    found = []
    scale = np.array([width, height, width, height], np.float32)
    for row in det[det[:, 2] >= conf]:
        box = np.clip(row[3:7], 0.0, 1.0) * scale
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            found.append((box, float(row[2])))
    return sort_detections(found)


class OpenCvDnn:
    name = "opencv-dnn"

    def __init__(
        self,
        model: Path,
        config: Path | None,
        conf: float = 0.5,
        input_size: tuple[int, int] = (300, 300),
        mean: tuple[float, float, float] = (104.0, 177.0, 123.0),
    ):
        self.model = model
        self.config = config
        self.conf = conf
        self.input_size = input_size
        self.mean = mean

    def detect(self, image: np.ndarray) -> list[Detection]:
        import cv2

        net = _net(str(self.model), str(self.config) if self.config else None)
        bgr = (
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            if image.ndim == 3
            else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        )
        blob = cv2.dnn.blobFromImage(bgr, 1.0, self.input_size, self.mean, swapRB=False, crop=False)
        net.setInput(blob)
        try:
            out = net.forward()
        except cv2.error as exc:
            raise MertoolError(
                f"OpenCV DNN failed running {self.model}: {str(exc).strip()}",
                hint="the model must take a 1x3x300x300 image blob and output SSD detections",
            ) from exc
        h, w = image.shape[:2]
        return parse_ssd(out, w, h, self.conf)


@register_detector(
    "opencv-dnn",
    needs_weights=True,
    suffixes=SUFFIXES,
    description="OpenCV DNN SSD face model (Caffe/TensorFlow/ONNX) you supply (paper 002)",
)
def build(weights: tuple[Path, ...] = (), conf: float = 0.5, **_: object) -> OpenCvDnn:
    model, config = model_files(weights)
    return OpenCvDnn(model, config, conf=conf)
