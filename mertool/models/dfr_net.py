"""DFR-Net (paper 004): temporal, spatial and differential branches, attention fusion, CA/SA ResNet.

Inputs: ``flow`` (B, 3, H, W) = u, v, optical strain onset -> apex (temporal, T); ``apex``
(B, C, H, W) (spatial, S); ``diff`` (B, C, H, W) = |apex - onset| (differential, D). C = 3 or 1.

1. **Shallow branches** (§3.2): each input -> 3x3 conv, stride 1 (``width`` channels) -> ReLU:
   F_t, F_s, F_d (B, w, H, W). Before its conv, the flow loses its median (u, v) over the face
   (``head_motion=median``, the default; ``none`` in the dfr-net-004 preset): the residual head
   motion between onset and apex that face alignment leaves, a near-constant field as large as
   the micro-expression. With it in, DFR-Net confidently misread the same clips under every
   setting tried; docs/training.md measures it.
2. **Fusion** (``fusion=attn``, the paper's):
   eq. 9   F_fused = ReLU(f2(ReLU(f1([F_s, F_d]))))      f1: 3x3 conv 2w -> w, f2: 3x3 conv w -> w
   eq. 10  A = sigmoid(g2(ReLU(g1([avgpool(F_fused), avgpool(F_t)]))))   g1: 1x1 2w -> w, g2: 1x1 w -> w
           F_final = F_fused * A                          A (B, w, 1, 1): a weight per channel
   The paper ends eq. 10 with "ReLU activation functions"; we end it with a sigmoid, so A is a
   weight in (0, 1) as in its eq. 13 channel attention (a ReLU there can zero every channel and
   stop all gradient). In eq. 10 the flow reaches the classifier only through the channel
   weights A, pooled over the whole face: where the face moved is lost. On small held-out sets
   that made the network learn the apex image's appearance instead of the motion (docs/training.md
   measures it), so the default is ``temporal=gate+skip``: F_final = F_fused * A + F_t, the flow's
   own map added after the gate. ``temporal=gate`` is eq. 10 as printed (the dfr-net-004 preset).
   Branch subsets (``branches``, Table 3: "if a feature was excluded, the
   corresponding fusion step was omitted"): without S or D eq. 9 is skipped (F_fused is the one
   present); without T eq. 10 is skipped (F_final = F_fused); a single branch goes straight on.
   ``fusion=add|mul|cat`` (Table 4): the shallow maps, already of one size, are added,
   multiplied or concatenated (3w channels), with no eq. 9/10.
3. **Post-fusion module** (``backbone``, Table 5; :mod:`.post_fusion`): default ``resnet``:
   ResNet-18 stages 1..``stages`` whose basic blocks carry channel then spatial attention
   (eq. 12-14; ``attention`` none / sa / ca / all), global average pool, dropout (default 0.5,
   the preset's 0), linear classifier.

The paper's input is 56 x 56: at that size, with ``width=64``, the model reproduces Tables 7 and 9
within 8 % in parameters and FLOPs; docs/models.md derives it, the cost tables and the
``dfr-net-004`` preset use it. Training with mertool's own defaults uses 20 x 20 (the
architecture's ``train_defaults``; docs/training.md has the evidence). Any size works (all
pooling is adaptive); cost grows with H x W.

Outputs: ``logits``; ``attention``: the spatial-attention map of the last block of every stage
(``resnet`` backbone with ``sa``/``all``).
"""

from __future__ import annotations

import torch
from torch import nn

from mertool.errors import MertoolError
from mertool.models.base import MERModel, match_channels, require, spatial_maps, subtract_median_motion
from mertool.models.post_fusion import BACKBONES, build_post_fusion
from mertool.models.registry import Option, model_builder, register_model

