"""Squeeze-and-Excitation (Hu et al., 2018): global average pool, C -> C/r -> C MLP, sigmoid, scale."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """(B, C, H, W) -> (B, C, H, W) scaled per channel by sigmoid(fc2(relu(fc1(avgpool(x)))))."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.mean(x, dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))
