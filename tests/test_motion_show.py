"""The motion panels of ``mertool show``: colour wheel, apex curve, flow and its maps."""

from __future__ import annotations

import numpy as np
import pytest

from mertool.store import SampleFile, SampleWriter
from mertool.store import schema as S


def test_flow_to_rgb_maps_direction_to_hue_and_magnitude_to_brightness():
    from mertool.visualize.motion import flow_to_rgb

    flow = np.array([[[1, 0], [-1, 0], [0, 0], [0.5, 0]]], np.float32)
    rgb = flow_to_rgb(flow)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0]  # rightwards: red, full brightness
    assert rgb[0, 1].tolist() == [0, 255, 255]  # leftwards: the opposite hue, cyan
    assert rgb[0, 2].tolist() == [0, 0, 0]  # no motion: black
    assert rgb[0, 3].tolist() == [128, 0, 0]  # half the largest magnitude: half as bright
    assert flow_to_rgb(np.zeros((2, 2, 2), np.float32)).max() == 0


def test_color_wheel_is_a_disc():
    from mertool.visualize.motion import color_wheel

    wheel = color_wheel(33)
    assert wheel.shape == (33, 33, 4)
    assert wheel[16, 16, 3] == 255 and wheel[0, 0, 3] == 0
    assert wheel[16, 32, :3].tolist() == [255, 0, 0]  # the right edge: rightwards flow's colour


@pytest.fixture
def motion_record_file(tmp_path):
    path = tmp_path / "flow.h5"
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    flow = np.stack([0.02 * (xx - 16), -0.01 * (yy - 16)], axis=-1).astype(np.float32)
    with SampleWriter(path, S.STAGE_FLOW) as w:
        w.write(
            "toy/s1/c1",
            arrays={
                S.D_FRAME_NUMBERS: np.arange(10, 30, dtype=np.int32),
                S.D_APEX_CURVE: np.sin(np.linspace(0, np.pi, 20)).astype(np.float32),
                S.D_FLOW: flow,
                S.D_STRAIN: np.full((32, 32), 0.02, np.float32),
                S.D_DIFF: np.random.default_rng(0).random((32, 32, 3)).astype(np.float32),
                S.D_ONSET_IMAGE: np.zeros((32, 32, 3), np.uint8),
                S.D_APEX_IMAGE: np.full((32, 32), 128, np.uint8),
            },
            attrs={
                S.A_ONSET: 10,
                S.A_OFFSET: 29,
                S.A_APEX: 19,
                S.A_APEX_SPOTTED: 20,
                S.A_APEX_METHOD: "dc-rois",
                S.A_FPS: 200.0,
                S.A_FLOW_METHOD: "tvl1",
                S.A_FLOW_PARAMS_JSON: {
                    "preset": "micro",
                    "onset_frame": 10,
                    "apex_frame": 20,
                    "strain": "eq7",
                },
                S.A_NORMALIZATION: "none",
            },
        )
    return path


def test_motion_panels_are_registered_and_draw(motion_record_file, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mertool.visualize import applicable, registered

    panels = registered()
    assert {"apex-curve", "flow", "motion-maps"} <= set(panels)
    with SampleFile(motion_record_file) as sf:
        rec = sf.record("toy/s1/c1")
        names = [p.name for p in applicable(rec)]
        assert {"apex-curve", "flow", "motion-maps"} <= set(names)
        for name in ("apex-curve", "flow", "motion-maps"):
            fig, ax = plt.subplots(figsize=(6, 2))
            panels[name].draw(rec, ax)
            if name == "apex-curve":
                assert "+1 frames (+5 ms)" in ax.get_title()  # spotted 20 vs labelled 19 at 200 fps
                assert len(ax.lines) >= 3  # the curve and the two apex markers
            else:
                assert len(ax.images) == 4  # flow: onset, apex, flow, wheel; maps: u, v, strain, diff
            fig.savefig(tmp_path / f"{name}.png")
            plt.close(fig)
            assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_mertool_show_draws_the_motion_panels(motion_record_file, tmp_path, cli):
    out = tmp_path / "show.png"
    r = cli("show", motion_record_file, "toy/s1/c1", "--panels", "apex-curve,flow,motion-maps", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert out.stat().st_size > 5000
