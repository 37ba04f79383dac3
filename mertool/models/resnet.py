"""ResNet-50 and ResNeXt-50 with SE or CBAM inside their bottlenecks (papers 000 and 003).

torchvision's ``ResNet`` class is the skeleton (stem, four stages, pooling, fc; its state-dict
names, so ImageNet weights load by name); the blocks with attention are ours
(:class:`AttentionBottleneck`). Input: ``face`` (B, C, H, W), the aligned face at the apex.

===============  =================================================================================
name             what
===============  =================================================================================
resnet50         plain ResNet-50 (torchvision v1.5: stride on the 3x3 conv). Paper 000 T3 baseline.
resnet50-se      ResNet-50 + SE where paper 000 puts it: "embedded after each residual block", i.e.
                 on each block's *output*, after the residual addition (``placement=post``).
                 ``placement=branch`` gives Hu et al.'s SE-ResNet instead. Paper 000 T3 "+SE".
resnet50-cbam    ResNet-50 + CBAM at the same place as resnet50-se (paper 000 T3 "+CBAM"; the
                 paper does not say where CBAM goes, so it mirrors the SE row).
se-resnet50      Hu et al.'s SE-ResNet-50: SE on the residual branch *before* the addition, in
                 every bottleneck (what paper 000 T4 names "SEResNet50"; the published network).
resnext50        ResNeXt-50 (32x4d), plain (paper 003's comparison).
se-resnext50     SE-ResNeXt-50 (32x4d), SE on the branch in every block (paper 003; Hu et al.).
===============  =================================================================================

All take ``reduction`` (SE/CBAM hidden width C/r, 16 as published) where they have attention, and
``pretrained`` (``imagenet`` or a state-dict file; see :mod:`mertool.models.pretrained`).

The helpers :func:`stem`, :func:`make_stage` and :data:`BASIC_LAYERS` are shared with the other
ResNet-based architectures (ABN, dual-branch, DFR-Net).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision.models import resnet as tvr

from mertool.models.base import MERModel, match_channels, require, spatial_maps
from mertool.models.layers import get_attn
from mertool.models.registry import Option, model_builder, register_model

#: blocks per stage of the torchvision depths.
BASIC_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
BOTTLENECK_LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def stem(in_channels: int = 3, kernel_size: int = 7, stride: int = 2, maxpool: bool = True) -> nn.Sequential:
    """ResNet's stem: conv k x k (64 out) + BN + ReLU (+ 3x3/2 max pool)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, 64, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
    ]
    if maxpool:
        layers.append(nn.MaxPool2d(3, 2, 1))
    return nn.Sequential(*layers)


