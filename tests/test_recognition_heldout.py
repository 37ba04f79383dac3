"""Issue 13: DFR-Net with its defaults on a held-out synthetic set, against a linear baseline.

The set is made here from what ``make demo`` never shows: ``mertool synth --photos grace_hopper``
(the demo uses ``--photos astronaut,zidane,bus``, make/demo.mk) and a seed no other test, the demo
or the recognition benchmark uses (SEED), 4 subjects x 6 clips (2 per MEGC2019 class). It goes
through the demo's stages (``detect-faces | spot-apex | crop-rois | flow``, a real shell pipe),
then two classifiers are scored leave-one-subject-out, by pooled UF1 (macro F1 over all pooled
predictions; mertool/evaluation/metrics.py defines it so that it equals scikit-learn's):

* a linear baseline computed here with scikit-learn only: the onset -> apex flow field
  average-pooled to 8x8 (128 numbers), ``LogisticRegression`` with its defaults, one fit per
  left-out subject, ``f1_score(average="macro")`` over the pooled predictions;
* ``mertool eval-loso --arch dfr-net --label-map megc2019``: DFR-Net with every default (the
  label map only says which task to score, as the demo's does), pooled UF1 from summary.json.

Measured (CPU, 2 cores shared with other work; eval-loso's numbers do not depend on -j or the
machine's load), pooled UF1 on this test's set (seed 1313):

* linear 0.9365 (0.8000 with the features standardised first);
* DFR-Net's first defaults at 56 x 56: 0.6144 (per fold 0.40, 0.67, 0.67, 0.53), 274 s;
* at 20 x 20 (second round): 0.9185 (per fold 0.82, 1.00, 0.82, 1.00), 34 s, one clip below the
  linear model;
* with today's defaults (third round: the temporal branch subtracts the flow's median, the
  residual head motion, ``head_motion=median``): **1.0000** (every fold 1.00), 62 s.

Every choice was made on four other held-out sets (other photos and seeds, never this one;
docs/training.md has the tables); this set was only run to check choices already made there. On a further set made after the third round's choice (zidane + bus, seed 8080, 6 x 6)
DFR-Net's defaults scored 1.0000 against the linear model's 0.8802.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mertool.store import SampleFile
from mertool.store import schema as S

pytestmark = pytest.mark.slow

MERTOOL = str(Path(sys.executable).with_name("mertool"))
ENV = {
    **os.environ,
    "YOLO_OFFLINE": "1",
    "YOLO_CONFIG_DIR": str(Path(__file__).parents[1] / ".cache" / "ultralytics"),
    "MPLBACKEND": "Agg",
}
#: Seeds of synthetic sets elsewhere: the tests 0, 2, 3 (test_faults' stage seeds 1, 2), the demo
#: and make synth-sheet 0, the recognition benchmark 4242. This one is used nowhere else.
SEED = 1313
SUBJECTS = 4
CLIPS = 6
#: The bundled photo make/demo.mk leaves out (DEMO_SYNTH): none of these faces is in the demo.
PHOTOS = "grace_hopper"
POOL = 8
#: Three balanced classes: chance UF1 is about 0.33. The linear baseline measured 0.94 here.
BASELINE_FLOOR = 0.7
#: What DFR-Net with its defaults must reach (measured 1.0; two clips of 24 below that).
FLOOR = 0.9


def _run(cmd: str, timeout: int = 900) -> subprocess.CompletedProcess:
    r = subprocess.run(
        ["bash", "-c", "set -e -o pipefail; " + cmd], capture_output=True, text=True, env=ENV, timeout=timeout
    )
    if r.returncode != 0:  # not an AssertionError: a crash is not a low score
        raise RuntimeError(f"{cmd}\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="module")
def heldout_flow(tmp_path_factory) -> Path:
    """The held-out set through the demo's stages (each with its default worker count): flow.h5."""
    base = tmp_path_factory.mktemp("heldout")
    m, q = shlex.quote(MERTOOL), shlex.quote
    synth, flow = base / "synth", base / "flow.h5"
    _run(
        f"{m} -q synth {q(str(synth))} --photos {PHOTOS} --subjects {SUBJECTS} --clips-per-subject {CLIPS} --seed {SEED}"
    )
    _run(
        f"{m} -q detect-faces {q(str(synth / 'CASME2'))} | {m} -q spot-apex | {m} -q crop-rois "
        f"| {m} -q flow -o {q(str(flow))} > /dev/null"
    )
    return flow


