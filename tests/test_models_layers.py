"""The layers package: attention by name, paper 004's CA/SA, ArcFace at known angles, ABN head, blocks."""

from __future__ import annotations

import math

import pytest
import torch

from mertool.errors import MertoolError
from mertool.models.base import match_channels, mosaic
from mertool.models.layers import get_attn, get_block
from mertool.models.layers.arcface import ArcFaceHead
from mertool.models.layers.attention import ChannelAttention, ChannelSpatialAttention, SpatialAttention
from mertool.models.layers.cbam import CBAM

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("se", "SqueezeExcite"),
        ("cbam", "CBAM"),
        ("ca", "ChannelAttention"),
        ("sa", "SpatialAttention"),
        ("ca+sa", "ChannelSpatialAttention"),
        ("all", "ChannelSpatialAttention"),
        ("caa", "CAA"),
        (None, "Identity"),
        ("none", "Identity"),
    ],
)
def test_get_attn_by_name_is_shape_preserving(name, cls):
    module = get_attn(name, 32, reduction=8)
    assert type(module).__name__ == cls
    x = torch.randn(2, 32, 6, 5)
    assert module(x).shape == x.shape


def test_get_attn_and_get_block_errors():
    with pytest.raises(MertoolError, match="unknown attention"):
        get_attn("eca", 8)
    with pytest.raises(MertoolError, match="unknown block"):
        get_block("mbconv")


def test_get_block_by_name():
    assert type(get_block("arcface", 8, 3)).__name__ == "ArcFaceHead"
    assert get_block("inception-a", 32, 16)(torch.randn(1, 32, 5, 5)).shape == (1, 240, 5, 5)
    assert get_block("inception-reduction", 32)(torch.randn(1, 32, 9, 9)).shape == (1, 512, 5, 5)
    assert get_block("inception-c", 64, 16)(torch.randn(1, 64, 4, 4)).shape == (1, 768, 4, 4)
    assert get_block("star", 16)(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)


def test_channel_attention_pools_before_the_mlp():
    """Eq. 13: sigmoid(MLP(avg + max)); CBAM computes sigmoid(MLP(avg) + MLP(max)) instead."""
    torch.manual_seed(0)
    ca = ChannelAttention(16, reduction=4)
    x = torch.randn(2, 16, 5, 5)
    pooled = x.mean(dim=(2, 3), keepdim=True) + x.amax(dim=(2, 3), keepdim=True)
    expected = torch.sigmoid(ca.f2(torch.relu(ca.f1(pooled))))
    assert torch.allclose(ca.weights(x), expected)
    assert torch.allclose(ca(x), x * expected)
    cbam_style = torch.sigmoid(
        ca.f2(torch.relu(ca.f1(x.mean(dim=(2, 3), keepdim=True))))
        + ca.f2(torch.relu(ca.f1(x.amax(dim=(2, 3), keepdim=True))))
    )
    assert not torch.allclose(ca.weights(x), cbam_style)


def test_spatial_attention_is_eq14_and_keeps_its_map():
    sa = SpatialAttention(7)
    x = torch.randn(2, 8, 6, 6)
    pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
    w = torch.sigmoid(sa.conv(pooled))
    assert torch.allclose(sa(x), x * w)
    assert sa.last_map.shape == (2, 1, 6, 6)


def test_channel_spatial_attention_order():
    m = ChannelSpatialAttention(8, reduction=2)
    x = torch.randn(1, 8, 4, 4)
    assert torch.allclose(m(x), m.spatial(m.channel(x)))
    assert m.last_map.shape == (1, 1, 4, 4)


def test_cbam_api_unchanged_for_the_detector():
    m = CBAM(32, reduction=16, kernel_size=7)
    assert m(torch.randn(1, 32, 4, 4)).shape == (1, 32, 4, 4)


def _head_with_centres(scale: float, margin: float) -> ArcFaceHead:
    head = ArcFaceHead(2, 3, scale=scale, margin=margin)
    with torch.no_grad():  # class centres at 0, 90 and 180 degrees in the plane
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    return head


