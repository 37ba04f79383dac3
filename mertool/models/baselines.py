"""Reference baselines MER papers compare against, so every table has a known-good point.

Both eat the flow input ``flow`` (B, 3, H, W) = u, v, optical strain (onset -> apex), published at
28 x 28; pooling is adaptive, so other sizes work.

``ststnet``      STSTNet (Liong, Gan, See, Khor, Huang, FG 2019), the "shallow triple stream"
                 network: three streams over the same u, v, strain input, each one 3x3 conv with
                 3, 5 and 8 filters, ReLU, BatchNorm, 3x3 max pool stride 3; the 16 maps are
                 concatenated, average-pooled 2x2 (to 5 x 5 at 28 px), flattened (400) and
                 classified by one linear layer. About 1.7 k parameters at 3 classes.
``off-apexnet``  OFF-ApexNet (Gan, Liong, Yau, Huang, Tan, Signal Process. Image Commun. 2019):
                 two streams, horizontal (u) and vertical (v) flow, each 5x5 conv 6 -> ReLU ->
                 2x2 max pool -> 5x5 conv 16 -> ReLU -> 2x2 max pool (16 x 7 x 7 at 28 px);
                 concatenated (1568) -> FC 1024 -> FC 1024 -> classifier, dropout between. About
                 2.66 M parameters at 3 classes, almost all in the first FC layer.

Padding is "same", so the sizes quoted hold at 28 x 28; our counts are in ``mertool models list``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mertool.models.base import MERModel, require
from mertool.models.registry import Option, model_builder, register_model


class STSTNet(MERModel):
    input_names = ("flow",)

    def __init__(self, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3, f, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(f),
                nn.MaxPool2d(3, 3, 1),
                nn.Dropout(dropout),
            )
            for f in (3, 5, 8)
        )
        self.fc = nn.Linear(16 * 5 * 5, num_classes)

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        x = require(inputs, "flow")
        h = torch.cat([s(x) for s in self.streams], dim=1)
        h = F.adaptive_avg_pool2d(h, 5)
        return {"logits": self.fc(torch.flatten(h, 1))}


class OffApexNet(MERModel):
    input_names = ("flow",)

    def __init__(self, num_classes: int, dropout: float = 0.5):
        super().__init__()

        def stream() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(1, 6, 5, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(6, 16, 5, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, 2),
            )

        self.horizontal = stream()
        self.vertical = stream()
        self.classifier = nn.Sequential(
            nn.Linear(2 * 16 * 7 * 7, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(1024, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(1024, num_classes),
        )

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        x = require(inputs, "flow")
        u = F.adaptive_max_pool2d(self.horizontal(x[:, 0:1]), 7)
        v = F.adaptive_max_pool2d(self.vertical(x[:, 1:2]), 7)
        h = torch.cat([torch.flatten(u, 1), torch.flatten(v, 1)], dim=1)
        return {"logits": self.classifier(h)}


_DROPOUT = Option(0.5, "dropout rate")


_OPTIONS = {"dropout": _DROPOUT, "pretrained": Option(None, "a state-dict file to load")}
for _name, _cls, _description in (
    ("ststnet", STSTNet, "STSTNet (Liong et al. 2019): three shallow conv streams over u, v, strain"),
    (
        "off-apexnet",
        OffApexNet,
        "OFF-ApexNet (Gan et al. 2019): two conv streams over u and v, two FC layers",
    ),
):
    register_model(_name, ("flow",), 28, "004", f"{_description}; a reference baseline", _OPTIONS)(
        model_builder(_cls)
    )
