"""Parameters, FLOPs and latency of a model, for ``mertool models`` and the paper table.

**FLOPs convention.** Papers in this field (and torchvision's model table, and Hu et al.'s
"3.87 GFLOPs" for SE-ResNet-50) report *multiply-accumulates* under the name FLOPs. We do the
same: ``macs`` counts one per multiply-add of every convolution, linear layer, matrix product and
attention product, as :class:`torch.utils.flop_counter.FlopCounterMode` counts them (it reports
2 FLOPs per MAC; we divide by 2). Element-wise work (BN, activations, pooling, attention
gating) is not counted, as in the papers' tools. ResNet-50 at 224 x 224: 4.09 G.

Counting runs on the ``meta`` device: the model and inputs have shapes but no data, so even
ViT-B costs milliseconds and nothing is computed.

Example inputs (:func:`example_inputs`): image-like inputs (B, C, H, W) at the requested size;
region sets at a fraction of it: ``au5`` regions 0.4 H (113 px for paper 002's 282 px face;
the paper table uses 112), ``rois15`` regions H/4 (the 5 x 3 mosaic is then 3/4 x 5/4 of the face).
"""

from __future__ import annotations

import copy
import statistics
import time
from functools import cache
from typing import Any

import torch
from torch import nn

from mertool.models.inputs import INPUTS


def example_inputs(
    names: tuple[str, ...] | list[str],
    size: int | tuple[int, int],
    batch: int = 1,
    channels: int = 3,
    device: str | torch.device = "cpu",
    region_size: int | tuple[int, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Random inputs for ``names``: images (batch, C, H, W), regions (batch, R, C, h, w)."""
    h, w = (size, size) if isinstance(size, int) else size
    out = {}
    for name in names:
        kind = INPUTS.get(name)
        if kind is not None and kind.regions:
            count, frac = kind.regions, kind.region_fraction
            if region_size is None:
                rh = rw = max(8, round(h * frac))
            else:
                rh, rw = (region_size, region_size) if isinstance(region_size, int) else region_size
            out[name] = torch.rand(batch, count, channels, rh, rw, device=device)
        else:
            c = kind.channels if kind is not None and kind.channels else channels
            out[name] = torch.rand(batch, c, h, w, device=device)
    return out


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> int:
    """Multiply-accumulates of one forward pass on ``inputs`` (FlopCounterMode FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def profile(
    name: str,
    options: dict[str, Any] | None = None,
    size: int | tuple[int, int] | None = None,
    num_classes: int = 3,
    region_size: int | tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Parameters and MACs of registry model ``name`` at ``size`` (default: its input size), on meta.

    Results are cached per process (the count depends only on the code and the arguments).
    """
    frozen = tuple(sorted((options or {}).items()))
    return copy.deepcopy(_profile(name, frozen, size, num_classes, region_size))


@cache
def _profile(name: str, frozen: tuple, size, num_classes: int, region_size) -> dict[str, Any]:
    from mertool.models.registry import build_model, model_spec

    spec = model_spec(name)
    options = dict(frozen)
    size = size or spec.input_size
    with torch.device("meta"):
        model = build_model(name, num_classes, **options)
    inputs = example_inputs(spec.input_names(options), size, device="meta", region_size=region_size)
    return {
        "model": name,
        "options": options,
        "input_size": size,
        "inputs": {k: tuple(v.shape) for k, v in inputs.items()},
        "params": count_params(model),
        "macs": count_macs(model, inputs),
    }


def latency_ms(
    model: nn.Module,
    inputs: dict[str, torch.Tensor],
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
) -> float:
    """Median wall time of one forward pass in ms (eval mode, no grad) on the inputs' device."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                t = time.perf_counter()
                model(inputs)
                if i >= warmup:
                    times.append((time.perf_counter() - t) * 1000.0)
    finally:
        torch.set_num_threads(old)
    return statistics.median(times)
