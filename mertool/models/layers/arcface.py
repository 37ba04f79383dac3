"""ArcFace margin head (Deng et al., CVPR 2019): additive angular margin on normalised features.

For an embedding ``e`` (B, D) and class weights ``W`` (K, D), both L2-normalised, the cosine of
the angle to every class centre is ``cos θ_k = ê · ŵ_k``. The head returns

* ``logits``      = s · cos θ_k for every class: what prediction uses (no labels needed);
* ``loss_logits`` = the same, except the target class y gets s · cos(θ_y + m): what the
  cross-entropy trains on (only when ``labels`` are given).

``s`` is the scale (``scale``), ``m`` the additive angular margin in radians (``margin``).
When θ_y + m would pass π, cos(θ + m) stops decreasing in θ; as in the ArcFace paper's code we
then use the linear continuation cos θ − m·sin(m) (``easy_margin=False``), so the target logit
stays monotone in θ. With ``easy_margin=True`` the margin is only applied where cos θ > 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ArcFaceHead(nn.Module):
    """(B, D) embeddings -> (logits (B, K), loss_logits (B, K) or None)."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        scale: float = 30.0,
        margin: float = 0.5,
        easy_margin: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.scale = float(scale)
        self.margin = float(margin)
        self.easy_margin = easy_margin

    def cosine(self, embedding: torch.Tensor) -> torch.Tensor:
        """cos θ (B, K) between each embedding and each class centre."""
        return F.linear(F.normalize(embedding, dim=1), F.normalize(self.weight, dim=1))

    def margin_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        """cos(θ + m) for every entry of ``cos`` (with the continuation past π − m)."""
        sin = torch.sqrt((1.0 - cos * cos).clamp(min=1e-7))
        phi = cos * math.cos(self.margin) - sin * math.sin(self.margin)
        if self.easy_margin:
            return torch.where(cos > 0, phi, cos)
        threshold = math.cos(math.pi - self.margin)
        return torch.where(cos > threshold, phi, cos - math.sin(math.pi - self.margin) * self.margin)

    def forward(
        self, embedding: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        cos = self.cosine(embedding)
        logits = self.scale * cos
        if labels is None:
            return logits, None
        target = F.one_hot(labels.long(), cos.shape[1]).to(torch.bool)
        loss_logits = self.scale * torch.where(target, self.margin_cosine(cos), cos)
        return logits, loss_logits

    def extra_repr(self) -> str:
        return (
            f"in_features={self.weight.shape[1]}, num_classes={self.weight.shape[0]}, "
            f"scale={self.scale}, margin={self.margin}"
        )
