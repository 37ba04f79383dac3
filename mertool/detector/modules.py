"""Paper 000's C2f variants, drop-in replacements for ultralytics' ``C2f`` in a model YAML.

All three keep C2f's constructor ``(c1, c2, n=1, shortcut=False, g=1, e=0.5)`` and its data flow:
a 1x1 conv to ``2c`` channels (``c = int(c2 * e)``), split in two halves, ``n`` blocks chained on
the second half, every intermediate output concatenated ((2 + n) * c channels) and a 1x1 conv to
``c2``. Only the blocks differ: C2f's 3x3 bottlenecks become Star blocks
(:class:`mertool.models.layers.star.StarBlock`, mlp_ratio 3):

* ``C2f_Star``       plain Star blocks ("Baseline + Star_Block" in paper 000's Table 2);
* ``C2f_Star_CBAM``  Star blocks with CBAM on their gated features (Table 2's best row);
* ``C2f_Star_CAA``   Star blocks with context anchor attention (Table 4's "yolov8s-C2f-Star-CAA").

A Star block is always residual, so ``shortcut`` and ``g`` are accepted for signature
compatibility and ignored. Shapes: (B, c1, H, W) -> (B, c2, H, W).

Importing this module imports ultralytics (offline-safe, see :func:`mertool.detector.import_ultralytics`);
:mod:`mertool.detector.registration` makes ultralytics' YAML parser know these names.
"""

from __future__ import annotations

import torch
from torch import nn

from mertool.detector import import_ultralytics
from mertool.models.layers.caa import CAA
from mertool.models.layers.cbam import CBAM
from mertool.models.layers.star import StarBlock

import_ultralytics()

from ultralytics.nn.modules.block import C2f  # noqa: E402  (after the offline set-up above)

MLP_RATIO = 3


class _CBAMNoMapCache(CBAM):
    """CBAM that does not keep its last spatial map: checkpoints pickle module attributes, and a
    detector has no use for the maps, so the file would carry the last batch's maps for nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channel(x)
        return x * self.spatial.weights(x)


def _cbam(channels: int) -> nn.Module:
    return _CBAMNoMapCache(channels, reduction=16, kernel_size=7)


def _caa(channels: int) -> nn.Module:
    return CAA(channels)


class C2f_Star(C2f):  # noqa: N801 - the name the YAMLs and the paper use
    """C2f whose bottlenecks are Star blocks."""

    attention = None

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5):
        super().__init__(c1, c2, n, shortcut, g, e)
        self.m = nn.ModuleList(
            StarBlock(self.c, mlp_ratio=MLP_RATIO, attention=type(self).attention) for _ in range(n)
        )


class C2f_Star_CBAM(C2f_Star):  # noqa: N801
    """C2f whose bottlenecks are Star blocks with CBAM (channel + spatial attention)."""

    attention = staticmethod(_cbam)


class C2f_Star_CAA(C2f_Star):  # noqa: N801
    """C2f whose bottlenecks are Star blocks with context anchor attention (PKINet's CAA)."""

    attention = staticmethod(_caa)


#: The names a model YAML may use, as registered with ultralytics.
MODULES: dict[str, type[nn.Module]] = {
    "C2f_Star": C2f_Star,
    "C2f_Star_CBAM": C2f_Star_CBAM,
    "C2f_Star_CAA": C2f_Star_CAA,
}
