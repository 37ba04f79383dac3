"""Ground truth: the motion stages on the tiny synthetic CASME II set, from the dataset root.

``mertool spot-apex ROOT`` runs detect-faces first; dc-rois lands within a few frames of the true
apex on most clips (a loose check: the tiny set has six clips of 20-28 frames), flow-peak closer
still, and the flow stage's endpoint error inside the moving (AU) regions is well below that of
the zero flow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mertool.store import SampleFile
from mertool.store import schema as S


@pytest.fixture(scope="module")
def synth_apex(synth_casme2, tmp_path_factory):
    """``mertool spot-apex ROOT -o apex.h5 --json``: (path, parsed JSON)."""
    from typer.testing import CliRunner

    from mertool.cli.app import app

    out = tmp_path_factory.mktemp("synth-motion") / "apex.h5"
    r = CliRunner().invoke(
        app, ["spot-apex", str(synth_casme2.dataset_root), "-o", str(out), "--json", "-j", "1"]
    )
    assert r.exit_code == 0, r.stderr
    return out, json.loads(r.stdout)


def test_spot_apex_on_a_dataset_root_runs_the_face_stage_first(synth_apex, synth_casme2):
    out, doc = synth_apex
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex"]
        assert sorted(sf.ids()) == synth_casme2.ids
    assert {c["id"] for c in doc["clips"]} == set(synth_casme2.ids)


def test_dc_rois_lands_near_the_true_apex_on_most_clips(synth_apex, synth_casme2):
    from mertool.synth.truth import truth_table

    _, doc = synth_apex
    truth = truth_table(synth_casme2.truth)
    err = {c["id"]: c["spotted"]["dc-rois"] - truth[c["id"]]["true_apex"] for c in doc["clips"]}
    within = [abs(e) <= 5 for e in err.values()]
    assert sum(within) >= len(within) * 2 / 3, err
    fp = [abs(c["spotted"]["flow-peak"] - truth[c["id"]]["true_apex"]) for c in doc["clips"]]
    assert max(fp) <= 3, fp
    # the report's figures are these errors, in frames and ms (200 fps: 5 ms a frame)
    s = doc["apex_error"]["dc-rois"]
    assert s["n"] == len(err) and s["mean_frames"] == pytest.approx(np.mean(np.abs(list(err.values()))))
    assert s["mean_ms"] == pytest.approx(5.0 * s["mean_frames"])


def test_flow_on_a_dataset_root_beats_zero_flow_inside_the_moving_regions(synth_casme2, tmp_path, cli):
    from mertool.motion.optical_flow import endpoint_error
    from mertool.synth import truth as T

    out = tmp_path / "flow.h5"
    r = cli("flow", synth_casme2.dataset_root, "-o", out, "--json", "-j", "1")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["done"] == len(synth_casme2.ids)
    ours, zero = [], []
    with SampleFile(out) as sf:
        assert sf.stages_done == ["detect-faces", "spot-apex", "flow"]
        for sid in sf.ids():
            rec = sf.record(sid)
            params = rec.get(S.A_FLOW_PARAMS_JSON)
            clip = T.load_clip(synth_casme2.truth, sid)
            # spot-apex ran first on the root and took the sheet's apex (== the true apex here)
            assert rec.get(S.A_APEX_METHOD) == "label" and params["apex_from"] == "apex_spotted"
            assert params["apex_frame"] == clip["attrs"]["true_apex"]
            size = int(rec.get(S.A_FACE_SIZE))
            a = rec.array(S.D_ALIGN_MATRIX)
            truth = T.flow_in_crop(clip[T.D_FLOW], a, a, size)
            mask = T.mask_in_crop(clip[T.D_MASK], a, size)
            ours.append(endpoint_error(rec.array(S.D_FLOW), truth, mask))
            zero.append(endpoint_error(np.zeros_like(truth), truth, mask))
    assert np.mean(ours) < 0.6 * np.mean(zero), (ours, zero)
