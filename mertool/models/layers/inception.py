"""Inception-v3 blocks (Szegedy et al., CVPR 2016) and a truncated Inception-v3 trunk.

Used by paper 002's local branch (its conclusion names Inception v3) and by paper 004's
"Inception" post-fusion module (Table 5). Every conv is conv + BatchNorm + ReLU (:class:`ConvBN`).
Unlike torchvision's Inception3, every conv is padded ("same"), so the trunk runs on any input
size down to a few pixels (tests and small demos); at the paper sizes this costs a few percent more
FLOPs than valid convolutions.

Blocks (C_in -> C_out, spatial size kept unless stated):

``InceptionA(c, pool)``  four branches, concatenated: 1x1 64 | 1x1 48 -> 5x5 64 | 1x1 64 -> 3x3 96
                         -> 3x3 96 | avgpool 3x3 -> 1x1 ``pool``; C_out = 224 + pool (v3's Mixed_5x).
``InceptionReduction(c)`` stride 2: 3x3/2 384 | 1x1 64 -> 3x3 96 -> 3x3/2 96 | maxpool 3x3/2;
                         C_out = 480 + c (v3's Mixed_6a; 768 for c = 288).
``InceptionC(c, c7)``    factorised 7x7: 1x1 192 | 1x1 c7 -> 1x7 c7 -> 7x1 192 | 1x1 c7 -> 7x1 c7 ->
                         1x7 c7 -> 7x1 c7 -> 1x7 192 | avgpool -> 1x1 192; C_out = 768 (Mixed_6b-e).

:class:`InceptionTrunk` chains v3's stem (stride 8), ``blocks_a`` InceptionA blocks (pool
features 32, 64, 64, ...), the reduction (stride 16) and ``blocks_c`` InceptionC blocks
(c7 = 128, 160, 160, 192): (B, C_in, H, W) -> (B, out_channels, H/16, W/16).
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBN(nn.Sequential):
    """k x k conv (no bias, same padding unless given) + BatchNorm + ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size, stride: int = 1, padding=None):
        if padding is None:
            k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            padding = (k[0] // 2, k[1] // 2)
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, eps=1e-3),
            nn.ReLU(inplace=True),
        )


class InceptionA(nn.Module):
    """Inception-v3 Mixed_5 block: (B, c, H, W) -> (B, 224 + pool_features, H, W)."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.b1 = ConvBN(c_in, 64, 1)
        self.b5 = nn.Sequential(ConvBN(c_in, 48, 1), ConvBN(48, 64, 5))
        self.b3 = nn.Sequential(ConvBN(c_in, 64, 1), ConvBN(64, 96, 3), ConvBN(96, 96, 3))
        self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBN(c_in, pool_features, 1))
        self.out_channels = 224 + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.pool(x)], dim=1)


class InceptionReduction(nn.Module):
    """Inception-v3 Mixed_6a grid reduction: (B, c, H, W) -> (B, 480 + c, ceil(H/2), ceil(W/2))."""

    def __init__(self, c_in: int):
        super().__init__()
        self.b3 = ConvBN(c_in, 384, 3, stride=2)
        self.b3dbl = nn.Sequential(ConvBN(c_in, 64, 1), ConvBN(64, 96, 3), ConvBN(96, 96, 3, stride=2))
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.out_channels = 480 + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b3dbl(x), self.pool(x)], dim=1)


class InceptionC(nn.Module):
    """Inception-v3 Mixed_6b-e block with factorised 7x7 convs: (B, c, H, W) -> (B, 768, H, W)."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.b1 = ConvBN(c_in, 192, 1)
        self.b7 = nn.Sequential(ConvBN(c_in, c7, 1), ConvBN(c7, c7, (1, 7)), ConvBN(c7, 192, (7, 1)))
        self.b7dbl = nn.Sequential(
            ConvBN(c_in, c7, 1),
            ConvBN(c7, c7, (7, 1)),
            ConvBN(c7, c7, (1, 7)),
            ConvBN(c7, c7, (7, 1)),
            ConvBN(c7, 192, (1, 7)),
        )
        self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBN(c_in, 192, 1))
        self.out_channels = 768

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b7(x), self.b7dbl(x), self.pool(x)], dim=1)


_POOL_FEATURES = (32, 64, 64, 64, 64)
_C7 = (128, 160, 160, 192, 192)


def inception_stem(c_in: int) -> nn.Sequential:
    """Inception-v3's stem, (B, c_in, H, W) -> (B, 192, H/8, W/8)."""
    return nn.Sequential(
        ConvBN(c_in, 32, 3, stride=2),
        ConvBN(32, 32, 3),
        ConvBN(32, 64, 3),
        nn.MaxPool2d(3, 2, 1),
        ConvBN(64, 80, 1),
        ConvBN(80, 192, 3),
        nn.MaxPool2d(3, 2, 1),
    )


class InceptionTrunk(nn.Module):
    """A truncated Inception-v3: stem (or a given entry), A blocks, reduction, C blocks.

    Args:
        c_in: input channels.
        blocks_a: InceptionA blocks after the stem (v3 has 3).
        blocks_c: InceptionC blocks after the reduction (v3 has 4); with 0 and ``reduce=False``
            the trunk stops at stride 8.
        reduce: include the stride-2 reduction between the A and C blocks.
        stem: a module replacing v3's stem, with its output channels as ``stem.out_channels``
            (DFR-Net's post-fusion module enters at a lower resolution).
    """

    def __init__(
        self,
        c_in: int,
        blocks_a: int = 3,
        blocks_c: int = 2,
        reduce: bool = True,
        stem: nn.Module | None = None,
    ):
        super().__init__()
        if stem is None:
            stem, c = inception_stem(c_in), 192
        else:
            c = int(stem.out_channels)
        layers: list[nn.Module] = [stem]
        for i in range(blocks_a):
            block = InceptionA(c, _POOL_FEATURES[min(i, len(_POOL_FEATURES) - 1)])
            layers.append(block)
            c = block.out_channels
        if reduce:
            block = InceptionReduction(c)
            layers.append(block)
            c = block.out_channels
        for i in range(blocks_c):
            block = InceptionC(c, _C7[min(i, len(_C7) - 1)])
            layers.append(block)
            c = block.out_channels
        self.layers = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
