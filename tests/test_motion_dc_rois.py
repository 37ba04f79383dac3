"""D&C-RoIs: LBP histograms, eq. 1 correlation, the difference curve and the divide-and-conquer search."""

from __future__ import annotations

import numpy as np
import pytest

from mertool.motion import dc_rois
from mertool.motion.apex import ApexOptions, Clip, error_summary, spot_apex


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def test_lbp_histograms_shape_and_normalisation():
    frames = np.stack([_texture(40, 40, i) for i in range(3)])
    boxes = np.array([[0, 0, 20, 20], [20, 0, 40, 20], [5, 22, 35, 38]], np.float32)
    h = dc_rois.lbp_histograms(frames, boxes, grid=1)
    assert h.shape == (3, 3, 10) and h.dtype == np.float32
    np.testing.assert_allclose(h.sum(axis=-1), 1.0, rtol=1e-5)
    g = dc_rois.lbp_histograms(frames, boxes, grid=2)
    assert g.shape == (3, 3, 40)
    np.testing.assert_allclose(g.reshape(3, 3, 4, 10).sum(axis=-1), 1.0, rtol=1e-5)


def test_correlation_is_eq1():
    h1 = np.array([1.0, 2.0, 0.0, 3.0])
    h2 = np.array([0.0, 1.0, 1.0, 1.0])
    expected = (2 + 3) / np.sqrt(14 * 3)
    assert dc_rois.correlation(h1, h2) == pytest.approx(expected)
    assert dc_rois.correlation(h1, 2 * h1) == pytest.approx(1.0)
    assert dc_rois.correlation(np.zeros(4), np.zeros(4)) == 1.0  # empty region: no change


def test_mouth_change_peaks_at_frame_k():
    """A sequence whose mouth region changes most at frame k: curve and D&C peak at k."""
    rng = np.random.default_rng(0)
    base = _texture(60, 60, 1)
    from scipy.ndimage import gaussian_filter

    other = gaussian_filter(base.astype(np.float32), 2.0)  # the mouth's texture smooths out
    k, n = 11, 20
    strength = np.exp(-(((np.arange(n) - k) / 3.0) ** 2))
    strength[0] = 0.0
    frames = []
    for t in range(n):
        f = base.astype(np.float32).copy()
        mouth = (slice(40, 56), slice(15, 45))
        f[mouth] = (1 - strength[t]) * f[mouth] + strength[t] * other[mouth]
        frames.append(np.clip(f + rng.normal(0, 1.0, f.shape), 0, 255).astype(np.uint8))
    frames = np.stack(frames)
    boxes = np.array([[5, 5, 28, 25], [32, 5, 55, 25], [12, 38, 48, 58]], np.float32)
    hists = dc_rois.lbp_histograms(frames, boxes)
    per_region = dc_rois.region_differences(hists)
    assert per_region[k, 2] > 5 * max(per_region[k, 0], per_region[k, 1])  # the mouth moved
    curve = dc_rois.difference_curve(hists)
    assert curve[0] == pytest.approx(0.0, abs=1e-6)
    assert int(np.argmax(curve)) == k
    assert dc_rois.divide_and_conquer_peak(curve) == k


@pytest.mark.parametrize(
    "curve, expected",
    [
        ([0, 1, 2, 9, 2, 1, 0, 0], 3),
        ([0, 0, 0, 0, 0, 1, 5, 2], 6),
        ([5, 0, 0, 0, 0, 0, 0, 0], 0),
        ([0, 3], 1),
        ([4], 0),
    ],
)
def test_divide_and_conquer_on_hand_made_curves(curve, expected):
    assert dc_rois.divide_and_conquer_peak(np.array(curve, float)) == expected


def test_divide_and_conquer_prefers_sustained_rise_over_spike():
    # a one-frame spike in the first half against a broad hump in the second: the summed
    # interval wins, so D&C picks the hump's top where a plain argmax would pick the spike
    curve = np.array([0, 0, 6, 0, 0, 0, 0, 0, 3, 4, 5, 4, 3, 2, 1, 0], float)
    assert int(np.argmax(curve)) == 2
    assert dc_rois.divide_and_conquer_peak(curve) == 10


