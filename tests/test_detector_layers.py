"""Star block and context anchor attention: shapes, gradients, and the parts the papers describe."""

from __future__ import annotations

import torch
from torch import nn

from mertool.models.layers.caa import CAA
from mertool.models.layers.cbam import CBAM
from mertool.models.layers.star import DropPath, StarBlock, drop_path


def test_star_block_shape_and_gradients():
    torch.manual_seed(0)
    block = StarBlock(16, mlp_ratio=3)
    x = torch.randn(2, 16, 12, 10, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in block.parameters())


def test_star_block_structure():
    block = StarBlock(8, mlp_ratio=3)
    dw = block.dwconv[0]
    assert (dw.kernel_size, dw.groups, dw.out_channels) == ((7, 7), 8, 8)
    assert isinstance(block.dwconv[1], nn.BatchNorm2d)
    assert block.f1.out_channels == block.f2.out_channels == 24  # mlp_ratio x width
    assert isinstance(block.act, nn.ReLU6)
    assert (
        block.g[0].in_channels == 24
        and block.g[0].out_channels == 8
        and isinstance(block.g[1], nn.BatchNorm2d)
    )
    assert (block.dwconv2[0].kernel_size, block.dwconv2[0].groups, len(block.dwconv2)) == ((7, 7), 8, 1)


def test_star_operation_and_residual():
    """The block computes x + dw2(g(relu6(f1(y)) * f2(y))) with y = bn(dw(x)) (eval mode)."""
    torch.manual_seed(1)
    block = StarBlock(4).eval()
    x = torch.randn(1, 4, 9, 9)
    y = block.dwconv(x)
    expect = x + block.dwconv2(block.g(torch.clamp(block.f1(y), 0, 6) * block.f2(y)))
    assert torch.allclose(block(x), expect, atol=1e-6)
    # a zeroed last conv leaves only the residual path
    nn.init.zeros_(block.dwconv2[0].weight)
    nn.init.zeros_(block.dwconv2[0].bias)
    assert torch.allclose(block(x), x)


def test_star_block_attention_sits_on_gated_features():
    block = StarBlock(8, mlp_ratio=3, attention=lambda c: CBAM(c, reduction=4))
    assert isinstance(block.attention, CBAM)
    assert block.attention.channel.mlp[0].in_channels == 24
    x = torch.randn(2, 8, 7, 7)
    assert block(x).shape == x.shape
    assert block.attention.last_map.shape == (2, 1, 7, 7)


def test_drop_path():
    x = torch.ones(1000, 3, 2, 2)
    assert torch.equal(drop_path(x, 0.5, training=False), x)
    torch.manual_seed(0)
    y = drop_path(x, 0.5, training=True)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}  # whole samples dropped, the rest rescaled
    assert (per_sample == per_sample[:, :1]).all()
    assert 0.4 < (per_sample[:, 0] == 0).float().mean() < 0.6
    dp = DropPath(0.3).eval()
    assert torch.equal(dp(x), x)


def test_caa_shape_gradients_and_range():
    torch.manual_seed(0)
    caa = CAA(6)
    x = torch.randn(2, 6, 15, 13, requires_grad=True)
    y = caa(x)
    assert y.shape == x.shape
    w = caa.weights(x)
    assert ((w > 0) & (w < 1)).all()
    assert torch.allclose(y, x * w)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert caa.last_map is None  # not kept unless asked
    CAA(6, keep_map=True)(x)


def test_caa_structure():
    caa = CAA(8, h_kernel_size=11, v_kernel_size=9)
    assert (caa.avg_pool.kernel_size, caa.avg_pool.stride, caa.avg_pool.padding) == (7, 1, 3)
    assert caa.h_conv.kernel_size == (1, 11) and caa.h_conv.groups == 8
    assert caa.v_conv.kernel_size == (9, 1) and caa.v_conv.groups == 8
    assert caa.conv1[0].kernel_size == (1, 1) and caa.conv2[0].kernel_size == (1, 1)


def test_caa_context_reaches_along_strips():
    """An impulse influences weights along its row and column far beyond a 7x7 window (strip convs)."""
    torch.manual_seed(0)
    caa = CAA(1, h_kernel_size=11, v_kernel_size=11).eval()
    x = torch.zeros(1, 1, 31, 31)
    base = caa.weights(x)
    x[0, 0, 15, 15] = 10.0
    delta = (caa.weights(x) - base).abs()[0, 0]
    assert delta[15, 15 + 7] > 0 or delta[15 + 7, 15] > 0 or delta[15 + 7, 15 + 7] > 0
    assert delta[0, 0] == 0  # outside avg-pool (7) + strips (11) + pool reach: untouched
