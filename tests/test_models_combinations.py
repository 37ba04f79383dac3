"""Forward and backward passes for every combination of every model's choice options.

test_models_forward.py covers every option value and the interacting pairs quickly; this file
runs the full products (issue: "every registry entry and option combination"), about 600
networks at 16-32 px, in about a minute and a half on 2 cores. Numeric options (width,
reduction, dropout, ArcFace scale/margin) keep their defaults here; their other values are in
test_models_forward.py. For dfr-net, ``stages`` and ``attention`` only shape the ResNet
post-fusion module, so the other backbones are crossed with the fusion front-end only, and the
86 M-parameter ViT with the fusion methods (its front-end is the same code as the others').
``head_motion`` only changes what the flow branch receives, so ``none`` is crossed with the
branch subsets and ``temporal`` only.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from mertool.models import build_model, model_names, model_spec
from mertool.models.complexity import example_inputs
from mertool.training.losses import build_loss, output_loss

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("torch_one_thread")]

BRANCHES = ("TSD", "S+D", "T+D", "T+S", "T", "S", "D")
#: the package's own models (other tests register test-only models in the same registry)
PACKAGE_MODELS = [n for n in model_names() if model_spec(n).builder.__module__.startswith("mertool.")]
CHOICES = {
    name: {k: o.choices for k, o in model_spec(name).options.items() if o.choices} for name in PACKAGE_MODELS
}


def _product(name: str, **fixed: object) -> list[dict]:
    """Every combination of ``name``'s choice options, with ``fixed`` ones pinned."""
    axes = {k: v for k, v in CHOICES[name].items() if k not in fixed}
    keys = sorted(axes)
    return [{**fixed, **dict(zip(keys, values))} for values in itertools.product(*(axes[k] for k in keys))]


def _cases() -> list[tuple[str, dict]]:
    cases: list[tuple[str, dict]] = []
    for opts in _product("dfr-net", backbone="resnet", head_motion="median"):
        for branches in BRANCHES:
            cases.append(("dfr-net", {**opts, "branches": branches}))
    for branches, temporal in itertools.product(BRANCHES, CHOICES["dfr-net"]["temporal"]):
        cases.append(
            (
                "dfr-net",
                {"backbone": "resnet", "head_motion": "none", "branches": branches, "temporal": temporal},
            )
        )
    for backbone, fusion, branches in itertools.product(
        ("alexnet", "vgg", "inception"), CHOICES["dfr-net"]["fusion"], BRANCHES
    ):
        cases.append(("dfr-net", {"backbone": backbone, "fusion": fusion, "branches": branches}))
    for fusion in CHOICES["dfr-net"]["fusion"]:
        cases.append(("dfr-net", {"backbone": "vit", "fusion": fusion}))
    for name in PACKAGE_MODELS:
        if name != "dfr-net":
            cases += [(name, opts) for opts in _product(name)]
    return cases


CASES = _cases()
SIZES = {"dfr-net": 16, "dual-branch": 40, "ststnet": 28, "off-apexnet": 28}


def test_the_products_are_complete():
    dfr = [o for n, o in CASES if n == "dfr-net" and o.get("backbone") == "resnet"]
    # stages x fusion x attention x branches x temporal, + head_motion=none x branches x temporal
    assert len(dfr) == 4 * 4 * 4 * 7 * 2 + 7 * 2
    assert sum(1 for n, _ in CASES if n == "resnet-abn") == 3 * 2 * 2 * 2 * 2  # depth input roi abn arcface
    assert sum(1 for n, _ in CASES if n == "dual-branch") == 6 * 3  # variant x depth
    package_models = {n for n in model_names() if model_spec(n).builder.__module__.startswith("mertool.")}
    assert {n for n, _ in CASES} == package_models == set(PACKAGE_MODELS)  # other tests add test-only models


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{sorted(o.items())}" for n, o in CASES])
def test_every_combination_trains(name, options):
    torch.manual_seed(0)
    model = build_model(name, 3, **options).train()
    inputs = example_inputs(model_spec(name).input_names(options), SIZES.get(name, 32), batch=2)
    labels = torch.arange(2)
    out = model(inputs, labels)
    assert out["logits"].shape == (2, 3) and torch.isfinite(out["logits"]).all()
    output_loss(out, labels, build_loss("ce", 3)).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "every parameter takes part in the loss"
    assert any(float(g.abs().sum()) > 0 for g in grads)
