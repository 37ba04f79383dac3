"""Parameter and FLOP counting, the paper table, and the counts committed in docs/models.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from mertool.errors import MertoolError
from mertool.models import build_model, model_names, model_spec
from mertool.models.complexity import count_macs, count_params, example_inputs, latency_ms, profile
from mertool.models.paper_table import ROWS, TOLERANCE, compute, outside_tolerance, to_csv, to_markdown

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DOCS = Path(__file__).resolve().parents[1] / "docs" / "models.md"


@pytest.fixture(scope="module")
def table():
    return compute()


def test_flops_convention_matches_torchvision_resnet50():
    """torchvision lists ResNet-50 as 25,557,032 parameters and 4.09 'GFLOPS' (multiply-accumulates)."""
    p = profile("resnet50", num_classes=1000)
    assert p["params"] == 25_557_032
    assert p["macs"] / 1e9 == pytest.approx(4.09, abs=0.01)


def test_meta_count_equals_a_real_forward_count():
    model = build_model("dfr-net", 3, stages=1, width=8)
    inputs = example_inputs(model.input_names, 20)
    real = count_macs(model, inputs)
    meta = profile("dfr-net", {"stages": 1, "width": 8}, size=20)["macs"]
    assert real == meta > 0
    assert count_params(model) == profile("dfr-net", {"stages": 1, "width": 8}, size=20)["params"]
    # hand count of the first shallow branch conv: 20*20 positions x 27 x 8
    shallow = count_macs(_Wrap(model.shallow["T"]), {"x": torch.rand(1, 3, 20, 20)})
    assert shallow == 20 * 20 * 27 * 8


class _Wrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, inputs):
        return self.m(inputs["x"])


def test_example_inputs_shapes():
    x = example_inputs(("flow", "apex", "frames3", "au5", "rois15"), (40, 30), batch=2, channels=1)
    assert x["flow"].shape == (2, 3, 40, 30) and x["frames3"].shape == (2, 3, 40, 30)
    assert x["apex"].shape == (2, 1, 40, 30)
    assert x["au5"].shape == (2, 5, 1, 16, 16) and x["rois15"].shape == (2, 15, 1, 10, 10)
    assert example_inputs(("au5",), 282, region_size=112)["au5"].shape == (1, 5, 3, 112, 112)


def test_every_model_profiles_at_its_default_input():
    zoo = [n for n in model_names() if model_spec(n).builder.__module__.startswith("mertool.models.")]
    assert len(zoo) >= 11
    for name in zoo:
        p = profile(name)
        # the hand-crafted baselines' parameters are their SVM's weights: K x 200 for Bi-WOOF/HOOF
        small = model_spec(name).builder.__module__ == "mertool.models.handcrafted"
        assert p["params"] > (100 if small else 1000) and p["macs"] > 0, name
        assert p["input_size"] == model_spec(name).input_size


def test_latency_helper():
    model = build_model("ststnet", 3)
    ms = latency_ms(model, example_inputs(("flow",), 28), repeats=3, warmup=1, threads=1)
    assert ms > 0


def test_paper_table_within_tolerance(table):
    assert len(table) == len(ROWS)
    assert outside_tolerance(table) == []
    for row in table:
        assert abs(row["params_ratio"] - 1) <= TOLERANCE and abs(row["gflops_ratio"] - 1) <= TOLERANCE
    md = to_markdown(table)
    assert md.count("\n") == len(ROWS) + 2 and "| 004 T9 | 3 layers | dfr-net |" in md
    assert to_csv(table).splitlines()[0].startswith("source,row,model")


def _committed() -> dict[tuple[str, str], tuple[float, float]]:
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- models-table:begin -->(.*?)<!-- models-table:end -->", text, re.S)
    assert block, "docs/models.md lost its models-table block"
    rows = {}
    for line in block.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0] not in ("paper", "---"):
            rows[(cells[0], cells[1])] = (float(cells[6]), float(cells[9]))
    return rows


def test_counts_committed_in_docs(table):
    """The numbers docs/models.md states are what the code builds (within 1 %)."""
    committed = _committed()
    assert len(committed) == len(ROWS)
    for row in table:
        params_m, gflops = committed[(row["source"], row["row"])]
        assert row["params_m"] == pytest.approx(params_m, rel=0.01), row["row"]
        assert row["gflops"] == pytest.approx(gflops, rel=0.01), row["row"]


def test_registry_errors_are_mertool_errors():
    with pytest.raises(MertoolError, match="unknown model"):
        build_model("resnet51", 3)
    with pytest.raises(MertoolError, match="no option"):
        build_model("dfr-net", 3, layers=2)
    with pytest.raises(MertoolError, match="not one of"):
        build_model("dfr-net", 3, fusion="sum")
    with pytest.raises(MertoolError, match="not a subset of T, S, D"):
        build_model("dfr-net", 3, branches="TX")
    with pytest.raises(MertoolError, match="needs input 'flow'"):
        build_model("ststnet", 3)({"apex": torch.rand(1, 3, 28, 28)})
