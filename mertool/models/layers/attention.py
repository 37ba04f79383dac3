"""Paper 004's channel and spatial attention (DFR-Net eqs. 12-14), the attention inside its ResNet blocks.

Channel attention, eq. 13::

    CA(x) = sigmoid(f2(relu(f1(AvgPool(x) + MaxPool(x)))))     weights (B, C, 1, 1)

The two global poolings are **summed before** one MLP (1x1 convs C -> C/r -> C, no bias). CBAM
(:mod:`.cbam`) instead sends each pooled descriptor through the MLP and sums the two outputs; the
parameters are the same, the function is not. ``r = 16`` reproduces paper 004's cost of attention
(Table 7: +23 k parameters over stages 1-3 of a ResNet-18; see docs/models.md).

Spatial attention, eq. 14::

    SA(x) = sigmoid(f1([mean_c(x), max_c(x)]))                   weights (B, 1, H, W)

is the same formula as CBAM's spatial attention (a k x k conv over the channel-wise mean and max,
k = 7), so :class:`SpatialAttention` here *is* :class:`mertool.models.layers.cbam.SpatialAttention`.

All modules multiply their input by the weights: (B, C, H, W) -> (B, C, H, W). Spatial maps are
kept (detached) in ``last_map`` (B, 1, H, W) for ``mertool show``.
"""

from __future__ import annotations

import torch
from torch import nn

from mertool.models.layers.cbam import ChannelThenSpatial, SpatialAttention

__all__ = ["ChannelAttention", "SpatialAttention", "ChannelSpatialAttention"]


class ChannelAttention(nn.Module):
    """Eq. 13: (B, C, H, W) -> x * sigmoid(MLP(avgpool(x) + maxpool(x))), MLP C -> C/r -> C."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.f1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.f2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.mean(x, dim=(2, 3), keepdim=True) + torch.amax(x, dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.f2(torch.relu(self.f1(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)


class ChannelSpatialAttention(ChannelThenSpatial):
    """CA then SA, as eq. 12 applies them: ``SA(CA(x))``; shape-preserving."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention(kernel_size))
