"""Attention Branch Network head (Fukui et al., CVPR 2019): an attention map that is also a classifier.

The attention branch takes the trunk's feature map ``x`` (B, C, h, w) and

1. refines it with its own residual blocks (``blocks``, stride 1, so the map keeps its size;
   the architecture module builds them, e.g. a copy of the ResNet's last stage at stride 1),
2. BN, 1x1 conv to K = num_classes channels, BN, ReLU: one response map per class (B, K, h, w),
3. **classifier**: 1x1 conv K -> K, global average pool -> ``aux_logits`` (B, K), trained with the
   same loss as the main head (the "attention branch loss" of ABN),
4. **attention map**: 1x1 conv K -> 1, BN, sigmoid -> ``A`` (B, 1, h, w) in (0, 1).

The perception branch then sees ``x * (1 + A)`` (:func:`apply_attention`): the residual form keeps
the features where A is near zero instead of erasing them, as in ABN.
"""

from __future__ import annotations

import torch
from torch import nn


def apply_attention(x: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """ABN's attention mechanism: (B, C, h, w) * (1 + (B, 1, h, w)) -> (B, C, h, w)."""
    return x * (1.0 + attention)


class AttentionBranch(nn.Module):
    """(B, C, h, w) -> (aux_logits (B, K), attention map (B, 1, h, w)).

    Args:
        blocks: module mapping (B, C, h, w) -> (B, C_b, h, w) (residual blocks, stride 1);
            ``nn.Identity()`` to use the trunk's features directly.
        channels: C_b, the channels ``blocks`` outputs.
        num_classes: K.
    """

    def __init__(self, blocks: nn.Module, channels: int, num_classes: int):
        super().__init__()
        self.blocks = blocks
        self.bn = nn.BatchNorm2d(channels)
        self.to_classes = nn.Conv2d(channels, num_classes, 1, bias=False)
        self.bn_classes = nn.BatchNorm2d(num_classes)
        self.relu = nn.ReLU(inplace=True)
        self.classifier = nn.Conv2d(num_classes, num_classes, 1, bias=False)
        self.to_map = nn.Conv2d(num_classes, 1, 1, bias=False)
        self.bn_map = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bn(self.blocks(x))
        h = self.relu(self.bn_classes(self.to_classes(h)))
        aux_logits = torch.mean(self.classifier(h), dim=(2, 3))
        attention = torch.sigmoid(self.bn_map(self.to_map(h)))
        return aux_logits, attention
