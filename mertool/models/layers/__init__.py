"""Reusable blocks, chosen by name: ``get_attn("se" | "cbam" | "ca" | "sa" | "ca+sa" | None, channels)``.

One module per block. Attention modules map (B, C, H, W) -> (B, C, H, W) and keep their last
spatial attention map in ``.last_map`` (B, 1, H, W) for ``mertool show``.

================  ======================================  =============================================
name              module                                  what
================  ======================================  =============================================
``se``            :mod:`.se` SqueezeExcite                channel gate from the average pool (Hu et al.)
``cbam``          :mod:`.cbam` CBAM                       channel (avg, max through one MLP, summed),
                                                          then 7x7 spatial attention (Woo et al.)
``ca``            :mod:`.attention` ChannelAttention      paper 004 eq. 13: avg + max pooled, *then* MLP
``sa``            :mod:`.attention` SpatialAttention      paper 004 eq. 14 (= CBAM's spatial attention)
``ca+sa``/``all`` :mod:`.attention` ChannelSpatialAttention  eq. 12's order: SA(CA(x))
``caa``           :mod:`.caa` CAA                         context anchor attention (paper 000, detector)
================  ======================================  =============================================

Other blocks by name (:func:`get_block`): ``abn`` (:class:`.abn.AttentionBranch`), ``arcface``
(:class:`.arcface.ArcFaceHead`), ``inception-a``/``inception-c``/``inception-reduction``
(:mod:`.inception`), ``star`` (:class:`.star.StarBlock`, paper 000's detector block).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

#: attention name -> (module, class); every class takes ``channels`` first.
ATTENTIONS: dict[str, tuple[str, str]] = {
    "se": ("se", "SqueezeExcite"),
    "cbam": ("cbam", "CBAM"),
    "ca": ("attention", "ChannelAttention"),
    "sa": ("attention", "SpatialAttention"),
    "ca+sa": ("attention", "ChannelSpatialAttention"),
    "all": ("attention", "ChannelSpatialAttention"),
    "caa": ("caa", "CAA"),
}

#: other block name -> (module, class).
BLOCKS: dict[str, tuple[str, str]] = dict(
    abn=("abn", "AttentionBranch"),
    arcface=("arcface", "ArcFaceHead"),
    star=("star", "StarBlock"),
    **{f"inception-{k}": ("inception", f"Inception{k.title()}") for k in ("a", "c", "reduction")},
)


def _class(table: dict[str, tuple[str, str]], name: str, kind: str):
    from mertool.errors import MertoolError

    if name not in table:
        raise MertoolError(f"unknown {kind} {name!r}", hint=f"one of: {', '.join(table)}")
    module, cls = table[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def get_attn(name: str | None, channels: int, **kwargs: Any):
    """A shape-preserving attention module by name; ``None``/``"none"`` gives ``nn.Identity``.

    ``kwargs`` go to the class where it takes them (``reduction=``, ``kernel_size=``); the others
    are ignored, so one call can build any of them (``sa`` has no channels and no reduction).
    """
    from torch import nn

    if name is None or name == "none":
        return nn.Identity()
    cls = _class(ATTENTIONS, name, "attention")
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}  # e.g. "reduction" means nothing to SA
    if "channels" not in accepted:
        return cls(**kwargs)
    return cls(channels, **kwargs)


def get_block(name: str, *args: Any, **kwargs: Any):
    """Any other block of the package by name, built with ``args``/``kwargs``."""
    return _class(BLOCKS, name, "block")(*args, **kwargs)


__all__ = ["ATTENTIONS", "BLOCKS", "get_attn", "get_block"]
