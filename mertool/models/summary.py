"""A layer-by-layer summary of a registry model: module, type, output shape, parameters.

:func:`layer_summary` builds the model on the ``meta`` device (shapes, no data), runs one forward
pass on example inputs with forward hooks on every module down to ``depth`` levels, and returns
one row per module in call order, plus the totals. Used by ``mertool models show``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _shape(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(str(d) for d in out.shape)
    if isinstance(out, dict):
        out = out.get("logits", next(iter(out.values()), None))
        return _shape(out)
    if isinstance(out, (tuple, list)) and out:
        return ", ".join(_shape(o) for o in out if o is not None)
    return "—"


def layer_summary(
    name: str,
    options: dict[str, Any] | None = None,
    size: int | tuple[int, int] | None = None,
    depth: int = 2,
    num_classes: int = 3,
) -> dict[str, Any]:
    """``{"model", "options", "inputs", "params", "macs", "layers": [{"name", "type", "output", "params"}]}``."""
    from mertool.models.complexity import count_macs, count_params, example_inputs
    from mertool.models.registry import build_model, model_spec

    spec = model_spec(name)
    options = dict(options or {})
    resolved = spec.resolve_options(options)
    size = size or spec.input_size
    with torch.device("meta"):
        model = build_model(name, num_classes, **options)
    inputs = example_inputs(spec.input_names(options), size, device="meta")
    rows: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    hooks = []

    def before(module_name: str, module: nn.Module):
        def record(_mod, _inp):
            if module_name in index:  # a module called twice (a reused ReLU) is listed once
                return
            index[module_name] = len(rows)
            rows.append(
                {
                    "name": module_name,
                    "type": type(module).__name__,
                    "output": "—",
                    "params": count_params(module),
                }
            )

        return record

    def after(module_name: str):
        def record(_mod, _inp, out):
            row = rows[index[module_name]]
            if row["output"] == "—":
                row["output"] = _shape(out)

        return record

    for module_name, module in model.named_modules():
        level = module_name.count(".") + 1 if module_name else 0
        if 0 < level <= depth:
            hooks.append(module.register_forward_pre_hook(before(module_name, module)))
            hooks.append(module.register_forward_hook(after(module_name)))
    try:
        macs = count_macs(model, inputs)
    finally:
        for h in hooks:
            h.remove()
    return {
        "model": name,
        "options": resolved,
        "inputs": {k: list(v.shape) for k, v in inputs.items()},
        "params": count_params(model),
        "macs": macs,
        "layers": rows,
    }
