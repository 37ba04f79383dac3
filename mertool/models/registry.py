"""One registry for every model: ``build_model("dfr-net", num_classes=3, stages=3, fusion="attn")``.

The contract between models and the training code
-------------------------------------------------

**Inputs.** A model declares the named inputs it eats (:attr:`ModelSpec.inputs`); the training
data loader builds exactly those tensors from a sample file (float32, batch first):

==========  ===================  ==================================================================
name        shape                made from (sample-file arrays, see mertool.store.schema)
==========  ===================  ==================================================================
``flow``    (B, 3, H, W)         ``flow`` u, v and ``strain`` (paper 004's temporal input)
``apex``    (B, C, H, W)         ``apex_image`` (spatial input; C = 3 RGB or 1 gray)
``onset``   (B, C, H, W)         ``onset_image``
``diff``    (B, C, H, W)         ``diff`` = |apex - onset|
``face``    (B, C, H, W)         ``crops/face`` at the apex
``frames3`` (B, 3, H, W)         ``crops/face`` onset, middle, apex as gray, one per channel
``rois15``  (B, 15, C, h, w)     ``crops/rois15`` at the apex (paper 001); with ``input="3frames"``
                                 C = 3 (onset, middle, apex gray)
``au5``     (B, 5, C, h, w)      ``crops/au5`` at the apex (paper 002's local branch)
``clip``    (B, T, H, W)         ``frames`` (every aligned frame, detect-faces) as gray, T = 10
                                 frames resampled evenly from onset to offset (linear
                                 interpolation in time); ``clip<T>`` (``clip16``) for another T
==========  ===================  ==================================================================

``clip`` needs the aligned frames of the whole clip: a detect-faces or spot-apex file, or a later
stage's file made from one that kept them (``crop-rois --keep-frames``, or ``flow`` run straight
on a spot-apex file); crop-rois drops them by default. LBP-TOP (:mod:`mertool.models.handcrafted`)
is its user.

``H, W`` default to :attr:`ModelSpec.input_size`; a model must accept other sizes (adaptive
pooling) so tests can run at small sizes.

**Outputs.** ``model(inputs: dict[str, Tensor], labels: Tensor | None = None) -> dict`` with

* ``"logits"``: (B, num_classes), always (what prediction and metrics use);
* ``"aux_logits"``: optional list of (B, num_classes) extra heads trained with the same loss
  (ABN's attention branch), weighted by ``"aux_weight"`` (float, default 1.0) if present;
* ``"attention"``: optional dict name -> (B, 1, h, w) maps for ``mertool show``;
* ``"loss_logits"``: optional (B, num_classes) margin-adjusted logits the loss should use
  instead of ``"logits"`` (ArcFace heads, which need ``labels`` in training).

Register a builder with :func:`register_model`; option defaults and help strings come from the
decorator, so ``mertool models list`` and ``train --help`` can show them.

Models from outside the package (:mod:`mertool.models.external`): ``--arch path/to/file.py:Class``
names any ``torch.nn.Module`` in a Python file, and installed packages add models through the
``mertool.models`` entry-point group; both go through the same training, folds and reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mertool.errors import MertoolError
from mertool.models.inputs import (  # noqa: F401 (the vocabulary, re-exported where models are registered)
    CLIP_FRAMES,
    INPUT_NAMES,
    clip_input_frames,
    clip_input_name,
)


@dataclass(frozen=True)
class Option:
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    #: the value that model files written before this option existed were trained with (None:
    #: the option has been there from the start). Model files record every option since it was
    #: added, so only older files lack it, and :meth:`ModelSpec.file_options` fills this in.
    legacy: Any = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    inputs: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]]
    input_size: int
    paper: str
    description: str
    options: dict[str, Option] = field(default_factory=dict)
    #: training settings that suit this architecture when neither a preset nor a flag sets them
    #: (keys of :data:`mertool.training.config.DEFAULTS`, e.g. ``{"augment": "hflip"}``); the
    #: paper presets set their own values on top (docs/training.md, "Defaults per architecture")
    train_defaults: dict[str, Any] = field(default_factory=dict)

    def resolve_options(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = set(overrides) - set(self.options)
        if unknown:
            raise MertoolError(
                f"model {self.name!r} has no option(s) {', '.join(sorted(unknown))}",
                hint=f"its options: {', '.join(self.options) or 'none'} (mertool models list)",
            )
        opts = {k: o.default for k, o in self.options.items()}
        for k, v in overrides.items():
            v = _as_type_of(self.options[k].default, v)
            choices = self.options[k].choices
            if choices is not None and v not in choices:
                raise MertoolError(
                    f"model {self.name!r}: {k}={v!r} is not one of {', '.join(map(str, choices))}"
                )
            opts[k] = v
        return opts

    def file_options(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """The options a model file's weights were trained with, from what the file recorded: an
        option it does not name takes its ``legacy`` value if it has one (the file predates it,
        so a later default must not change what the file computes), else its default."""
        old = {k: o.legacy for k, o in self.options.items() if o.legacy is not None and k not in recorded}
        return self.resolve_options({**old, **recorded})

    def input_names(self, options: dict[str, Any] | None = None) -> tuple[str, ...]:
        if callable(self.inputs):
            return tuple(self.inputs(self.resolve_options(options or {})))
        return tuple(self.inputs)


def _as_type_of(default: Any, value: Any) -> Any:
    """``value`` as the type of the option's default where that is lossless (``stages=3.0`` -> 3,
    ``dropout=1`` -> 1.0, ``arcface=1`` -> True); anything else as given."""
    if isinstance(default, bool):
        return bool(value) if isinstance(value, int) and value in (0, 1) else value
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def model_builder(cls: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    """The builder of a registration that is one configurable class: ``cls(num_classes, **fixed,
    **options)``, then the weights the ``pretrained`` option names, if the model has that option
    (:func:`mertool.models.pretrained.apply_pretrained`)."""

    def build(num_classes: int, pretrained: str | None = None, **options: Any) -> Any:
        model = cls(num_classes, **fixed, **options)
        if pretrained is not None:
            from mertool.models.pretrained import apply_pretrained

            apply_pretrained(model, pretrained)
        return model

    build.__module__ = cls.__module__
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build


_MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    inputs: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]],
    input_size: int,
    paper: str,
    description: str,
    options: dict[str, Option] | None = None,
    train_defaults: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``builder(num_classes, **options) -> nn.Module`` under ``name``."""

    def deco(builder: Callable[..., Any]) -> Callable[..., Any]:
        _MODELS[name] = ModelSpec(
            name,
            builder,
            inputs,
            input_size,
            paper,
            description,
            dict(options or {}),
            dict(train_defaults or {}),
        )
        return builder

    return deco


_ENTRY_POINTS_LOADED = False


def _load() -> None:
    global _ENTRY_POINTS_LOADED
    import mertool.models.zoo  # noqa: F401  (imports every architecture module)

    if not _ENTRY_POINTS_LOADED:
        _ENTRY_POINTS_LOADED = True
        from mertool.models.external import load_entry_points

        load_entry_points()


def model_names() -> list[str]:
    _load()
    return sorted(_MODELS)


def model_spec(name: str) -> ModelSpec:
    _load()
    if name not in _MODELS:
        from mertool.models.external import external_spec

        spec = external_spec(name)
        if spec is not None:
            _MODELS[name] = spec
            return spec
        raise MertoolError(
            f"unknown model {name!r}", hint=f"one of: {', '.join(sorted(_MODELS))} (mertool models list)"
        )
    return _MODELS[name]


def build_model(name: str, num_classes: int, **options: Any):
    """Build a registered model with its options (unknown options are an error)."""
    spec = model_spec(name)
    return spec.builder(num_classes=num_classes, **spec.resolve_options(options))
