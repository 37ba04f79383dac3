"""Losses: cross-entropy, focal loss and ArcFace, applied to a model's output dict.

``build_loss(name, num_classes, **options)`` returns a criterion ``(logits (B, K), labels (B,))
-> scalar``. :func:`output_loss` applies it to the dict a registry model returns
(:mod:`mertool.models.registry`):

* the main term uses ``outputs["loss_logits"]`` when the model gives them (an ArcFace head's
  margin logits, made from the labels), else ``outputs["logits"]``;
* every ``outputs["aux_logits"]`` (ABN's attention branch) adds the same criterion times
  ``outputs["aux_weight"]`` (1.0 when absent): ABN's attention loss reaches the optimiser.

===========  ==========================================================================================
name         criterion on logits z (B, K) and labels y (B,)
===========  ==========================================================================================
``ce``       cross-entropy; ``class_weights`` (K floats, a "1,2,0.5" string, or "balanced" =
             n / (K * n_k) from ``class_counts``), ``label_smoothing`` in [0, 1).
``focal``    focal loss (Lin et al. 2017): mean of -alpha_y (1 - p_y)^gamma log p_y; ``gamma`` (2.0),
             ``alpha`` (K per-class weights, "balanced", or None = 1). gamma = 0, alpha = None is
             exactly cross-entropy.
``arcface``  cross-entropy on the margin logits of an ArcFace head (``--opt arcface=true`` on
             resnet-abn); an error if the model gives no ``loss_logits``.
===========  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mertool.errors import MertoolError

LOSSES = ("ce", "focal", "arcface")


def balanced_weights(class_counts: Sequence[int]) -> list[float]:
    """Inverse-frequency weights n / (K * n_k), 1 on average over samples; a class with no sample gets 0."""
    counts = [int(c) for c in class_counts]
    total, k = sum(counts), len(counts)
    return [total / (k * c) if c > 0 else 0.0 for c in counts]


def _class_vector(
    value: Sequence[float] | str | None, num_classes: int, class_counts: Sequence[int] | None, name: str
) -> torch.Tensor | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "balanced":
        if class_counts is None:
            raise MertoolError(f"{name}=balanced needs the training class counts")
        value = balanced_weights(class_counts)
    elif isinstance(value, str):
        try:
            value = [float(v) for v in value.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise MertoolError(
                f"{name}={value!r}: give {num_classes} comma-separated numbers or 'balanced'"
            ) from None
    vec = torch.as_tensor([float(v) for v in value], dtype=torch.float32)
    if vec.numel() != num_classes:
        raise MertoolError(f"{name} has {vec.numel()} values for {num_classes} classes")
    return vec


class FocalLoss(nn.Module):
    """Focal loss: (B, K) logits, (B,) labels -> mean of -alpha_y (1 - p_y)^gamma log p_y."""

    def __init__(self, gamma: float = 2.0, alpha: torch.Tensor | None = None):
        super().__init__()
        if gamma < 0:
            raise MertoolError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.register_buffer("alpha", alpha if alpha is None else alpha.float())

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, labels.long().unsqueeze(1)).squeeze(1)
        loss = -log_p if self.gamma == 0 else -((1.0 - log_p.exp()) ** self.gamma) * log_p
        if self.alpha is not None:
            loss = loss * self.alpha.to(loss.device)[labels.long()]
        return loss.mean()


class ArcFaceLoss(nn.CrossEntropyLoss):
    """Cross-entropy meant for an ArcFace head's margin logits (``needs_margin_logits``)."""

    needs_margin_logits = True


def output_loss(outputs: dict[str, Any], labels: torch.Tensor, criterion: nn.Module) -> torch.Tensor:
    """The training loss of one model output dict, per the registry contract.

    ``criterion(outputs["loss_logits"] or outputs["logits"], labels)`` plus ``aux_weight`` (1.0 when
    absent) times ``criterion`` of every ``outputs["aux_logits"]`` head.
    """
    margin = outputs.get("loss_logits")
    if margin is None and getattr(criterion, "needs_margin_logits", False):
        raise MertoolError(
            "loss 'arcface' needs a model with an ArcFace head (its output has no loss_logits)",
            hint="build e.g. resnet-abn with --opt arcface=true, or use --loss ce",
        )
    total = criterion(margin if margin is not None else outputs["logits"], labels)
    aux = outputs.get("aux_logits") or []
    if aux:
        weight = float(outputs.get("aux_weight", 1.0))
        for a in aux:
            total = total + weight * criterion(a, labels)
    return total


def build_loss(
    name: str,
    num_classes: int,
    class_weights: Sequence[float] | str | None = None,
    label_smoothing: float = 0.0,
    gamma: float = 2.0,
    alpha: Sequence[float] | str | None = None,
    class_counts: Sequence[int] | None = None,
) -> nn.Module:
    """The criterion ``name`` (ce, focal, arcface): ``criterion(logits (B, K), labels (B,)) -> scalar``.

    Apply it to a model's output dict with :func:`output_loss`.
    """
    if name in ("ce", "arcface"):
        weight = _class_vector(class_weights, num_classes, class_counts, "class_weights")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise MertoolError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        cls = ArcFaceLoss if name == "arcface" else nn.CrossEntropyLoss
        return cls(weight=weight, label_smoothing=float(label_smoothing))
    if name == "focal":
        return FocalLoss(float(gamma), _class_vector(alpha, num_classes, class_counts, "alpha"))
    raise MertoolError(f"unknown loss {name!r}", hint=f"one of: {', '.join(LOSSES)}")
