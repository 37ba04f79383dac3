"""What every model of the zoo shares: the forward contract, input channel matching, attention maps.

Every model is a :class:`MERModel`: ``model(inputs, labels=None) -> dict`` with ``"logits"``
(B, K) and, where the model has them, ``"aux_logits"``, ``"attention"`` and ``"loss_logits"``
(see :mod:`mertool.models.registry` for the contract).

Image inputs arrive with C = 3 (RGB) or C = 1 (gray), as the sample file stores them
(:mod:`mertool.training.data`). Models are built for 3 channels and :func:`match_channels`
repeats a gray channel (or takes the luma of RGB where a model wants one channel), so one model
file serves both.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

import torch
from torch import nn

from mertool.errors import MertoolError

_LUMA = (0.299, 0.587, 0.114)


def match_channels(x: torch.Tensor, channels: int, name: str = "input", dim: int = 1) -> torch.Tensor:
    """Make ``x``'s channel axis ``dim`` hold ``channels``: 1 -> 3 repeats gray, 3 -> 1 takes luma."""
    c = x.shape[dim]
    if c == channels:
        return x
    if c == 1:
        sizes = [-1] * x.ndim
        sizes[dim] = channels
        return x.expand(*sizes)
    if c == 3 and channels == 1:
        shape = [1] * x.ndim
        shape[dim] = 3
        return (x * x.new_tensor(_LUMA).reshape(shape)).sum(dim=dim, keepdim=True)
    raise MertoolError(
        f"model input {name!r} has {c} channels, the model takes {channels}",
        hint="give 1 (gray) or 3 (RGB) channels, or build the model for this input",
    )


def require(inputs: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """``inputs[name]`` or a clear error naming what the model needs."""
    if name not in inputs:
        raise MertoolError(
            f"the model needs input {name!r}, got {', '.join(sorted(inputs)) or 'none'}",
            hint="build the inputs the model declares (mertool models list shows them)",
        )
    return inputs[name]


def mosaic(regions: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Tile regions (B, R, C, h, w), R = rows * cols, row-major into one image (B, C, rows*h, cols*w)."""
    b, r, c, h, w = regions.shape
    if r != rows * cols:
        raise MertoolError(f"expected {rows * cols} regions, got {r}")
    x = regions.reshape(b, rows, cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, rows * h, cols * w)


def subtract_median_motion(flow: torch.Tensor, channels: int = 2) -> torch.Tensor:
    """Remove what the whole face moved: (B, C, H, W) -> (B, C, H, W), the first ``channels``
    (u, v) minus their median over H x W, each sample on its own; later channels (strain) as given.

    A face crop is aligned frame by frame, but a small residual head motion between onset and
    apex stays in the flow as a near-constant field over the whole face, as large as the
    micro-expression itself (docs/training.md). The median, unlike the mean, ignores the moving
    regions when they cover less than half of the face. It is the lower median, taken by a sort
    (exports to ONNX, which has no median operator). A constant added to u or v is removed
    exactly, so the result does not depend on a per-channel shift such as dataset normalisation.
    """
    b, c, h, w = flow.shape
    k = min(channels, c)
    moving = flow[:, :k].reshape(b, k, h * w)
    median = moving.sort(dim=-1).values[..., (h * w - 1) // 2]
    return torch.cat([flow[:, :k] - median[:, :, None, None], flow[:, k:]], dim=1)


def spatial_maps(modules: Iterable[tuple[str, nn.Module]]) -> dict[str, torch.Tensor]:
    """The ``last_map`` (B, 1, h, w) of each named module that kept one in this forward pass."""
    maps = {}
    for name, module in modules:
        m = getattr(module, "last_map", None)
        if isinstance(m, torch.Tensor):
            maps[name] = m
    return maps


class MERModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class: subclasses set :attr:`input_names` and implement :meth:`forward`.

    Attributes:
        input_names: the registry inputs the model reads.
        imagenet_trunks: ``(torchvision arch, state-dict prefix)`` pairs where torchvision's
            ImageNet weights fit (``--pretrained imagenet``); empty where none do.
        pretrained_report: what the last :func:`mertool.models.pretrained.apply_pretrained` loaded.
    """

    input_names: tuple[str, ...] = ()
    imagenet_trunks: tuple[tuple[str, str], ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.pretrained_report = None

    @abc.abstractmethod
    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        """Each architecture returns the output dict of the registry contract."""
