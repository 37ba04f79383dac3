"""Our WIDER FACE easy/medium/hard evaluation on hand-made detections with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mertool.detector.evaluate import average_precision, iou_xywh, match_image, subset_ap

GT = np.array([[0, 0, 10, 10], [20, 20, 10, 10], [50, 50, 4, 4]], float)


def test_iou():
    iou = iou_xywh(np.array([[0, 0, 10, 10], [5, 0, 10, 10]]), np.array([[0, 0, 10, 10], [100, 100, 0, 5]]))
    np.testing.assert_allclose(iou, [[1.0, 0.0], [50 / 150, 0.0]])


def test_match_image_tp_fp_ignored():
    pred = np.array(
        [
            [0, 0, 10, 10, 0.9],  # face 0: true positive
            [1, 0, 10, 10, 0.8],  # face 0 again: false positive (already matched)
            [50, 50, 4, 4, 0.7],  # face 2, which this subset does not count: ignored
            [80, 80, 10, 10, 0.6],  # nothing there: false positive
        ]
    )
    labels = match_image(pred, GT, keep=np.array([0, 1]))
    assert labels.tolist() == [1, 0, -1, 0]


def test_match_image_follows_score_order():
    pred = np.array([[1, 0, 10, 10, 0.2], [0, 0, 10, 10, 0.9]])
    assert match_image(pred, GT, keep=np.array([0, 1, 2])).tolist() == [0, 1]


def test_average_precision_known_values():
    assert average_precision([0.9, 0.8], [1, 1], 2) == pytest.approx(1.0)
    assert average_precision([0.9], [1], 2) == pytest.approx(0.5)
    # TP, FP, TP over 2 faces: recall 0.5 at precision 1, recall 1 at precision 2/3
    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # ignored detections change nothing
    assert average_precision([0.9, 0.85, 0.8, 0.7], [1, -1, 0, 1], 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([], [], 3) == 0.0
    assert math.isnan(average_precision([0.5], [0], 0))


def test_subset_ap_pools_images_and_counts_misses():
    gt = {("e", "a"): GT, ("e", "b"): np.array([[0, 0, 8, 8]], float)}
    keep_hard = {("e", "a"): np.array([0, 1, 2]), ("e", "b"): np.array([0])}
    keep_easy = {("e", "a"): np.array([0, 1]), ("e", "b"): np.zeros(0, int)}
    preds = {("e", "a"): np.array([[0, 0, 10, 10, 0.9], [20, 20, 10, 10, 0.8], [50, 50, 4, 4, 0.3]])}
    # hard: 3 of 4 faces found, all detections correct -> AP 0.75; image b has no detections
    assert subset_ap(preds, gt, keep_hard) == pytest.approx(0.75)
    # easy: both counted faces found; the small face's detection is ignored
    assert subset_ap(preds, gt, keep_easy) == pytest.approx(1.0)
    assert subset_ap({}, gt, keep_hard) == 0.0
