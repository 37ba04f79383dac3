"""ResNet + Attention Branch Network, with or without an ArcFace head (paper 001).

Layout (Fukui et al.'s ABN on a ResNet; torchvision's stage names, so ImageNet weights load):

    stem (conv1, bn1, relu, maxpool) -> layer1 -> layer2 -> layer3          feature extractor
        -> attention branch (a stride-1 copy of layer4's blocks, 1x1 convs)  -> aux_logits, A
        -> x * (1 + A) -> layer4 -> global average pool -> fc | ArcFace     perception branch

* ``depth`` 18 / 34 (basic blocks) or 50 (bottlenecks). Paper 001 says "ResNet" only.
* ``input=apex``: a 2D first conv on one image (``face``, the aligned face at the apex).
  ``input=3frames``: onset, middle and apex as gray frames (``frames3`` (B, 3, H, W), one frame
  per channel) seen as a clip (B, 1, T=3, H, W) by a **3D first conv**, kernel 3x7x7, stride
  1x2x2, padding 0x3x3: no temporal padding, so time collapses from 3 to 1 and the rest of the
  network is the 2D ResNet (paper 001 §3.3).
* ``roi=true``: paper 001's 15 ROIs (``rois15`` (B, 15, C, h, w)) enter as one **5 x 3 mosaic**
  (3 rows of 5 regions, region r at row r // 5, column r % 5; (B, C, 3h, 5w)): one ResNet sees all
  regions side by side, the attention map can weigh them, and the 3D stem works unchanged
  (with ``input=3frames`` the region crops carry the three gray frames as C = 3).
* ``arcface=true``: the classifier is an ArcFace head on the pooled features (``logits`` =
  s·cos θ; with labels, ``loss_logits`` with the margin m on the target). ``arcface_scale`` s,
  ``arcface_margin`` m (radians).

Outputs: ``logits``; ``aux_logits`` = [attention-branch logits] (ABN's attention loss, weight
``aux_weight`` = 1 as in ABN); ``attention`` = {"abn": A (B, 1, h/16, w/16)}; ``loss_logits``
with ArcFace and labels.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tvr

from mertool.models.base import MERModel, match_channels, mosaic, require
from mertool.models.layers.abn import AttentionBranch, apply_attention
from mertool.models.layers.arcface import ArcFaceHead
from mertool.models.registry import Option, model_builder, register_model
from mertool.models.resnet import BASIC_LAYERS, BOTTLENECK_LAYERS, make_stage

ROI_ROWS, ROI_COLS = 3, 5


class Stem3D(nn.Module):
    """(B, 3, H, W) frames -> (B, 1, 3, H, W) clip -> 3x7x7 conv, no temporal padding -> (B, 64, H/2, W/2)."""

    def __init__(self, frames: int = 3):
        super().__init__()
        self.frames = frames
        self.conv = nn.Conv3d(1, 64, (frames, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.frames:
            from mertool.errors import MertoolError

            raise MertoolError(
                f"the 3-frame stem needs {self.frames} frames as channels, got {x.shape[1]}",
                hint="feed onset, middle and apex as gray frames (frames3, or rois15 with 3 channels)",
            )
        return self.conv(x.unsqueeze(1)).squeeze(2)


class ResNetABN(MERModel):
    def __init__(
        self,
        num_classes: int,
        depth: int = 18,
        input: str = "apex",
        roi: bool = False,
        abn: bool = True,
        arcface: bool = False,
        arcface_scale: float = 30.0,
        arcface_margin: float = 0.5,
    ):
        super().__init__()
        if depth in BASIC_LAYERS:
            block, layers = tvr.BasicBlock, BASIC_LAYERS[depth]
        else:
            block, layers = tvr.Bottleneck, BOTTLENECK_LAYERS[depth]
        exp = block.expansion
        self.input = input
        self.roi = roi
        self.input_names = ("rois15",) if roi else (("frames3",) if input == "3frames" else ("face",))
        self.imagenet_trunks = ((f"resnet{depth}", ""),)
        # stem, named as torchvision's so ImageNet weights load by name
        self.conv1 = Stem3D() if input == "3frames" else nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = make_stage(block, 64, 64, layers[0])
        self.layer2 = make_stage(block, 64 * exp, 128, layers[1], 2)
        self.layer3 = make_stage(block, 128 * exp, 256, layers[2], 2)
        self.attention_branch = (
            AttentionBranch(make_stage(block, 256 * exp, 512, layers[3], 1), 512 * exp, num_classes)
            if abn
            else None
        )
        self.layer4 = make_stage(block, 256 * exp, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        if arcface:
            self.fc = None
            self.arcface = ArcFaceHead(512 * exp, num_classes, arcface_scale, arcface_margin)
        else:
            self.fc = nn.Linear(512 * exp, num_classes)
            self.arcface = None

    def _image(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.roi:
            regions = require(inputs, "rois15")
            if self.input == "apex":
                regions = match_channels(regions, 3, "rois15", dim=2)
            return mosaic(regions, ROI_ROWS, ROI_COLS)
        if self.input == "3frames":
            return require(inputs, "frames3")
        return match_channels(require(inputs, "face"), 3, "face")

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self._image(inputs)))))
        x = self.layer3(self.layer2(self.layer1(x)))
        out: dict = {}
        if self.attention_branch is not None:
            aux, att = self.attention_branch(x)
            x = apply_attention(x, att)
            out["aux_logits"] = [aux]
            out["aux_weight"] = 1.0
            out["attention"] = {"abn": att.detach()}
        features = torch.flatten(self.avgpool(self.layer4(x)), 1)
        if self.arcface is not None:
            logits, loss_logits = self.arcface(features, labels)
            if loss_logits is not None:
                out["loss_logits"] = loss_logits
        else:
            logits = self.fc(features)
        out["logits"] = logits
        return out


def _inputs(opts: dict) -> tuple[str, ...]:
    if opts["roi"]:
        return ("rois15",)
    return ("frames3",) if opts["input"] == "3frames" else ("face",)


register_model(
    "resnet-abn",
    inputs=_inputs,
    input_size=224,
    paper="001",
    description="ResNet + Attention Branch Network (+ArcFace), apex 2D or 3-frame 3D stem, face or 15 ROIs",
    options={
        "depth": Option(18, "ResNet depth", (18, 34, 50)),
        "input": Option(
            "apex",
            "apex: 2D conv on the apex face; 3frames: 3D first conv over onset/middle/apex",
            ("apex", "3frames"),
        ),
        "roi": Option(
            False, "feed paper 001's 15 ROIs (rois15) as a 5x3 mosaic instead of the full face", (False, True)
        ),
        "abn": Option(
            True, "with the attention branch (false: the plain ResNet rows of paper 001)", (False, True)
        ),
        "arcface": Option(False, "ArcFace margin head instead of a linear classifier", (False, True)),
        "arcface_scale": Option(30.0, "ArcFace scale s"),
        "arcface_margin": Option(0.5, "ArcFace additive angular margin m (radians)"),
        "pretrained": Option(
            None, "'imagenet' (torchvision's weights, from the local cache) or a state-dict file"
        ),
    },
)(model_builder(ResNetABN))
