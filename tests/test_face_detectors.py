"""Face detector backends: the registry's errors, and each backend's parsing and plumbing."""

from __future__ import annotations

import numpy as np
import pytest

from mertool.errors import MertoolError
from mertool.face.detectors import get_detector
from mertool.face.detectors.opencv_dnn import parse_ssd

#: A constant SSD output [1, 1, N, 7]: (image, class, confidence, x0, y0, x1, y1 as fractions).
SSD = np.array(
    [[[[0, 1, 0.9, 0.2, 0.1, 0.6, 0.7], [0, 1, 0.3, 0.0, 0.0, 0.5, 0.5], [0, 1, 0.8, 0.5, 0.5, 1.2, 1.1]]]],
    np.float32,
)


def ssd_onnx(path):
    """A tiny ONNX graph taking a 1x3x300x300 blob and returning :data:`SSD` (input * 0 + SSD)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["data"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["ssd", "z"], ["detection_out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_ssd",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 300, 300])],
        [helper.make_tensor_value_info("detection_out", TensorProto.FLOAT, list(SSD.shape))],
        initializer=[
            numpy_helper.from_array(SSD, "ssd"),
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_unknown_detector_and_weights_errors(tmp_path):
    with pytest.raises(MertoolError, match="unknown face detector 'mtcnn'") as err:
        get_detector("mtcnn")
    assert "dlib-hog" in err.value.hint
    with pytest.raises(MertoolError, match="needs a model file"):
        get_detector("yolo")
    with pytest.raises(MertoolError, match="never downloads"):
        get_detector("yolo", "yolov8n.pt")  # ultralytics would download it; mertool refuses
    with pytest.raises(MertoolError, match="takes .pt files"):
        get_detector("yolo", tmp_path / "model.onnx")
    with pytest.raises(MertoolError, match="weights file not found"):
        get_detector("opencv-dnn", tmp_path / "missing.onnx")
    with pytest.raises(MertoolError, match="takes no --weights"):
        get_detector("dlib-hog", ssd_onnx(tmp_path / "m.onnx"))


def test_opencv_dnn_parses_ssd_detections_from_an_onnx_model(tmp_path):
    det = get_detector("opencv-dnn", ssd_onnx(tmp_path / "ssd.onnx"))
    found = det.detect(np.zeros((200, 400, 3), np.uint8))
    # the 0.3 detection is under the 0.5 threshold; boxes in pixels, clipped to the image, best first
    assert [round(s, 2) for _, s in found] == [0.9, 0.8]
    np.testing.assert_allclose(found[0][0], [80, 20, 240, 140], atol=1e-3)
    np.testing.assert_allclose(found[1][0], [200, 100, 400, 200], atol=1e-3)


def test_opencv_dnn_errors_name_the_missing_piece(tmp_path):
    model = tmp_path / "res10.caffemodel"
    model.write_bytes(b"\0" * 16)
    with pytest.raises(MertoolError, match=r"needs its \.prototxt graph file"):
        get_detector("opencv-dnn", model)
    with pytest.raises(MertoolError, match=r"not SSD detections"):
        parse_ssd(np.zeros((1, 5)), 10, 10, 0.5)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(MertoolError, match="could not read"):
        get_detector("opencv-dnn", bad).detect(np.zeros((50, 50, 3), np.uint8))


def test_dlib_cnn_finds_the_face_hog_finds():
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[20:276, 96:352])  # 256x256 around the face: the CNN is slow
    (cnn_box, _), *_ = get_detector("dlib-cnn").detect(image)
    (hog_box, _), *_ = get_detector("dlib-hog").detect(image)
    lo, hi = np.maximum(cnn_box[:2], hog_box[:2]), np.minimum(cnn_box[2:], hog_box[2:])
    inter = np.prod(np.clip(hi - lo, 0, None))
    union = np.prod(cnn_box[2:] - cnn_box[:2]) + np.prod(hog_box[2:] - hog_box[:2]) - inter
    assert inter / union > 0.5


@pytest.fixture(scope="module")
def untrained_yolo(tmp_path_factory):
    """An untrained YOLOv8n (built from its yaml, no download) saved as a .pt weights file."""
    from mertool.env import configure_ultralytics

    configure_ultralytics()
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("yolo") / "untrained.pt"
    YOLO("yolov8n.yaml").save(path)
    return path


@pytest.mark.slow
def test_yolo_plumbing_an_untrained_model_finds_nothing_and_the_clip_fails_cleanly(
    untrained_yolo, tmp_path, cli
):
    import cv2
    from fixtures.face_clips import write_clip

    threads = cv2.getNumThreads()
    assert get_detector("yolo", untrained_yolo).detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert cv2.getNumThreads() == threads  # import ultralytics resets it; the backend sets it back

    write_clip(tmp_path / "clip", range(3))
    out = tmp_path / "faces.h5"
    res = cli(
        "detect-faces",
        tmp_path / "clip",
        "--detector",
        "yolo",
        "--weights",
        untrained_yolo,
        "-o",
        out,
        "-j",
        "1",
    )
    assert res.exit_code == 0, res.stderr
    assert "no face found by the yolo detector in the first frame" in res.stderr
    from mertool.store import SampleFile

    with SampleFile(out) as sf:
        rec = sf.record("frames/clip/clip")
        assert not rec.ok and "img0.jpg" in rec.attrs["error"]
        assert rec.has("frame_paths") and not rec.has("frames")
