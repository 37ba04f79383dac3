"""Dual-branch network of paper 002: global ResNet + local Inception over 5 AU regions, CAFFM fusion.

Branches
--------
* **Global** (GFEM): a ResNet on the aligned face ``face`` (B, C, H, W); paper 002 uses
  231 x 282 (W x H). ``depth=12`` is our reading of the paper's ResNet12 (which it does not
  define): ResNet-18 without its last stage, i.e. basic blocks [2, 2, 2] of widths 64-128-256,
  the **12 convolutions of the residual blocks** (plus stem and classifier). It lands within 8 %
  of the GFEM row of Table 7 (2.59 M, 1.778 G at 231 x 282). ``depth=18``/``34`` are the
  torchvision ResNets with all four stages (Table 5). Output F_G (B, C_G, H/16, W/16) or /32.
* **Local** (LTFEM): one Inception-v3 trunk (:mod:`.layers.inception`: stem, Mixed_5b-5d,
  Mixed_6a, Mixed_6b-6c) **shared** by the 5 AU regions ``au5`` (B, 5, C, h, w) (eye+brow, mouth,
  chin, cheek, nose), each region run through it as its own image; the 5 region maps are stacked
  on the channel axis (so each region keeps its identity) and a 1x1 conv + BN + ReLU maps them to
  C_G channels: F_L. The paper gives no region size; at 112 x 112 regions the local branch lands
  within 11 % of Table 7's LTFEM row (6.26 M, 3.287 G).

Fusion (``variant``)
--------------------
``GFEM``          global branch alone -> head.
``LTFEM``         local branch alone -> head.
``DBFEM``         both; F_L resized (bilinear) to F_G's grid; concat -> ReLU -> head.
``DBFEM+CAFFM``   both, fused by CAFFM (the paper's model, default):
                  G = CBAM³(F_G), L = CBAM³(F_L) (three stacked CBAMs per branch: the "parallel
                  attention"); Z = ReLU([G, L]) + [F_G, F_L] (concatenation, ReLU, residual add);
                  Z = CBAM²(Z) (two more CBAMs); ReLU -> head.
``CAFFM_L``       CAFFM whose stacked CBAMs refine the **local** features only (G = F_G).
``CAFFM_G``       CAFFM whose stacked CBAMs refine the **global** features only (L = F_L).

The paper's text defines neither subscript; these are our reading (the attention of CAFFM kept on
one branch), and they keep Table 7's pattern that both score between DBFEM and the full CAFFM.
Head: global max pool ("activation and max-pooling") -> dropout -> linear. Attention maps: the
spatial maps of the last CBAM of each stack.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tvr

from mertool.models.base import MERModel, match_channels, require, spatial_maps
from mertool.models.layers.cbam import CBAM
from mertool.models.layers.inception import InceptionTrunk
from mertool.models.registry import Option, model_builder, register_model
from mertool.models.resnet import make_stage

VARIANTS = ("GFEM", "LTFEM", "DBFEM", "DBFEM+CAFFM", "CAFFM_L", "CAFFM_G")
GLOBAL_LAYERS = {12: (2, 2, 2), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
REGIONS = 5


class GlobalBranch(nn.Module):
    """ResNet12/18/34 on the face: (B, 3, H, W) -> (B, C, H/16 or /32, W/16 or /32).

    Modules carry torchvision's names (conv1, bn1, layer1, ...) so ImageNet weights load by name.
    """

    def __init__(self, depth: int):
        super().__init__()
        layers = GLOBAL_LAYERS[depth]
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, n in enumerate(layers):
            width = 64 * 2**i
            setattr(self, f"layer{i + 1}", make_stage(tvr.BasicBlock, c, width, n, 1 if i == 0 else 2))
            c = width
        self.stages = len(layers)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, self.stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return x


class LocalBranch(nn.Module):
    """One Inception trunk shared by R regions: (B, R, 3, h, w) -> (B, out_channels, h/16, w/16)."""

    def __init__(self, out_channels: int, regions: int = REGIONS, blocks_a: int = 3, blocks_c: int = 2):
        super().__init__()
        self.regions = regions
        self.trunk = InceptionTrunk(3, blocks_a=blocks_a, blocks_c=blocks_c)
        self.merge = nn.Sequential(
            nn.Conv2d(regions * self.trunk.out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.out_channels = out_channels

    def forward(self, regions: torch.Tensor) -> torch.Tensor:
        b, r, c, h, w = regions.shape
        if r != self.regions:
            from mertool.errors import MertoolError

            raise MertoolError(f"the local branch takes {self.regions} AU regions, got {r}")
        maps = self.trunk(regions.reshape(b * r, c, h, w))
        maps = maps.reshape(b, r * maps.shape[1], maps.shape[2], maps.shape[3])
        return self.merge(maps)


def _stack(channels: int, n: int, reduction: int) -> nn.Sequential:
    return nn.Sequential(*[CBAM(channels, reduction) for _ in range(n)])


class CAFFM(nn.Module):
    """Convolutional-block-attention feature fusion: (F_G, F_L) (B, C, h, w) each -> (B, 2C, h, w)."""

    def __init__(
        self, channels: int, refine_global: bool = True, refine_local: bool = True, reduction: int = 16
    ):
        super().__init__()
        self.global_attention = _stack(channels, 3, reduction) if refine_global else nn.Identity()
        self.local_attention = _stack(channels, 3, reduction) if refine_local else nn.Identity()
        self.post = _stack(2 * channels, 2, reduction)
        self.relu = nn.ReLU()

    def forward(self, fg: torch.Tensor, fl: torch.Tensor) -> torch.Tensor:
        g, local = self.global_attention(fg), self.local_attention(fl)
        z = self.relu(torch.cat([g, local], dim=1)) + torch.cat([fg, fl], dim=1)
        return self.relu(self.post(z))

    def maps(self) -> dict[str, torch.Tensor]:
        named = []
        for name in ("global_attention", "local_attention", "post"):
            stack = getattr(self, name)
            if isinstance(stack, nn.Sequential):
                named.append((f"caffm.{name}", stack[-1]))
        return spatial_maps(named)


class DualBranchNet(MERModel):
    def __init__(self, num_classes: int, variant: str = "DBFEM+CAFFM", depth: int = 12, dropout: float = 0.0):
        super().__init__()
        self.variant = variant
        use_global = variant != "LTFEM"
        use_local = variant != "GFEM"
        self.global_branch = GlobalBranch(depth) if use_global else None
        channels = 64 * 2 ** (len(GLOBAL_LAYERS[depth]) - 1)
        self.local_branch = LocalBranch(channels) if use_local else None
        self.caffm = None
        if variant in ("DBFEM+CAFFM", "CAFFM_L", "CAFFM_G"):
            self.caffm = CAFFM(
                channels, refine_global=variant != "CAFFM_L", refine_local=variant != "CAFFM_G"
            )
        width = channels * (2 if use_global and use_local else 1)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)
        self.input_names = tuple(n for n, used in (("face", use_global), ("au5", use_local)) if used)
        # ResNet12 is ResNet-18's first three stages: ResNet-18's weights fit it (layer4 unused).
        arch = "resnet18" if depth == 12 else f"resnet{depth}"
        self.imagenet_trunks = ((arch, "global_branch."),) if use_global else ()

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        fg = fl = None
        if self.global_branch is not None:
            fg = self.global_branch(match_channels(require(inputs, "face"), 3, "face"))
        if self.local_branch is not None:
            fl = self.local_branch(match_channels(require(inputs, "au5"), 3, "au5", dim=2))
        if fg is not None and fl is not None:
            fl = F.interpolate(fl, size=fg.shape[-2:], mode="bilinear", align_corners=False)
            z = self.caffm(fg, fl) if self.caffm is not None else torch.relu(torch.cat([fg, fl], dim=1))
        else:
            z = fg if fg is not None else fl
        logits = self.fc(self.dropout(torch.flatten(self.pool(z), 1)))
        out: dict = {"logits": logits}
        if self.caffm is not None:
            out["attention"] = self.caffm.maps()
        return out


def _inputs(opts: dict) -> tuple[str, ...]:
    v = opts["variant"]
    return {"GFEM": ("face",), "LTFEM": ("au5",)}.get(v, ("face", "au5"))


register_model(
    "dual-branch",
    inputs=_inputs,
    input_size=282,
    paper="002",
    description="global ResNet12/18/34 + local Inception over 5 AU regions, CAFFM fusion, and its ablations",
    options={
        "variant": Option("DBFEM+CAFFM", "module ablation of paper 002 Table 7", VARIANTS),
        "depth": Option(
            12, "global ResNet depth (Table 5): 12 = ResNet-18's first three stages", (12, 18, 34)
        ),
        "dropout": Option(0.0, "dropout before the classifier"),
        "pretrained": Option(
            None, "'imagenet' (ResNet-18/34 weights into the global branch) or a state-dict file"
        ),
    },
)(model_builder(DualBranchNet))
