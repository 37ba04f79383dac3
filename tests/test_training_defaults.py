"""Sound training defaults for small MER sets: BatchNorm statistics recomputed with the kept
weights, per-architecture training defaults under the papers' presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mertool.training.config import resolve_config
from mertool.training.loop import recalibrate_batchnorm


class _Rows:
    """The minimal BatchSet interface: ``set[list_of_positions] -> (inputs, labels, rows)``."""

    def __init__(self, x: torch.Tensor):
        self.x = x
        self.augment = "must be switched off during recalibration"

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, pos):
        assert self.augment is None  # recalibration never sees augmented samples
        pos = torch.as_tensor(pos)
        return {"x": self.x[pos]}, torch.zeros(len(pos), dtype=torch.long), pos


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)
        self.bn = torch.nn.BatchNorm1d(4)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, inputs, labels=None):
        return {"logits": self.drop(self.bn(self.lin(inputs["x"])))}


def test_recalibration_gives_the_statistics_of_the_final_weights():
    torch.manual_seed(0)
    net = _Net()
    x = torch.randn(10, 3) * 3 + 1
    data = _Rows(x)
    net.bn.running_mean.fill_(123.0)  # what a lagging average would hold
    rng_before = torch.get_rng_state()
    assert recalibrate_batchnorm(net, data, batch_size=5, device="cpu") == 1
    with torch.no_grad():
        h = net.lin(x)
    # cumulative average over two batches of five: the mean of the batch means / unbiased variances
    means = torch.stack([h[:5].mean(0), h[5:].mean(0)]).mean(0)
    variances = torch.stack([h[:5].var(0), h[5:].var(0)]).mean(0)
    assert torch.allclose(net.bn.running_mean, means, atol=1e-6)
    assert torch.allclose(net.bn.running_var, variances, atol=1e-5)
    assert net.bn.momentum == 0.1 and not net.training  # restored; model left in eval mode
    assert data.augment is not None  # augmentation restored
    assert torch.equal(torch.get_rng_state(), rng_before)  # dropout stayed off: no random draws


def test_a_model_without_batchnorm_is_left_alone():
    net = torch.nn.Sequential()
    assert recalibrate_batchnorm(net, _Rows(torch.randn(4, 3)), 2, "cpu") == 0


def test_architecture_defaults_sit_under_the_preset_and_the_flags():
    plain = resolve_config(None, {"arch": "dfr-net"})
    assert plain.fit.weight_decay == pytest.approx(1e-3) and plain.augment == "hflip"
    assert plain.fit.recalibrate_bn is True
    paper = resolve_config("dfr-net-004", {})
    assert paper.fit.weight_decay == 0.0 and paper.augment == "hflip,crop=0.1" and paper.fit.lr == 1e-5
    assert paper.options == {"temporal": "gate", "dropout": 0.0, "head_motion": "none"}
    flag = resolve_config(None, {"arch": "dfr-net", "weight_decay": 0.0, "augment": "none"})
    assert flag.fit.weight_decay == 0.0 and flag.augment == "none"
    other = resolve_config(None, {"arch": "off-apexnet"})
    assert other.fit.weight_decay == 0.0 and other.augment == "none"  # no defaults of its own
    off = resolve_config(None, {"arch": "dfr-net", "recalibrate_bn": False})
    assert off.fit.recalibrate_bn is False


def test_fit_recalibrates_after_the_last_epoch(tmp_path):
    from helpers_training import TINY, write_flow_file

    from mertool.evaluation.protocols import sample_groups
    from mertool.training.data import load_table
    from mertool.training.trainer import train_on_rows

    path = write_flow_file(tmp_path / "f.h5", subjects=3, per_class=2, size=12)
    table = load_table(path, ("flow", "apex"), 12, "megc2019", progress=False)
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    rows = np.arange(len(table))
    cfg = resolve_config(None, {"arch": TINY, "epochs": 2, "lr": 0.05, "input_size": 12})
    trained = train_on_rows(table, rows, groups, cfg, seed=0)
    bn = trained.model.flow[1]
    from mertool.training.data import BatchSet

    x, _, _ = BatchSet(table, rows, trained.normalizer)[list(range(len(rows)))]
    with torch.no_grad():
        h = trained.model.flow[0](x["flow"])
    assert torch.allclose(bn.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)


def test_a_preset_model_options_stay_with_its_own_architecture():
    cfg = resolve_config("dfr-net-004", {"arch": "off-apexnet"})
    assert cfg.arch == "off-apexnet" and cfg.options == {} and cfg.fit.lr == 1e-5
    assert resolve_config("dfr-net-004", {"arch": "dfr-net"}).options == {
        "temporal": "gate",
        "dropout": 0.0,
        "head_motion": "none",
    }


def test_dfr_net_trains_at_20_px_by_default_and_its_preset_at_the_papers_56():
    assert resolve_config(None, {"arch": "dfr-net"}).input_size == 20
    assert resolve_config("dfr-net-004", {}).input_size == 56
    assert resolve_config("dfr-net-004", {"input_size": 32}).input_size == 32  # a flag wins
    # the preset's input size is DFR-Net's: a baseline run with its recipe keeps its own size
    assert resolve_config("dfr-net-004", {"arch": "off-apexnet"}).input_size is None
