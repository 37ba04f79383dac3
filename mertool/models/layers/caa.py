"""Context Anchor Attention (CAA) of PKINet (Cai et al., "Poly Kernel Inception Network for Remote
Sensing Detection", CVPR 2024): long-range context from cheap strip convolutions.

For ``x`` of shape (B, C, H, W)::

    p = AvgPool7x7(x)                        local average, stride 1, same size   (B, C, H, W)
    p = SiLU(BN(conv1x1(p)))
    p = dw_conv_1xk(p)                        horizontal strip, depthwise, k = 11 by default
    p = dw_conv_kx1(p)                        vertical strip, depthwise
    w = sigmoid(SiLU(BN(conv1x1(p))))        attention weights in (0, 1)           (B, C, H, W)
    out = x * w

The pair of 1xk and kx1 depthwise convs sees a k x k neighbourhood with 2kC weights instead of
k*k*C, which is what makes the context "anchor" cheap for elongated and small objects. PKINet's
module returns the weights and lets its caller multiply; ours multiplies, so it is a drop-in,
shape-preserving attention like CBAM. With ``keep_map=True`` it keeps the channel-mean of its last
weights, (B, 1, H, W), in ``last_map`` for display; off by default, because a detector checkpoint
pickles module attributes and would carry the last batch's maps.
"""

from __future__ import annotations

import torch
from torch import nn


class CAA(nn.Module):
    """Context anchor attention; (B, C, H, W) -> (B, C, H, W).

    Args:
        channels: C.
        h_kernel_size: length of the horizontal 1 x k strip conv (odd).
        v_kernel_size: length of the vertical k x 1 strip conv (odd).
        keep_map: keep the last (B, 1, H, W) mean attention map in ``last_map``.
    """

    def __init__(
        self, channels: int, h_kernel_size: int = 11, v_kernel_size: int = 11, keep_map: bool = False
    ):
        super().__init__()
        self.avg_pool = nn.AvgPool2d(7, 1, 3)
        self.conv1 = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.SiLU()
        )
        self.h_conv = nn.Conv2d(
            channels, channels, (1, h_kernel_size), 1, (0, h_kernel_size // 2), groups=channels
        )
        self.v_conv = nn.Conv2d(
            channels, channels, (v_kernel_size, 1), 1, (v_kernel_size // 2, 0), groups=channels
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.SiLU()
        )
        self.gate = nn.Sigmoid()
        self.keep_map = keep_map
        self.last_map: torch.Tensor | None = None

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights (B, C, H, W) in (0, 1)."""
        p = self.conv1(self.avg_pool(x))
        return self.gate(self.conv2(self.v_conv(self.h_conv(p))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)
        if self.keep_map:
            self.last_map = w.detach().mean(dim=1, keepdim=True)
        return x * w
