"""Data augmentation on batches of model inputs: flips, random crops, rotation, contrast, and
paper 001's x10 offline expansion.

Spec strings (``--augment``), comma-separated; ``none`` turns everything off::

    hflip            horizontal flip with probability 0.5
    crop[=F]         random crop keeping a side fraction in [1-F, 1] (default F=0.1), resized back
    rotate[=DEG]     rotation by a uniform angle in [-DEG, DEG] (default 10)
    contrast[=F]     contrast factor in [1-F, 1+F] around each image's mean (default 0.2)
    xN               offline expansion: the training set grows N-fold (the original plus N-1
                     transformed copies, made once per fold); the transforms listed make the
                     copies and do *not* also run online (paper 001: "augmented by a factor of
                     ten through rotations, flips, and contrast adjustments")

Without ``xN`` the transforms run online, on every training batch (paper 004: flips and random
crops). Validation and test samples are never augmented.

How each input is transformed (inputs are raw-scale tensors, see :mod:`mertool.training.data`):
one affine map per sample (flip, rotation, crop = scale + shift) is applied to every spatial input
of that sample alike, so flow, apex frame and difference image stay aligned. ``flow`` is a vector
field: besides moving its pixels, the (u, v) vectors are mapped by the inverse linear part of the
transform (a horizontal flip negates u, a rotation rotates the vectors, a zoom scales them); its
strain channel is a ratio of lengths and is unchanged. Flow and ``diff`` are padded with zeros (no
motion) outside the source image, intensity images with their border. Region sets (``rois15``,
``au5``) get the transform on each region image in place (a flip mirrors every region, it does
not swap left and right regions). Contrast scales intensity images around their per-channel mean
(clipped to 0..1) and scales ``diff`` by the same factor (the difference of two rescaled frames).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from mertool.errors import MertoolError
from mertool.models.inputs import IMAGE_INPUTS as INTENSITY_INPUTS
from mertool.models.inputs import REGION_INPUTS


@dataclass(frozen=True)
class AugmentConfig:
    hflip: bool = False
    crop: float = 0.0  # max fraction of the side cut away
    rotate: float = 0.0  # max degrees
    contrast: float = 0.0  # max relative contrast change
    offline: int = 1  # expansion factor (1: online augmentation)

    @property
    def any_transform(self) -> bool:
        return self.hflip or self.crop > 0 or self.rotate > 0 or self.contrast > 0

    @property
    def online(self) -> bool:
        return self.any_transform and self.offline <= 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spec(self) -> str:
        parts = []
        if self.hflip:
            parts.append("hflip")
        if self.crop:
            parts.append(f"crop={self.crop:g}")
        if self.rotate:
            parts.append(f"rotate={self.rotate:g}")
        if self.contrast:
            parts.append(f"contrast={self.contrast:g}")
        if self.offline > 1:
            parts.append(f"x{self.offline}")
        return ",".join(parts) or "none"


_DEFAULTS = {"crop": 0.1, "rotate": 10.0, "contrast": 0.2}


def parse_augment(spec: str | None) -> AugmentConfig:
    """Parse a ``--augment`` spec (see module docstring)."""
    if spec is None:
        return AugmentConfig()
    values: dict[str, Any] = {}
    for raw in spec.split(","):
        token = raw.strip().lower()
        if not token or token == "none":
            continue
        m = re.fullmatch(r"x(\d+)", token)
        if m:
            values["offline"] = int(m.group(1))
            if values["offline"] < 1:
                raise MertoolError(f"--augment {token}: the expansion factor must be at least 1")
            continue
        name, _, val = token.partition("=")
        if name in ("hflip", "flip"):
            values["hflip"] = True
        elif name in _DEFAULTS:
            try:
                values[name] = float(val) if val else _DEFAULTS[name]
            except ValueError:
                raise MertoolError(f"--augment {token}: {val!r} is not a number") from None
            limit = 1.0 if name != "rotate" else 180.0
            if not 0 <= values[name] < limit:
                raise MertoolError(f"--augment {token}: {name} must be in [0, {limit:g})")
        else:
            raise MertoolError(
                f"--augment: unknown transform {name!r}",
                hint="use hflip, crop[=F], rotate[=DEG], contrast[=F], xN, or none (comma-separated)",
            )
    return AugmentConfig(**values)


def _affine_params(n: int, cfg: AugmentConfig, generator: Any):
    """Per-sample (flip sign, angle rad, scale, tx, ty) as (n,) tensors."""
    import torch

    def uniform(lo: float, hi: float):
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if cfg.hflip else torch.ones(n)
    angle = uniform(-cfg.rotate, cfg.rotate) * (math.pi / 180.0) if cfg.rotate else torch.zeros(n)
    scale = uniform(1.0 - cfg.crop, 1.0) if cfg.crop else torch.ones(n)
    # shift (normalised coordinates) that keeps the crop window inside the image
    room = 1.0 - scale
    tx = uniform(-1.0, 1.0) * room if cfg.crop else torch.zeros(n)
    ty = uniform(-1.0, 1.0) * room if cfg.crop else torch.zeros(n)
    return flip, angle, scale, tx, ty


def _theta(flip, angle, scale, tx, ty):
    """(n, 2, 3) affine maps from output to input normalised coordinates: p_in = A p_out + t,
    A = scale * R(angle) * diag(flip, 1)."""
    import torch

    cos, sin = torch.cos(angle), torch.sin(angle)
    a = torch.stack(
        [
            torch.stack([scale * cos * flip, -scale * sin, tx], dim=-1),
            torch.stack([scale * sin * flip, scale * cos, ty], dim=-1),
        ],
        dim=1,
    )
    return a


def _warp(x, theta, padding: str):
    import torch.nn.functional as F

    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def _map_flow_vectors(flow, theta):
    """Map (u, v) pixel vectors by the inverse linear part of ``theta`` (see module docstring).

    With D = diag(W/2, H/2) the pixel/normalised scale, d_out = D A^-1 D^-1 d_in."""
    import torch

    _, _, h, w = flow.shape
    a = theta[:, :, :2]
    inv = torch.linalg.inv(a)
    d = torch.tensor([w / 2.0, h / 2.0], dtype=flow.dtype)
    m = d[None, :, None] * inv / d[None, None, :]  # (n, 2, 2)
    u, v = flow[:, 0], flow[:, 1]
    u2 = m[:, 0, 0, None, None] * u + m[:, 0, 1, None, None] * v
    v2 = m[:, 1, 0, None, None] * u + m[:, 1, 1, None, None] * v
    return torch.cat([u2[:, None], v2[:, None], flow[:, 2:]], dim=1)


def augment_batch(inputs: dict[str, Any], cfg: AugmentConfig, generator: Any) -> dict[str, Any]:
    """Transform one batch of raw-scale inputs (dict name -> float tensor, batch first).

    The same random draw applies to every input of a sample. Deterministic for a given
    ``generator`` state (a ``torch.Generator``).
    """
    import torch

    if not cfg.any_transform or not inputs:
        return inputs
    n = next(iter(inputs.values())).shape[0]
    out = dict(inputs)
    geometric = cfg.hflip or cfg.crop > 0 or cfg.rotate > 0
    if geometric:
        theta = _theta(*_affine_params(n, cfg, generator)).to(torch.float32)
        for name, x in inputs.items():
            if name in REGION_INPUTS:
                b, r = x.shape[:2]
                flat = x.reshape(b * r, *x.shape[2:])
                out[name] = _warp(flat, theta.repeat_interleave(r, dim=0), "border").reshape(x.shape)
            elif name == "flow":
                out[name] = _map_flow_vectors(_warp(x, theta, "zeros"), theta)
            elif name == "diff":
                out[name] = _warp(x, theta, "zeros")
            else:
                out[name] = _warp(x, theta, "border")
    if cfg.contrast > 0:
        c = 1.0 - cfg.contrast + 2.0 * cfg.contrast * torch.rand(n, generator=generator)
        for name, x in out.items():
            shape = (n,) + (1,) * (x.dim() - 1)
            f = c.reshape(shape).to(x.dtype)
            if name in INTENSITY_INPUTS:
                dims = tuple(range(x.dim() - 2, x.dim()))
                mean = x.mean(dim=dims, keepdim=True)
                out[name] = (mean + f * (x - mean)).clamp(0.0, 1.0)
            elif name == "diff":
                out[name] = f * x
    return out


class Augmenter:
    """Callable ``(inputs, generator) -> inputs`` for :class:`~mertool.training.data.BatchSet`."""

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg

    def __call__(self, inputs: dict[str, Any], generator: Any) -> dict[str, Any]:
        return augment_batch(inputs, self.cfg, generator)


def expand_offline(
    inputs: dict[str, Any], labels: Any, cfg: AugmentConfig, generator: Any, batch: int = 64
) -> tuple[dict[str, Any], Any, Any]:
    """Paper 001's offline expansion: the originals plus ``cfg.offline - 1`` transformed copies.

    ``inputs``: dict of (N, ...) numpy arrays (raw scale), ``labels``: (N,). Returns numpy
    ``(inputs, labels, source)`` with ``cfg.offline * N`` items, ``source`` (offline*N,) giving
    the original position of each item.
    """
    import numpy as np
    import torch

    n = len(labels)
    factor = max(1, cfg.offline)
    pieces = {k: [np.asarray(v)] for k, v in inputs.items()}
    for _ in range(factor - 1):
        for start in range(0, n, batch):
            chunk = {
                k: torch.from_numpy(np.ascontiguousarray(v[start : start + batch])) for k, v in inputs.items()
            }
            aug = augment_batch(chunk, cfg, generator)
            for k in pieces:
                pieces[k].append(aug[k].numpy())
    out = {k: np.concatenate(v).astype(np.float32, copy=False) for k, v in pieces.items()}
    source = np.tile(np.arange(n), factor)
    return out, np.asarray(labels)[source], source