def _pooled(flow: np.ndarray, n: int = POOL) -> np.ndarray:
    """(H, W, 2) -> (n * n * 2,): the mean of each of n x n (nearly) equal blocks."""
    rows = np.array_split(np.arange(flow.shape[0]), n)
    cols = np.array_split(np.arange(flow.shape[1]), n)
    return np.array([[flow[r][:, c].mean(axis=(0, 1)) for c in cols] for r in rows]).ravel()


def linear_baseline(path: Path) -> tuple[float, int]:
    """Pooled LOSO UF1 of logistic regression on the 8x8-pooled flow, and the sample count."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    X, y, groups = [], [], []
    with SampleFile(path) as sf:
        for rec in sf.records(ok_only=True):
            X.append(_pooled(np.asarray(rec.array("flow"), np.float64)))
            y.append(rec.get(S.A_LABEL))
            groups.append(rec.get(S.A_SUBJECT))
    X, y, groups = np.array(X), np.array(y), np.array(groups)
    true, pred = [], []
    for subject in sorted(set(groups)):
        test = groups == subject
        model = LogisticRegression(max_iter=5000).fit(X[~test], y[~test])
        true += list(y[test])
        pred += list(model.predict(X[test]))
    return float(f1_score(true, pred, average="macro")), len(y)


@pytest.fixture(scope="module")
def baseline(heldout_flow) -> float:
    uf1, n = linear_baseline(heldout_flow)
    assert n == SUBJECTS * CLIPS  # every clip made it through the stages
    return uf1


def test_the_held_out_set_is_learnable(baseline, heldout_flow, record_property):
    """The set carries the classes in its flow (else the comparison below would mean nothing)."""
    record_property("linear_uf1", round(baseline, 4))
    with SampleFile(heldout_flow.parent / "synth" / "synth_truth.h5") as sf:
        params = sf.provenance["params"]
    assert params["photos"] == [PHOTOS] and params["seed"] == SEED
    assert baseline >= BASELINE_FLOOR, baseline


@pytest.fixture(scope="module")
def dfr_net_summary(heldout_flow, tmp_path_factory) -> dict:
    """``mertool eval-loso --arch dfr-net`` with every default on the held-out set: summary.json."""
    out = tmp_path_factory.mktemp("dfr") / "results"
    q = shlex.quote
    _run(
        f"{q(MERTOOL)} -q eval-loso {q(str(heldout_flow))} --arch dfr-net --label-map megc2019 --no-plots -o {q(str(out))}"
    )
    s = json.loads((out / "summary.json").read_text())
    assert s["complete"] and s["n_samples"] == SUBJECTS * CLIPS and s["n_folds"] == SUBJECTS
    assert s["classes"] == ["negative", "positive", "surprise"]
    return s


def test_dfr_net_defaults_learn_the_held_out_micro_motions(dfr_net_summary, record_property):
    """Well above chance (0.33) on faces and motions it never trained on: measured 1.0."""
    record_property("dfr_net_uf1", dfr_net_summary["uf1"])
    assert dfr_net_summary["uf1"] >= FLOOR, dfr_net_summary["uf1"]


def test_dfr_net_defaults_reach_the_linear_baseline_on_held_out_faces(baseline, dfr_net_summary):
    """Issue 13's done-when: at or above the linear model of the pooled flow (1.0 against 0.94)."""
    assert dfr_net_summary["uf1"] >= baseline, (dfr_net_summary["uf1"], baseline)