#: branch letter -> registry input.
BRANCH_INPUTS = {"T": "flow", "S": "apex", "D": "diff"}
FUSIONS = ("attn", "add", "mul", "cat")
#: How the flow enters eq. 10: ``gate`` (the paper: only as channel weights A) or ``gate+skip``
#: (F_final = F_fused * A + F_t, so the flow's spatial map also reaches the ResNet).
TEMPORAL = ("gate", "gate+skip")
#: What the temporal branch does to the flow first: ``median`` subtracts its median (u, v) over the
#: face, the residual head motion (:func:`~mertool.models.base.subtract_median_motion`); ``none``
#: takes it as given (the paper).
HEAD_MOTION = ("median", "none")
ATTENTIONS = {"none": None, "sa": "sa", "ca": "ca", "all": "ca+sa"}


def parse_branches(value: str) -> tuple[str, ...]:
    """'T+S+D', 'tsd', 'S,D' ... -> ('T', 'S', 'D') in canonical order."""
    letters = [c for c in str(value).upper() if c not in "+, "]
    bad = sorted(set(letters) - set(BRANCH_INPUTS))
    if bad or not letters or len(set(letters)) != len(letters):
        raise MertoolError(
            f"dfr-net: branches={value!r} is not a subset of T, S, D",
            hint="e.g. branches=TSD (all), S+D, T+D, T+S (paper 004 Table 3) or a single letter",
        )
    return tuple(b for b in "TSD" if b in letters)


class Shallow(nn.Sequential):
    """§3.2 shallow feature extraction: 3x3 conv, stride 1, + ReLU. (B, c, H, W) -> (B, w, H, W)."""

    def __init__(self, c_in: int, width: int):
        super().__init__(nn.Conv2d(c_in, width, 3, 1, 1), nn.ReLU(inplace=True))


class SpatialDifferentialFusion(nn.Module):
    """Eq. 9: ReLU(f2(ReLU(f1([F_s, F_d])))), (B, w, H, W) x 2 -> (B, w, H, W)."""

    def __init__(self, width: int):
        super().__init__()
        self.f1 = nn.Conv2d(2 * width, width, 3, 1, 1)
        self.f2 = nn.Conv2d(width, width, 3, 1, 1)

    def forward(self, fs: torch.Tensor, fd: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.f2(torch.relu(self.f1(torch.cat([fs, fd], dim=1)))))