@pytest.mark.parametrize("theta_deg", [10.0, 30.0, 60.0, 80.0])
def test_arcface_logits_at_known_angles(theta_deg):
    s, m = 16.0, 0.3
    head = _head_with_centres(s, m)
    theta = math.radians(theta_deg)
    emb = torch.tensor([[3.0 * math.cos(theta), 3.0 * math.sin(theta)]])  # |e| does not matter
    angles = [theta, abs(math.pi / 2 - theta), math.pi - theta]
    logits, loss_logits = head(emb, torch.tensor([0]))
    expected = torch.tensor([[s * math.cos(a) for a in angles]])
    assert torch.allclose(logits, expected, atol=1e-4)
    expected_margin = expected.clone()
    expected_margin[0, 0] = s * math.cos(theta + m)  # the target only
    assert torch.allclose(loss_logits, expected_margin, atol=1e-4)
    # target = class 1: its angle gets the margin, the others stay s*cos(theta)
    _, loss_logits = head(emb, torch.tensor([1]))
    assert loss_logits[0, 1].item() == pytest.approx(s * math.cos(angles[1] + m), abs=1e-4)
    assert loss_logits[0, 0].item() == pytest.approx(s * math.cos(angles[0]), abs=1e-4)
    assert head(emb)[1] is None


def test_arcface_past_pi_minus_m_uses_the_monotone_continuation():
    s, m = 10.0, 0.5
    head = _head_with_centres(s, m)
    theta = math.radians(170.0)  # theta + m > pi
    emb = torch.tensor([[math.cos(theta), math.sin(theta)]])
    _, loss_logits = head(emb, torch.tensor([0]))
    assert loss_logits[0, 0].item() == pytest.approx(s * (math.cos(theta) - m * math.sin(m)), abs=1e-4)


def test_abn_head_shapes_and_residual_attention():
    from torch import nn

    from mertool.models.layers.abn import AttentionBranch, apply_attention

    head = AttentionBranch(nn.Identity(), 16, 4)
    aux, att = head(torch.randn(2, 16, 5, 7))
    assert aux.shape == (2, 4) and att.shape == (2, 1, 5, 7)
    assert ((att > 0) & (att < 1)).all()
    x = torch.randn(2, 16, 5, 7)
    assert torch.allclose(apply_attention(x, torch.zeros(2, 1, 5, 7)), x)
    assert torch.allclose(apply_attention(x, torch.ones(2, 1, 5, 7)), 2 * x)


def test_attention_bottleneck_placements():
    from mertool.models.resnet import attention_bottleneck

    torch.manual_seed(0)
    x = torch.randn(1, 64, 6, 6)
    post = attention_bottleneck("se", "post", 16)(64, 16).eval()
    branch = attention_bottleneck("se", "branch", 16)(64, 16).eval()
    branch.load_state_dict(post.state_dict())
    with torch.no_grad():
        y_post, y_branch = post(x), branch(x)
        f = post.bn3(post.conv3(post.relu(post.bn2(post.conv2(post.relu(post.bn1(post.conv1(x))))))))
        assert torch.allclose(y_post, post.attn(torch.relu(f + x)), atol=1e-6)
        assert torch.allclose(y_branch, torch.relu(post.attn(f) + x), atol=1e-6)
    assert not torch.allclose(y_post, y_branch)


def test_inception_trunk_strides():
    from mertool.models.layers.inception import InceptionTrunk

    trunk = InceptionTrunk(3, blocks_a=1, blocks_c=1)
    assert trunk(torch.randn(1, 3, 32, 48)).shape == (1, 768, 2, 3)
    assert InceptionTrunk(3, blocks_a=2, blocks_c=0, reduce=False)(torch.randn(1, 3, 16, 16)).shape == (
        1,
        288,
        2,
        2,
    )


def test_match_channels_and_mosaic():
    gray = torch.rand(2, 1, 4, 4)
    assert torch.equal(match_channels(gray, 3), gray.expand(2, 3, 4, 4))
    rgb = torch.rand(2, 3, 4, 4)
    luma = match_channels(rgb, 1)
    assert torch.allclose(luma[:, 0], 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])
    with pytest.raises(MertoolError, match="2 channels"):
        match_channels(torch.rand(1, 2, 4, 4), 3)
    regions = torch.arange(15.0).reshape(1, 15, 1, 1, 1).expand(1, 15, 1, 2, 2)
    tiled = mosaic(regions, 3, 5)
    assert tiled.shape == (1, 1, 6, 10)
    assert (
        tiled[0, 0, 0, 0] == 0
        and tiled[0, 0, 0, 9] == 4
        and tiled[0, 0, 2, 0] == 5
        and tiled[0, 0, 5, 9] == 14
    )
