"""Normalising the flow stage's maps (``flow``, ``strain``, ``diff``) before a network eats them.

Three kinds; the flow stage records which one in the sample attribute ``normalization`` and its
numbers in ``flow_params_json["normalization"]``, so raw values can always be recovered:

* ``none`` (default): flow in pixels, strain in pixels/pixel, diff in 0..1.
* ``minmax``: per sample and per channel (u and v separately, as most MER code does with
  ``cv2.normalize``), ``(x - min) / (max - min)`` into 0..1; a constant channel becomes 0. The
  per-sample ``min``/``max`` are recorded.
* ``dataset``: per channel ``(x - mean) / std`` with mean and standard deviation over every pixel of
  every finished sample of the same dataset (the ``dataset`` attribute) in the file; a zero std is
  taken as 1. The statistics are recorded in every sample.

Channels: ``flow`` has 2 (u, v), ``strain`` 1, ``diff`` 1 or 3 (gray or RGB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

KINDS = ("none", "minmax", "dataset")
MAPS = ("flow", "strain", "diff")


def _channels(arr: np.ndarray) -> np.ndarray:
    """View as (N, C): the last axis is the channel axis for (H, W, C); (H, W) is one channel."""
    arr = np.asarray(arr)
    return arr.reshape(-1, 1) if arr.ndim == 2 else arr.reshape(-1, arr.shape[-1])


def _apply(arr: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, np.float32)
    if arr.ndim == 2:
        return ((arr - shift[0]) / scale[0]).astype(np.float32)
    return ((arr - shift) / scale).astype(np.float32)


def minmax(arr: np.ndarray) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Per-channel min-max to 0..1: ``(normalised float32, {"min": [...], "max": [...]})``."""
    ch = _channels(arr).astype(np.float64)
    lo, hi = ch.min(axis=0), ch.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = _apply(arr, lo.astype(np.float32), span.astype(np.float32))  # a constant channel: x - lo = 0
    return out, {"min": lo.tolist(), "max": hi.tolist()}


def minmax_maps(arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """:func:`minmax` applied to each of ``flow``, ``strain``, ``diff`` present in ``arrays``."""
    out: dict[str, np.ndarray] = {}
    params: dict[str, dict] = {}
    for name in MAPS:
        if name in arrays:
            out[name], params[name] = minmax(arrays[name])
    return out, params


class RunningStats:
    """Per-map, per-channel mean and std accumulated over samples (float64 sums)."""

    def __init__(self) -> None:
        self.n: dict[str, float] = {}
        self.s: dict[str, np.ndarray] = {}
        self.ss: dict[str, np.ndarray] = {}

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name in MAPS:
            if name not in arrays:
                continue
            ch = _channels(arrays[name]).astype(np.float64)
            self.n[name] = self.n.get(name, 0.0) + ch.shape[0]
            self.s[name] = self.s.get(name, 0.0) + ch.sum(axis=0)
            self.ss[name] = self.ss.get(name, 0.0) + (ch * ch).sum(axis=0)

    def result(self) -> dict[str, dict[str, list[float]]]:
        out = {}
        for name, n in self.n.items():
            mean = self.s[name] / n
            var = np.maximum(self.ss[name] / n - mean * mean, 0.0)
            std = np.sqrt(var)
            out[name] = {"mean": mean.tolist(), "std": np.where(std > 0, std, 1.0).tolist()}
        return out


def dataset_stats(samples: Iterable[Mapping[str, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Per-map, per-channel ``{"mean": [...], "std": [...]}`` over all pixels of all ``samples``."""
    stats = RunningStats()
    for arrays in samples:
        stats.add(arrays)
    return stats.result()


def apply_dataset_stats(
    arrays: Mapping[str, np.ndarray], stats: Mapping[str, Mapping[str, list[float]]]
) -> dict[str, np.ndarray]:
    """``(x - mean) / std`` per channel for each map in both ``arrays`` and ``stats``."""
    out = {}
    for name in MAPS:
        if name in arrays and name in stats:
            mean = np.asarray(stats[name]["mean"], np.float32)
            std = np.asarray(stats[name]["std"], np.float32)
            out[name] = _apply(arrays[name], mean, std)
    return out