class TemporalAttentionFusion(nn.Module):
    """Eq. 10: F_fused * A, A = sigmoid(g2(ReLU(g1([gap(F_fused), gap(F_t)])))) (B, w, 1, 1)."""

    def __init__(self, width: int):
        super().__init__()
        self.g1 = nn.Conv2d(2 * width, width, 1)
        self.g2 = nn.Conv2d(width, width, 1)

    def weights(self, fused: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([fused.mean(dim=(2, 3), keepdim=True), ft.mean(dim=(2, 3), keepdim=True)], dim=1)
        return torch.sigmoid(self.g2(torch.relu(self.g1(pooled))))

    def forward(self, fused: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
        return fused * self.weights(fused, ft)


class DFRNet(MERModel):
    def __init__(
        self,
        num_classes: int,
        stages: int = 3,
        fusion: str = "attn",
        attention: str = "all",
        branches: str = "TSD",
        backbone: str = "resnet",
        width: int = 64,
        reduction: int = 16,
        dropout: float = 0.5,
        temporal: str = "gate+skip",
        head_motion: str = "median",
    ):
        super().__init__()
        self.branches = parse_branches(branches)
        self.fusion = fusion
        if temporal not in TEMPORAL:
            raise MertoolError(f"dfr-net: temporal={temporal!r} is not one of {', '.join(TEMPORAL)}")
        self.temporal_skip = temporal == "gate+skip"
        if head_motion not in HEAD_MOTION:
            raise MertoolError(f"dfr-net: head_motion={head_motion!r} is not one of {', '.join(HEAD_MOTION)}")
        self.remove_head_motion = head_motion == "median"
        self.input_names = tuple(BRANCH_INPUTS[b] for b in self.branches)
        self.shallow = nn.ModuleDict({b: Shallow(3, width) for b in self.branches})
        self.sd_fusion = None
        self.t_fusion = None
        if fusion == "attn":
            if "S" in self.branches and "D" in self.branches:
                self.sd_fusion = SpatialDifferentialFusion(width)
            if "T" in self.branches and len(self.branches) > 1:
                self.t_fusion = TemporalAttentionFusion(width)
        fused = width * len(self.branches) if fusion == "cat" else width
        self.backbone = build_post_fusion(backbone, fused, stages, ATTENTIONS[attention], reduction)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.backbone.out_features, num_classes)
        self.imagenet_trunks = (("resnet18", "backbone."),) if backbone == "resnet" else ()

    def fuse(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The shallow branches and the fusion: (B, w or 3w, H, W)."""
        feats = {}
        for b in self.branches:
            name = BRANCH_INPUTS[b]
            x = require(inputs, name)
            if b == "T" and self.remove_head_motion:
                x = subtract_median_motion(x)
            feats[b] = self.shallow[b](x if b == "T" else match_channels(x, 3, name))
        if self.fusion == "add":
            return torch.stack(list(feats.values())).sum(dim=0)
        if self.fusion == "mul":
            return torch.stack(list(feats.values())).prod(dim=0)
        if self.fusion == "cat":
            return torch.cat(list(feats.values()), dim=1)
        if self.sd_fusion is not None:
            fused = self.sd_fusion(feats["S"], feats["D"])
        else:
            fused = feats.get("S", feats.get("D"))
        if fused is None:
            return feats["T"]
        if self.t_fusion is not None:
            fused = self.t_fusion(fused, feats["T"])
            if self.temporal_skip:
                fused = fused + feats["T"]
        return fused

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        features = self.backbone(self.fuse(inputs))
        out: dict = {"logits": self.fc(self.dropout(features))}
        if hasattr(self.backbone, "attention_modules"):
            maps = spatial_maps(self.backbone.attention_modules())
            if maps:
                out["attention"] = maps
        return out


def _inputs(opts: dict) -> tuple[str, ...]:
    return tuple(BRANCH_INPUTS[b] for b in parse_branches(opts["branches"]))


register_model(
    "dfr-net",
    inputs=_inputs,
    input_size=56,
    paper="004",
    description="DFR-Net: T/S/D shallow branches, attention fusion (eqs. 9-10), CA/SA ResNet (eqs. 12-14)",
    options={
        "stages": Option(3, "ResNet stages kept after the fusion (Tables 8-9)", (1, 2, 3, 4)),
        "fusion": Option("attn", "attn: eqs. 9-10; add / mul / cat: Table 4's baselines", FUSIONS),
        "attention": Option("all", "attention in the ResNet blocks (Tables 6-7)", tuple(ATTENTIONS)),
        "branches": Option("TSD", "any subset of T (flow), S (apex), D (|apex-onset|), e.g. S+D (Table 3)"),
        "backbone": Option("resnet", "module after the fusion (Table 5)", BACKBONES),
        "width": Option(64, "channels of the shallow branches and the fusion"),
        "reduction": Option(16, "channel-attention reduction ratio r"),
        "dropout": Option(0.5, "dropout before the classifier (the paper's preset: 0)"),
        "temporal": Option(
            "gate+skip",
            "gate: the flow only weights channels (eq. 10, the paper's preset); gate+skip: F_fused*A + F_t",
            TEMPORAL,
        ),
        "head_motion": Option(
            "median",
            "median: the flow's median (u, v) over the face is subtracted first (residual head motion); "
            "none: as given (the paper's preset)",
            HEAD_MOTION,
            legacy="none",  # DFR-Net model files written before the option took the flow as given
        ),
        "pretrained": Option(
            None, "'imagenet' (ResNet-18 weights into the post-fusion ResNet stages) or a state-dict file"
        ),
    },
    # small MER sets (a LOSO fold of CASME II trains on ~240 clips, our synthetic tests on 18-84):
    # weight decay, flips and 20 x 20 inputs (better on four held-out sets than 56 or 28, and
    # faster); the paper's recipe, at 56 x 56, is the dfr-net-004 preset (docs/training.md)
    train_defaults={"weight_decay": 1e-3, "augment": "hflip", "input_size": 20},
)(model_builder(DFRNet))
