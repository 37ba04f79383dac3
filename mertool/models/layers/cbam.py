"""CBAM (Woo et al., 2018): channel attention, then spatial attention.

Channel attention: average- and max-pooled descriptors (B, C, 1, 1) through one shared MLP
(1x1 convs C -> C/r -> C with ReLU), summed, sigmoid. Spatial attention: channel-wise average
and max (B, 2, H, W) through a k x k conv, sigmoid. Both multiply their input.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W) scaled by sigmoid(MLP(avgpool) + MLP(maxpool))."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )
        self.gate = nn.Sigmoid()

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        avg = torch.mean(x, dim=(2, 3), keepdim=True)
        mx = torch.amax(x, dim=(2, 3), keepdim=True)
        return self.gate(self.mlp(avg) + self.mlp(mx))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)


class SpatialAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W) scaled by sigmoid(conv_k([mean_c(x), max_c(x)]))."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.gate = nn.Sigmoid()
        self.last_map: torch.Tensor | None = None

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return self.gate(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)
        self.last_map = w.detach()
        return x * w


class ChannelThenSpatial(nn.Module):
    """``spatial(channel(x))``: a channel-attention module, then a spatial one; shape-preserving.
    Subclasses choose the two; ``last_map`` is the spatial map of the last forward."""

    def __init__(self, channel: nn.Module, spatial: nn.Module):
        super().__init__()
        self.channel = channel
        self.spatial = spatial

    @property
    def last_map(self) -> torch.Tensor | None:
        return self.spatial.last_map

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class CBAM(ChannelThenSpatial):
    """Channel attention followed by spatial attention (Woo et al.); shape-preserving."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention(kernel_size))
