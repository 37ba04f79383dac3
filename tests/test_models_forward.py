"""Forward and backward passes for every registry entry and a covering set of its options.

Here each model runs on a set that covers every value of every option at least once (numeric
options included) and every pair of the options whose code paths interact (dfr-net: fusion x
branches, stages x attention; resnet-abn: input x roi x abn x arcface), in seconds; the full
products of the choice options run in test_models_combinations.py. Inputs are small (16-40 px,
batch 2).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import pytest
import torch

from mertool.models import build_model, model_names, model_spec
from mertool.models.base import subtract_median_motion
from mertool.models.complexity import example_inputs
from mertool.training.losses import build_loss, output_loss

NUM_CLASSES = 3
SIZES = {"ststnet": 28, "off-apexnet": 28, "dual-branch": 40, "dfr-net": 16}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@lru_cache(maxsize=12)
def _cached(name: str, frozen: tuple) -> torch.nn.Module:
    """Models used by several tests are built once (building ResNet-50s dominates the run time);
    the cache is bounded so a session does not hold every model of the file in memory."""
    torch.manual_seed(0)
    return build_model(name, NUM_CLASSES, **dict(frozen))


def model_for(name: str, **options) -> torch.nn.Module:
    model = _cached(name, tuple(sorted(options.items())))
    model.zero_grad(set_to_none=True)
    return model


def _run(name: str, options: dict, size: int | None = None, batch: int = 2, channels: int = 3):
    torch.manual_seed(0)
    spec = model_spec(name)
    model = model_for(name, **options)
    model.train()
    size = size or SIZES.get(name, 32)
    inputs = example_inputs(spec.input_names(options), size, batch=batch, channels=channels)
    labels = torch.arange(batch) % NUM_CLASSES
    out = model(inputs, labels)
    assert out["logits"].shape == (batch, NUM_CLASSES)
    assert torch.isfinite(out["logits"]).all()
    loss = output_loss(out, labels, build_loss("ce", NUM_CLASSES))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "every parameter takes part in the loss"
    assert any(g.abs().sum() > 0 for g in grads)
    model.zero_grad(set_to_none=True)  # free the gradients of a cached model
    return model, out


def _cases():
    cases = []
    for name in ("resnet50", "se-resnet50", "resnext50", "se-resnext50"):
        cases.append((name, {}))
    cases.append(("resnet50-se", {}))
    cases.append(("resnet50-cbam", {}))
    # the other placement builds the same ResNet-50 with other blocks: one full build here, the
    # block-level behaviour of both placements in test_models_layers.py
    cases.append(("resnet50-cbam", {"placement": "branch", "reduction": 8}))
    for inp, roi, abn, arcface in itertools.product(
        ("apex", "3frames"), (False, True), (True, False), (False, True)
    ):
        cases.append(("resnet-abn", {"input": inp, "roi": roi, "abn": abn, "arcface": arcface}))
    cases.append(("resnet-abn", {"depth": 34}))
    cases.append(("resnet-abn", {"depth": 50, "input": "3frames", "arcface": True}))
    for variant in ("GFEM", "LTFEM", "DBFEM", "DBFEM+CAFFM", "CAFFM_L", "CAFFM_G"):
        cases.append(("dual-branch", {"variant": variant}))
    for depth in (18, 34):
        cases.append(("dual-branch", {"depth": depth}))
    cases.append(("dual-branch", {"depth": 18, "variant": "GFEM", "dropout": 0.5}))
    for fusion, branches in itertools.product(
        ("attn", "add", "mul", "cat"), ("TSD", "S+D", "T+D", "T+S", "T", "S", "D")
    ):
        cases.append(("dfr-net", {"fusion": fusion, "branches": branches, "stages": 1}))
    for stages, attention in itertools.product((1, 2, 3, 4), ("none", "sa", "ca", "all")):
        cases.append(("dfr-net", {"stages": stages, "attention": attention}))
    for temporal, branches in itertools.product(("gate", "gate+skip"), ("TSD", "T+S", "T+D")):
        cases.append(("dfr-net", {"temporal": temporal, "branches": branches, "stages": 1}))
    for branches in ("TSD", "T"):  # head_motion only touches the flow branch's input
        cases.append(("dfr-net", {"head_motion": "none", "branches": branches, "stages": 1}))
    for backbone in ("alexnet", "vgg", "inception", "vit"):
        cases.append(("dfr-net", {"backbone": backbone}))
    cases.append(
        ("dfr-net", {"backbone": "vgg", "fusion": "cat", "width": 16, "reduction": 4, "dropout": 0.2})
    )
    cases.append(("ststnet", {}))
    cases.append(("off-apexnet", {"dropout": 0.0}))
    # the hand-crafted baselines: features + an SVM's linear layer (trainable like any other)
    cases.append(("lbp-top-svm", {}))
    cases.append(("lbp-top-svm", {"method": "uniform", "class_weight": "none", "blocks": 2, "C": 0.1}))
    cases.append(("bi-woof-svm", {}))
    cases.append(("bi-woof-svm", {"class_weight": "none", "bins": 4}))
    cases.append(("hoof-svm", {}))
    cases.append(("hoof-svm", {"variant": "mdmo", "class_weight": "none"}))
    return cases


CASES = _cases()

#: option values not in CASES because another registry entry builds exactly that network
#: (checked by test_equivalent_entries_build_the_same_network).
EQUIVALENT = {("resnet50-se", "placement", "branch"): ("se-resnet50", {})}


def test_equivalent_entries_build_the_same_network():
    for (name, key, value), (other, other_opts) in EQUIVALENT.items():
        with torch.device("meta"):
            a = build_model(name, NUM_CLASSES, **{key: value})
            b = build_model(other, NUM_CLASSES, **other_opts)
        shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in (a, b)]
        assert shapes[0] == shapes[1]
        assert [type(m).__name__ for m in a.modules()] == [type(m).__name__ for m in b.modules()]
        assert a.layer1[0].placement == b.layer1[0].placement == value


def test_models_pickle():
    """Whole models survive pickling (multiprocessing, torch.save(model)): no dynamic classes."""
    import pickle

    model = model_for("dfr-net", stages=1, attention="all")
    copy = pickle.loads(pickle.dumps(model))
    assert type(copy.backbone.layer1[0]).__name__ == "AttentionBasicBlock"
    with torch.device("meta"):
        se = build_model("resnet50-se", NUM_CLASSES)
    assert pickle.loads(pickle.dumps(se)).layer4[2].placement == "post"


def test_cases_cover_every_registry_entry_and_option_value():
    names = {n for n, _ in CASES}
    # the zoo's own entries (other tests may register small models of their own in the session)
    zoo = {n for n in model_names() if model_spec(n).builder.__module__.startswith("mertool.models.")}
    assert names == zoo
    for name in names:
        spec = model_spec(name)
        for key, option in spec.options.items():
            if key == "pretrained":
                continue  # tested in test_models_pretrained.py
            seen = {opts.get(key, option.default) for n, opts in CASES if n == name}
            seen |= {v for (n, k, v) in EQUIVALENT if n == name and k == key}
            if option.choices:
                assert set(option.choices) <= seen, (
                    f"{name}: {key} values {set(option.choices) - seen} untested"
                )
            else:
                assert len(seen) >= 1


@pytest.mark.parametrize(
    ("name", "options"), CASES, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for n, o in CASES]
)
def test_forward_backward(name, options):
    _run(name, options, size=16 if options.get("backbone") == "vit" else None)


@pytest.mark.parametrize("name", ["resnet50", "resnet-abn", "dual-branch", "dfr-net"])
def test_gray_inputs_are_accepted(name):
    _, out = _run(name, {}, channels=1)
    assert out["logits"].shape == (2, NUM_CLASSES)


@pytest.mark.parametrize(("size", "stages", "grid"), [(24, 1, 24), (40, 3, 10)])
def test_dfr_net_any_size_and_attention_maps(size, stages, grid):
    _, out = _run("dfr-net", {"stages": stages}, size=size)
    maps = out["attention"]
    assert list(maps) == [f"layer{i}.1.attn" for i in range(1, stages + 1)]
    last = maps[f"layer{stages}.1.attn"]
    assert last.shape == (2, 1, grid, grid)
    assert ((last >= 0) & (last <= 1)).all()


def test_dfr_net_attention_none_has_no_maps():
    _, out = _run("dfr-net", {"attention": "none"})
    assert "attention" not in out


def test_abn_outputs_and_attention_map():
    _, out = _run("resnet-abn", {}, size=64)
    assert len(out["aux_logits"]) == 1 and out["aux_logits"][0].shape == (2, NUM_CLASSES)
    assert out["aux_weight"] == 1.0
    assert out["attention"]["abn"].shape == (2, 1, 4, 4)  # stride 16


def test_abn_3frames_stem_collapses_time():
    model = model_for("resnet-abn", input="3frames", roi=False, abn=True, arcface=False)
    assert tuple(model.conv1.conv.weight.shape) == (64, 1, 3, 7, 7)
    assert model.conv1.conv.padding == (0, 3, 3)
    assert model.conv1(torch.rand(2, 3, 32, 32)).shape == (2, 64, 16, 16)


def test_abn_roi_mosaic_input_shape():
    model = model_for("resnet-abn", input="apex", roi=True, abn=True, arcface=False)
    assert model.input_names == ("rois15",)
    out = model({"rois15": torch.rand(2, 15, 3, 16, 16)})
    assert out["attention"]["abn"].shape == (2, 1, 3, 5)  # 48 x 80 mosaic, stride 16


def test_arcface_loss_logits_only_with_labels():
    model = model_for("resnet-abn", input="apex", roi=False, abn=True, arcface=True).eval()
    x = {"face": torch.rand(2, 3, 32, 32)}
    assert "loss_logits" not in model(x)
    out = model(x, torch.tensor([0, 1]))
    assert out["loss_logits"].shape == (2, NUM_CLASSES)
    assert (out["logits"].abs() <= 30.0 + 1e-4).all()  # s * cos(theta), s = 30
    # the margin lowers the target logit only
    diff = out["logits"] - out["loss_logits"]
    assert diff[0, 0] > 0 and diff[1, 1] > 0
    assert torch.allclose(diff[0, 1:], torch.zeros(2)) and diff[1, 0] == 0 and diff[1, 2] == 0


def test_cbam_resnet_exposes_maps_per_stage():
    _, out = _run("resnet50-cbam", {}, size=64, batch=1)
    assert sorted(out["attention"]) == ["layer1.2.attn", "layer2.3.attn", "layer3.5.attn", "layer4.2.attn"]
    assert out["attention"]["layer1.2.attn"].shape == (1, 1, 16, 16)


def test_dual_branch_maps_and_inputs():
    model, out = _run("dual-branch", {})
    assert model.input_names == ("face", "au5")
    assert set(out["attention"]) == {"caffm.global_attention", "caffm.local_attention", "caffm.post"}
    assert type(model_for("dual-branch", variant="CAFFM_L").caffm.global_attention).__name__ == "Identity"
    assert type(model_for("dual-branch", variant="CAFFM_L").caffm.local_attention).__name__ == "Sequential"
    assert type(model_for("dual-branch", variant="CAFFM_G").caffm.local_attention).__name__ == "Identity"
    assert model_for("dual-branch", variant="GFEM").input_names == ("face",)
    assert model_for("dual-branch", variant="LTFEM").input_names == ("au5",)
    assert model_for("dual-branch", variant="DBFEM").caffm is None


def test_dfr_net_branch_subsets_skip_their_fusion_step():
    m = build_model("dfr-net", 3, branches="S+D")
    assert m.sd_fusion is not None and m.t_fusion is None and m.input_names == ("apex", "diff")
    m = build_model("dfr-net", 3, branches="T+D")
    assert m.sd_fusion is None and m.t_fusion is not None and m.input_names == ("flow", "diff")
    m = build_model("dfr-net", 3, branches="t,s")
    assert m.sd_fusion is None and m.t_fusion is not None and m.input_names == ("flow", "apex")
    m = build_model("dfr-net", 3, fusion="add")
    assert m.sd_fusion is None and m.t_fusion is None
    assert model_spec("dfr-net").input_names({"branches": "D+T"}) == ("flow", "diff")


def test_dfr_net_eq10_weights_are_in_unit_interval():
    from mertool.models.dfr_net import TemporalAttentionFusion

    fusion = TemporalAttentionFusion(8)
    a = fusion.weights(torch.randn(2, 8, 5, 5), torch.randn(2, 8, 5, 5))
    assert a.shape == (2, 8, 1, 1) and ((a > 0) & (a < 1)).all()


def test_dfr_net_mul_fusion_is_elementwise_product():
    m = build_model("dfr-net", 3, fusion="mul").eval()
    x = example_inputs(m.input_names, 8, batch=1)
    x_t = subtract_median_motion(x["flow"])  # the default head_motion=median
    feats = [m.shallow["T"](x_t), m.shallow["S"](x["apex"]), m.shallow["D"](x["diff"])]
    assert torch.allclose(m.fuse(x), feats[0] * feats[1] * feats[2])


def test_dfr_net_temporal_skip_adds_the_flow_map_after_the_gate():
    import torch

    from mertool.models.registry import build_model

    torch.manual_seed(0)
    gate = build_model("dfr-net", 3, temporal="gate", stages=1).eval()
    skip = build_model("dfr-net", 3, temporal="gate+skip", stages=1).eval()
    skip.load_state_dict(gate.state_dict())  # the skip adds no parameters
    x = {
        "flow": torch.randn(2, 3, 16, 16),
        "apex": torch.rand(2, 3, 16, 16),
        "diff": torch.rand(2, 3, 16, 16),
    }
    with torch.no_grad():
        ft = gate.shallow["T"](subtract_median_motion(x["flow"]))
        assert torch.allclose(skip.fuse(x), gate.fuse(x) + ft)


def test_subtract_median_motion_removes_a_shift_of_the_whole_face_and_keeps_the_strain():
    flow = torch.zeros(2, 3, 5, 5)
    flow[0, :, 1:3, 1:3] = torch.tensor([2.0, -1.0, 0.5])[:, None, None]  # a local movement
    shifted = flow + torch.tensor([0.7, -0.3, 0.0])[None, :, None, None]  # + head motion in u, v
    shifted[1] += torch.arange(3.0)[:, None, None]  # sample 1: only a shift (strain +2)
    out = subtract_median_motion(shifted)
    assert torch.allclose(out[0, :2], flow[0, :2])  # 4 of 25 pixels move: the median is the shift
    assert torch.allclose(out[1, :2], torch.zeros(2, 5, 5))
    assert torch.equal(out[:, 2], shifted[:, 2])  # channel 2 (strain) untouched
    # the lower median of an even count, by hand: 1, 2, 3, 4 -> 2
    lower = subtract_median_motion(torch.arange(1.0, 5.0).reshape(1, 1, 2, 2))
    assert lower.flatten().tolist() == [-1, 0, 1, 2]


def test_dfr_net_removes_head_motion_by_default_and_the_preset_keeps_the_paper_flow():
    torch.manual_seed(0)
    default = build_model("dfr-net", 3, stages=1).eval()
    paper = build_model("dfr-net", 3, stages=1, head_motion="none").eval()
    paper.load_state_dict(default.state_dict())  # no parameters of its own
    x = {
        "flow": torch.randn(1, 3, 12, 12),
        "apex": torch.rand(1, 3, 12, 12),
        "diff": torch.rand(1, 3, 12, 12),
    }
    moved = {**x, "flow": x["flow"] + torch.tensor([1.5, -2.0, 0.0])[None, :, None, None]}
    with torch.no_grad():
        assert torch.allclose(default.fuse(moved), default.fuse(x), atol=1e-5)  # the shift is gone
        assert not torch.allclose(paper.fuse(moved), paper.fuse(x), atol=1e-3)
    with pytest.raises(Exception, match="head_motion"):
        build_model("dfr-net", 3, head_motion="mean")
