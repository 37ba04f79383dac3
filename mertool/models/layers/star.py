"""The Star block of StarNet (Ma et al., "Rewrite the Stars", CVPR 2024), the unit of paper 000's C2f_Star.

The "star operation" is an element-wise product of two linear projections of the same input: like
a polynomial kernel, it reaches a high-dimensional non-linear feature space without widening the
network. One block, for an input ``x`` of shape (B, C, H, W)::

    y = BN(dw7x7(x))                       depthwise 7x7 conv + BatchNorm       (B, C, H, W)
    a, b = conv1x1_a(y), conv1x1_b(y)      two pointwise convs to r*C channels  (B, r*C, H, W) each
    z = ReLU6(a) * b                       the star operation (gating)          (B, r*C, H, W)
    z = attention(z)                       optional, shape-preserving (CBAM, CAA; see below)
    z = dw7x7(BN(conv1x1(z)))              pointwise back to C + BN, then depthwise 7x7 (no BN)
    out = x + DropPath(z)                  residual                             (B, C, H, W)

``r`` is ``mlp_ratio`` (3 in StarNet and in paper 000). Shape-preserving: (B, C, H, W) in and out.

Where the attention goes: paper 000 builds ``C2f_Star_CBAM`` from "Star_Block_CBAM" units that
"integrate convolution operations, the CBAM attention mechanism, and DropPath" without saying
where CBAM sits. We apply the attention to the gated ``r*C`` features, between the star
operation and the projection back to ``C`` — where the attention re-weights the richest
features of the block, and the same place the CAA variant of the block uses it. Pass
``attention=None`` for the plain Star block.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of ``x`` (B, ...) with probability ``p``, rescale the rest."""
    if p <= 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module form of :func:`drop_path`; identity at evaluation time."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _conv_bn(c_in: int, c_out: int, k: int, groups: int = 1, bn: bool = True) -> nn.Sequential:
    """A k x k conv (same padding, stride 1), followed by BatchNorm when ``bn``."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, 1, k // 2, groups=groups, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


class StarBlock(nn.Module):
    """StarNet block with an optional attention on the gated features; (B, C, H, W) -> (B, C, H, W).

    Args:
        dim: channels C of input and output.
        mlp_ratio: width factor r of the two pointwise branches (r*C channels each).
        drop_path: DropPath probability on the residual branch (0 disables it).
        attention: optional factory ``channels -> nn.Module`` (shape-preserving), applied to the
            (B, r*C, H, W) gated features, e.g. ``lambda c: CBAM(c)`` or ``lambda c: CAA(c)``.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: int = 3,
        drop_path: float = 0.0,
        attention: Callable[[int], nn.Module] | None = None,
    ):
        super().__init__()
        hidden = int(mlp_ratio * dim)
        self.dwconv = _conv_bn(dim, dim, 7, groups=dim, bn=True)
        self.f1 = nn.Conv2d(dim, hidden, 1)
        self.f2 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.ReLU6()
        self.attention = attention(hidden) if attention is not None else nn.Identity()
        self.g = _conv_bn(hidden, dim, 1, bn=True)
        self.dwconv2 = _conv_bn(dim, dim, 7, groups=dim, bn=False)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x)
        y = self.act(self.f1(y)) * self.f2(y)
        y = self.dwconv2(self.g(self.attention(y)))
        return x + self.drop_path(y)
