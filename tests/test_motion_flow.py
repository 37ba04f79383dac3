"""Optical flow, optical strain, the difference image and normalisation, on arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mertool.motion import normalize
from mertool.motion.difference import difference_image
from mertool.motion.optical_flow import PRESETS, compute_flow, endpoint_error, preset
from mertool.motion.strain import optical_strain


def _linear_flow(a: float, b: float, c: float, d: float, n: int = 16) -> np.ndarray:
    """u = a x + b y, v = c x + d y on an n x n grid."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    return np.stack([a * xx + b * yy, c * xx + d * yy], axis=-1).astype(np.float32)


def test_strain_of_a_linear_flow_is_analytic():
    a, b, c, d = 0.03, -0.02, 0.05, 0.01
    flow = _linear_flow(a, b, c, d)
    eq7 = optical_strain(flow, "eq7")
    tensor = optical_strain(flow, "tensor")
    assert eq7.shape == (16, 16) and eq7.dtype == np.float32
    # central differences are exact for a linear field, borders included
    np.testing.assert_allclose(eq7, np.sqrt(a**2 + d**2 + 0.5 * (b**2 + c**2)), rtol=1e-5)
    np.testing.assert_allclose(tensor, np.sqrt(a**2 + d**2 + 0.5 * (b + c) ** 2), rtol=1e-5)


def test_rigid_rotation_has_no_tensor_strain_but_eq7_sees_it():
    w = 0.02
    flow = _linear_flow(0.0, -w, w, 0.0)
    np.testing.assert_allclose(optical_strain(flow, "tensor"), 0.0, atol=1e-7)
    np.testing.assert_allclose(optical_strain(flow, "eq7"), w, rtol=1e-5)
    with pytest.raises(ValueError):
        optical_strain(flow, "nope")


def test_difference_image_is_eq8_in_unit_range():
    onset = np.array([[0, 100], [255, 30]], np.uint8)
    apex = np.array([[255, 90], [0, 30]], np.uint8)
    diff = difference_image(onset, apex)
    assert diff.dtype == np.float32
    np.testing.assert_allclose(diff, np.array([[1.0, 10 / 255], [1.0, 0.0]]), rtol=1e-6)
    rgb = difference_image(np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 51, np.uint8))
    assert rgb.shape == (4, 4, 3) and np.allclose(rgb, 0.2)
    with pytest.raises(ValueError):
        difference_image(np.zeros((4, 4)), np.zeros((5, 4)))


def _textured_pair(shift=(0.6, -0.4)):
    import cv2
    from skimage import data

    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[80:176, 170:266]
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    apex = cv2.warpAffine(img, m, (96, 96), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    truth = np.zeros((96, 96, 2), np.float32)
    truth[..., 0], truth[..., 1] = shift
    inner = np.zeros((96, 96), bool)
    inner[12:-12, 12:-12] = True
    return img, apex, truth, inner


@pytest.mark.parametrize("name", ["opencv-default", "micro", "dis", "farneback"])
def test_flow_recovers_a_known_subpixel_shift(name):
    onset, apex, truth, inner = _textured_pair()
    flow = compute_flow(onset, apex, preset(name))
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    zero = endpoint_error(np.zeros_like(truth), truth, inner)
    assert zero == pytest.approx(np.hypot(0.6, 0.4))
    assert endpoint_error(flow, truth, inner) < 0.1  # sign convention: onset -> apex


def test_flow_takes_rgb_and_float_frames_alike():
    onset, apex, _, _ = _textured_pair()
    a = compute_flow(onset, apex, PRESETS["micro"])
    b = compute_flow(onset.astype(np.float32) / 255.0, apex.astype(np.float32) / 255.0, PRESETS["micro"])
    np.testing.assert_allclose(a, b, atol=1e-4)
    rgb = compute_flow(np.dstack([onset] * 3), np.dstack([apex] * 3), PRESETS["micro"])
    np.testing.assert_allclose(a, rgb, atol=1e-4)


def test_flow_of_a_wrong_sized_pair_is_a_clear_error():
    with pytest.raises(ValueError, match="frame sizes differ"):
        compute_flow(np.zeros((64, 64), np.uint8), np.zeros((64, 48), np.uint8))


def test_tvl1_overrides_and_presets():
    p = PRESETS["opencv-default"].with_overrides(warps=2, tau=None)
    assert p.warps == 2 and p.tau == 0.25
    assert PRESETS["micro"].as_dict()["outer_iterations"] == 1
    assert PRESETS["dis"].as_dict() == {"method": "dis", "dis_preset": "medium"}
    from mertool.errors import MertoolError

    with pytest.raises(MertoolError):
        preset("fastest")


def test_minmax_normalisation_per_channel():
    flow = np.stack([np.linspace(-2, 2, 16).reshape(4, 4), np.full((4, 4), 3.0)], axis=-1).astype(np.float32)
    out, params = normalize.minmax(flow)
    assert out[..., 0].min() == 0.0 and out[..., 0].max() == pytest.approx(1.0)
    assert np.all(out[..., 1] == 0.0)  # a constant channel
    assert params == {"min": [-2.0, 3.0], "max": [2.0, 3.0]}
    strain, p2 = normalize.minmax(np.array([[1.0, 3.0]], np.float32))
    assert strain.tolist() == [[0.0, 1.0]] and p2["max"] == [3.0]


def test_dataset_statistics_standardise_over_all_samples():
    rng = np.random.default_rng(0)
    samples = [
        {
            "flow": rng.normal(1.0, 2.0, (8, 8, 2)).astype(np.float32),
            "strain": rng.random((8, 8)).astype(np.float32),
        }
        for _ in range(3)
    ]
    stats = normalize.dataset_stats(samples)
    pooled = np.concatenate([s["flow"].reshape(-1, 2) for s in samples])
    np.testing.assert_allclose(stats["flow"]["mean"], pooled.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats["flow"]["std"], pooled.std(0), rtol=1e-5)
    normed = [normalize.apply_dataset_stats(s, stats) for s in samples]
    all_u = np.concatenate([n["flow"][..., 0].ravel() for n in normed])
    assert abs(all_u.mean()) < 1e-5 and all_u.std() == pytest.approx(1.0, rel=1e-4)
    assert "diff" not in normed[0]