def make_stage(
    block: type[nn.Module], inplanes: int, planes: int, blocks: int, stride: int = 1
) -> nn.Sequential:
    """One ResNet stage of ``blocks`` blocks (torchvision block signature), projection shortcut when needed."""
    expansion = getattr(block, "expansion", 1)
    downsample = None
    if stride != 1 or inplanes != planes * expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * expansion, 1, stride, bias=False), nn.BatchNorm2d(planes * expansion)
        )
    layers = [block(inplanes, planes, stride, downsample)]
    layers += [block(planes * expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class AttentionBottleneck(tvr.Bottleneck):
    """torchvision's bottleneck with an attention module on the branch or on the block output.

    ``placement="branch"``: ``relu(x + A(F(x)))`` (Hu et al., Woo et al.);
    ``placement="post"``:   ``A(relu(x + F(x)))`` (paper 000: "after each residual block").
    torchvision's ResNet takes a block *class*; :func:`attention_bottleneck` gives a picklable
    partial of this class with the attention fixed.
    """

    def __init__(
        self, *args, attention: str | None = None, placement: str = "branch", reduction: int = 16, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.placement = placement
        self.attn = get_attn(attention, self.conv3.out_channels, reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.placement == "branch":
            out = self.attn(out)
        out = self.relu(out + identity)
        if self.placement == "post":
            out = self.attn(out)
        return out


def attention_bottleneck(attention: str | None, placement: str, reduction: int) -> partial:
    """A block factory with the attention fixed, carrying ``expansion`` as torchvision expects."""
    block = partial(AttentionBottleneck, attention=attention, placement=placement, reduction=reduction)
    block.expansion = AttentionBottleneck.expansion
    return block


class ResNetClassifier(MERModel, tvr.ResNet):
    """A torchvision ResNet/ResNeXt that eats ``inputs["face"]`` and answers with the output dict."""

    input_names = ("face",)

    def __init__(
        self,
        num_classes: int,
        attention: str | None = None,
        placement: str = "branch",
        reduction: int = 16,
        groups: int = 1,
        width_per_group: int = 64,
        arch: str = "resnet50",
    ):
        block = attention_bottleneck(attention, placement, reduction)
        tvr.ResNet.__init__(
            self,
            block,
            list(BOTTLENECK_LAYERS[50]),
            num_classes,
            groups=groups,
            width_per_group=width_per_group,
        )
        self.pretrained_report = None
        self.imagenet_trunks = ((arch, ""),)

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        x = match_channels(require(inputs, "face"), 3, "face")
        logits = self._forward_impl(x)
        out: dict = {"logits": logits}
        maps = spatial_maps((f"{n}.{len(b) - 1}.attn", b[-1].attn) for n, b in self._stages())
        if maps:
            out["attention"] = maps
        return out

    def _stages(self):
        return [(f"layer{i}", [*getattr(self, f"layer{i}")]) for i in range(1, 5)]


_PRETRAINED = Option(
    None, "'imagenet' (torchvision's weights, from the local cache) or a state-dict file to load"
)
_REDUCTION = Option(16, "SE/CBAM reduction ratio r (hidden width C/r)")


_PLACEMENT = {
    "se": Option(
        "post",
        "post: SE on each block's output (paper 000); branch: before the add (Hu et al.)",
        ("post", "branch"),
    ),
    "cbam": Option(
        "post",
        "post: CBAM on each block's output; branch: before the add (Woo et al.)",
        ("post", "branch"),
    ),
}
_RESNEXT = {"groups": 32, "width_per_group": 4, "arch": "resnext50_32x4d"}


def variant(name: str, paper: str, description: str, attention: str | None = None, **fixed) -> None:
    """Register ``name`` as :class:`ResNetClassifier` with ``attention`` and the constructor
    arguments ``fixed``; its options are ``pretrained``, ``reduction`` where it has attention,
    and ``placement`` unless ``fixed`` sets it."""
    options = {}
    if attention and "placement" not in fixed:
        options["placement"] = _PLACEMENT[attention]
    if attention:
        options["reduction"] = _REDUCTION
    options["pretrained"] = _PRETRAINED

    register_model(name, ("face",), 224, paper, description, options)(
        model_builder(ResNetClassifier, attention=attention, **fixed)
    )


# fmt: off
variant("resnet50", "000", "ResNet-50 (torchvision v1.5), the paper 000 T3 baseline")
variant("resnet50-se", "000", "ResNet-50 + SE after each residual block (paper 000 T3 '+SE')", "se")
variant("resnet50-cbam", "000", "ResNet-50 + CBAM in every block (paper 000 T3 '+CBAM'); exposes spatial attention maps", "cbam")
variant("se-resnet50", "000", "SE-ResNet-50 of Hu et al. (SE on the residual branch of every block; paper 000 T4)", "se", placement="branch")
variant("resnext50", "003", "ResNeXt-50 (32x4d), plain (paper 003's comparison)", **_RESNEXT)
variant("se-resnext50", "003", "SE-ResNeXt-50 (32x4d), SE in every block (paper 003; train it with --loss focal)", "se", placement="branch", **_RESNEXT)
# fmt: on
