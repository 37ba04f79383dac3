"""The modules DFR-Net can put after its fusion (paper 004 §3.3 and Table 5), each (B, C, H, W) -> (B, D).

Paper 004 gives only the names (AlexNet, VGG, Inception, ResNet, ViT) and their cost (Table 5);
every one here enters where the classic network has 64 channels, because the fused map already
has 64 (the fusion plays the role of their first layers). At the paper's input (56 x 56, see
docs/models.md for why 56) they land within ~10 % of Table 5's parameters and FLOPs.

``resnet``     ResNet-18 stages with channel/spatial attention inside every basic block (eq. 12):
               ``relu(shortcut(x) + SA(CA(bn2(conv2(relu(bn1(conv1(x))))))))``; stem 7x7 conv
               stride 1 (no max pool: the input is already small), ``stages`` 1-4 kept (Table 8/9),
               ``attention`` none / sa / ca / all (Table 6/7). D = 64 * 2^(stages-1).
``alexnet``    AlexNet after its first conv: max pool, 5x5 conv 192, max pool, 3x3 convs 384, 256,
               256 (ReLU), global average pool. D = 256.
``vgg``        VGG stages after the 64-channel one: 3x3 conv+BN+ReLU widths 128 | M | 256, 256 | M |
               512, 512, 512, global average pool. D = 512.
``inception``  Inception-v3 from its stem's 64-channel point: max pool, 1x1 80, 3x3 192, then one
               block of each of v3's kinds: Mixed_5b (InceptionA), Mixed_6a (reduction), Mixed_6b
               (InceptionC), global average pool. D = 768.
``vit``        ViT-Base (width 768, depth 12, 12 heads, MLP 3072, pre-norm, class token, learned
               positions) on 4x4 patches: 56 x 56 gives the 14 x 14 = 196 tokens of ViT-B/16 at 224.
               D = 768.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tvr

from mertool.models.layers import get_attn
from mertool.models.layers.inception import ConvBN, InceptionTrunk
from mertool.models.resnet import make_stage

BACKBONES = ("resnet", "alexnet", "vgg", "inception", "vit")


class AttentionBasicBlock(tvr.BasicBlock):
    """Paper 004 eq. 12: a basic block with attention on the branch before the addition."""

    def __init__(self, *args, attention: str | None = None, reduction: int = 16, **kwargs):
        super().__init__(*args, **kwargs)
        self.attn = get_attn(attention, self.conv2.out_channels, reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.attn(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


def attention_basic_block(attention: str | None, reduction: int = 16) -> partial:
    """A picklable block factory with the attention fixed (``expansion`` as torchvision expects)."""
    block = partial(AttentionBasicBlock, attention=attention, reduction=reduction)
    block.expansion = AttentionBasicBlock.expansion
    return block


class ResNetPost(nn.Module):
    """Stem (7x7/1 conv, BN, ReLU) + ResNet-18 stages 1..``stages`` with attention, global avg pool."""

    def __init__(self, c_in: int, stages: int = 3, attention: str | None = "ca+sa", reduction: int = 16):
        super().__init__()
        block = attention_basic_block(attention, reduction)
        self.conv1 = nn.Conv2d(c_in, 64, 7, 1, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        c = 64
        for i in range(stages):
            width = 64 * 2**i
            setattr(self, f"layer{i + 1}", make_stage(block, c, width, 2, 1 if i == 0 else 2))
            c = width
        self.stages = stages
        self.out_features = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(1, self.stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def attention_modules(self):
        """(name, module) of the last block's attention in each stage."""
        return [(f"layer{i}.1.attn", getattr(self, f"layer{i}")[-1].attn) for i in range(1, self.stages + 1)]


class AlexNetPost(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.MaxPool2d(3, 2, 1),
            nn.Conv2d(c_in, 192, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.out_features = 256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


VGG_CFG = (128, "M", 256, 256, "M", 512, 512, 512)


class VGGPost(nn.Module):
    def __init__(self, c_in: int, cfg=VGG_CFG):
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += [
                    nn.Conv2d(c, int(v), 3, padding=1, bias=False),
                    nn.BatchNorm2d(int(v)),
                    nn.ReLU(inplace=True),
                ]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.out_features = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


class _InceptionEntry(nn.Sequential):
    """The rest of Inception-v3's stem from its 64-channel point: max pool, 1x1 80, 3x3 192."""

    def __init__(self, c_in: int):
        super().__init__(nn.MaxPool2d(3, 2, 1), ConvBN(c_in, 80, 1), ConvBN(80, 192, 3))
        self.out_channels = 192


class InceptionPost(nn.Module):
    def __init__(self, c_in: int, blocks_a: int = 1, blocks_c: int = 1):
        super().__init__()
        self.trunk = InceptionTrunk(c_in, blocks_a=blocks_a, blocks_c=blocks_c, stem=_InceptionEntry(c_in))
        self.out_features = self.trunk.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.trunk(x), 1), 1)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)); x + MLP(LN(x)). (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class ViTPost(nn.Module):
    """ViT on ``patch`` x ``patch`` patches of the fused map; class-token output (B, dim)."""

    def __init__(
        self,
        c_in: int,
        patch: int = 4,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp: int = 3072,
        grid: int = 14,
    ):
        super().__init__()
        self.patch = nn.Conv2d(c_in, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.grid = grid
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.out_features = dim

    def _positions(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == (self.grid, self.grid):
            return self.pos
        cls, grid = self.pos[:, :1], self.pos[:, 1:]
        grid = grid.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
        return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x)
        h, w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self._positions(h, w)
        return self.norm(self.blocks(x))[:, 0]


def build_post_fusion(
    name: str, c_in: int, stages: int = 3, attention: str | None = "ca+sa", reduction: int = 16
):
    """The post-fusion module ``name`` for a fused map of ``c_in`` channels."""
    if name == "resnet":
        return ResNetPost(c_in, stages, attention, reduction)
    if name == "alexnet":
        return AlexNetPost(c_in)
    if name == "vgg":
        return VGGPost(c_in)
    if name == "inception":
        return InceptionPost(c_in)
    if name == "vit":
        return ViTPost(c_in)
    from mertool.errors import MertoolError

    raise MertoolError(f"unknown post-fusion module {name!r}", hint=f"one of: {', '.join(BACKBONES)}")