def test_divide_and_conquer_respects_the_window():
    curve = np.array([9, 0, 1, 2, 3, 2, 1, 0, 9], float)
    assert dc_rois.divide_and_conquer_peak(curve, start=1, stop=8) == 4
    with pytest.raises(ValueError):
        dc_rois.divide_and_conquer_peak(curve, start=5, stop=5)


def test_spot_apex_methods_on_a_textured_clip():
    base = _texture(64, 64, 3)
    other = _texture(64, 64, 4)
    k, n = 7, 15
    frames = []
    for t in range(n):
        s = 0.0 if t == 0 else float(np.exp(-(((t - k) / 2.0) ** 2)))
        f = base.astype(np.float32).copy()
        f[40:60, 10:54] = (1 - 0.7 * s) * f[40:60, 10:54] + 0.7 * s * other[40:60, 10:54]
        frames.append(f.astype(np.uint8))
    frames = np.stack(frames)
    # landmarks placing the dc3 boxes: brows+eyes in the top half, mouth at rows 40-60
    lm = np.zeros((68, 2), np.float32)
    lm[17:22] = [[8, 10], [12, 9], [16, 9], [20, 10], [24, 11]]
    lm[22:27] = [[38, 11], [42, 10], [46, 9], [50, 9], [54, 10]]
    lm[36:42] = [[10, 18], [13, 16], [17, 16], [21, 18], [17, 20], [13, 20]]
    lm[42:48] = [[40, 18], [43, 16], [47, 16], [51, 18], [47, 20], [43, 20]]
    lm[48:68] = np.array([[14 + 2 * i, 44 + (i % 5) * 3] for i in range(20)], np.float32)
    landmarks = np.repeat(lm[None], n, axis=0)
    numbers = np.arange(101, 101 + n)
    clip = Clip("d/s/c", frames, numbers, landmarks, onset=101, apex=101 + k, offset=101 + n - 1, fps=100.0)
    res = spot_apex(clip, "dc-rois", options=ApexOptions(lbp_grid=1))
    assert res.frame == 101 + k and res.curve.shape == (n,)
    assert spot_apex(clip, "label").frame == 101 + k
    assert spot_apex(clip, "middle").frame == 101 + (n - 1) // 2
    assert abs(spot_apex(clip, "flow-peak").frame - (101 + k)) <= 1


def test_error_summary_frames_and_ms():
    rows = [
        {"apex": 10, "fps": 200.0, "spotted": {"dc-rois": 12, "middle": 20}},
        {"apex": 30, "fps": 100.0, "spotted": {"dc-rois": 29, "middle": 50}},
        {"apex": None, "fps": 100.0, "spotted": {"dc-rois": 5}},
    ]
    s = error_summary(rows, ["dc-rois", "middle"])
    assert s["dc-rois"]["n"] == 2
    assert s["dc-rois"]["mean_frames"] == pytest.approx(1.5)
    assert s["dc-rois"]["mean_ms"] == pytest.approx((10.0 + 10.0) / 2)  # 2/200 s and 1/100 s
    assert s["dc-rois"]["within_5"] == 1.0
    assert s["middle"]["median_frames"] == pytest.approx(15.0)
    assert s["middle"]["within_10"] == pytest.approx(0.5)
    assert s["middle"]["mean_signed_frames"] == pytest.approx(15.0)


def test_a_still_image_is_its_own_labelled_apex_but_cannot_be_spotted():
    """RAF-DB-like samples: one frame, labelled apex = that frame. `label` takes it; a spotting
    method has no onset..offset window to search and says so."""
    from mertool.errors import SampleError

    frame = np.zeros((1, 32, 32), np.uint8)
    clip = Clip("rafdb/train/x", frame, np.array([0]), np.zeros((1, 68, 2), np.float32), onset=0, apex=0)
    assert spot_apex(clip, "label").frame == 0
    with pytest.raises(SampleError, match="1 frame"):
        spot_apex(clip, "middle")
