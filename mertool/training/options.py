"""From what a user typed to a :class:`~mertool.training.config.RunConfig`: the option
resolution that ``train``, ``eval-loso``, the table runner and the Python API share.

Layers, each over the one before: the defaults, the architecture's own training defaults, the
preset, the flags (:func:`mertool.training.config.resolve_config`). This module turns raw flag
values (as the command line gives them: ``None`` for "not given", ``--opt KEY=VALUE`` pairs,
the ``--stages``/``--fusion``/... shorthands, ``--focal``) into those flags.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from mertool.errors import MertoolError

#: model options that have a flag of their own (``--stages 2`` is ``--opt stages=2``)
MODEL_OPTION_FLAGS = ("stages", "fusion", "attention", "branches")
#: flags that are RunConfig settings, passed on as they are (None: not given)
CONFIG_FLAGS = (
    "arch",
    "input_size",
    "protocol",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "schedule",
    "step_size",
    "gamma",
    "augment",
    "val_subjects",
    "early_stop",
    "monitor",
    "recalibrate_bn",
    "label_map",
    "norm",
)


def _literal(raw: str) -> Any:
    low = raw.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def parse_opts(pairs: list[str] | None, spec=None) -> dict[str, Any]:
    """``["stages=2", "arcface=true"]`` -> ``{"stages": 2, "arcface": True}``; with a spec, numbers
    are cast to the type of the option's default (``arcface_scale=64`` -> 64.0)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise MertoolError(f"--opt {pair!r}: expected KEY=VALUE", hint="e.g. --opt stages=2")
        key = key.strip().replace("-", "_")
        value = _literal(raw.strip())
        option = spec.options.get(key) if spec is not None else None
        if option is not None and option.default is not None and not isinstance(option.default, bool):
            if isinstance(option.default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif isinstance(option.default, str) and not isinstance(value, str):
                value = raw.strip()
        out[key] = value
    return out


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def run_config(values: dict[str, Any]) -> Any:
    """The run's :class:`~mertool.training.config.RunConfig` from raw flag values.

    ``values`` holds what the command line gave, by option name (``preset``, ``seed``, ``opt``
    pairs, ``loss_opt`` pairs, ``loss`` and ``focal``, the :data:`MODEL_OPTION_FLAGS` and the
    :data:`CONFIG_FLAGS`); other keys are ignored, so a command may pass all its parameters.
    Unknown model options and bad choices fail here, before any data is loaded."""
    from mertool.models.registry import model_spec
    from mertool.training.config import resolve_config
    from mertool.training.presets import get_preset

    v = {k: _plain(x) for k, x in values.items()}
    preset = v.get("preset")
    loss = v.get("loss")
    if v.get("focal"):
        if loss not in (None, "focal"):
            raise MertoolError(f"--focal contradicts --loss {loss}")
        loss = "focal"
    arch = v.get("arch") or (get_preset(preset).values.get("arch") if preset else None)
    spec = model_spec(arch) if arch else None
    options = parse_opts(v.get("opt"), spec)
    options.update({k: v[k] for k in MODEL_OPTION_FLAGS if v.get(k) is not None})
    flags = {k: v.get(k) for k in CONFIG_FLAGS}
    flags["loss"] = loss
    flags["options"] = options or None
    flags["loss_options"] = parse_opts(v.get("loss_opt")) or None
    if spec is not None:
        spec.resolve_options(options)
    return resolve_config(preset, flags, seed=v.get("seed") or 0)


def input_stage(cfg: Any) -> str:
    """The pipeline stage whose sample file the configuration's model reads (flow or crop-rois)."""
    from mertool.training.data import required_stage
    from mertool.training.trainer import model_inputs

    return required_stage(model_inputs(cfg))
