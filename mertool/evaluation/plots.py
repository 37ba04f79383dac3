"""Figures of an evaluation: confusion matrices and training curves (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    """savefig to a temporary name, then rename: a killed run never leaves half a PNG."""
    import os

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fig.savefig(tmp)
    os.replace(tmp, path)


def confusion_png(cm: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    """Row-normalised confusion matrix with the counts written in each cell."""
    plt = _plt()
    cm = np.asarray(cm, dtype=np.int64)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * k, 1.0 + 0.8 * k), dpi=110)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(k):
        for j in range(k):
            ax.text(
                j, i, f"{cm[i, j]}\n{frac[i, j]:.0%}", ha="center", va="center", fontsize=8,
                color="white" if frac[i, j] > 0.6 else "black",
            )  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)
    plt.close(fig)
    return path


def curves_png(
    histories: dict[str, list[dict[str, Any]]], path: Path, best: dict[str, int] | None = None
) -> Path:
    """Training loss (and validation loss where there is one) per epoch, one line per fold,
    with the mean over folds in black; a dot marks each fold's kept epoch."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    for ax, key, title in (
        (axes[0], "train_loss", "training loss"),
        (axes[1], "val_loss", "validation loss"),
    ):
        series = []
        for name, hist in histories.items():
            ys = [h.get(key) for h in hist]
            if not ys or all(y is None for y in ys):
                continue
            xs = [h["epoch"] for h in hist]
            ax.plot(xs, [np.nan if y is None else y for y in ys], lw=0.8, alpha=0.35)
            series.append(ys)
            if (
                best
                and name in best
                and key == "val_loss"
                and 0 < best[name] <= len(ys)
                and ys[best[name] - 1] is not None
            ):
                ax.plot([best[name]], [ys[best[name] - 1]], "o", ms=3, color="C3", alpha=0.6)
        if series:
            n = max(len(s) for s in series)
            arr = np.full((len(series), n), np.nan)
            for i, s in enumerate(series):
                arr[i, : len(s)] = [np.nan if y is None else y for y in s]
            ax.plot(range(1, n + 1), np.nanmean(arr, axis=0), color="black", lw=1.8, label="mean over folds")
            ax.legend(fontsize=8)
        else:
            ax.text(
                0.5,
                0.5,
                "no validation split\n(--val-subjects 0: last epoch kept)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=9,
            )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)
    plt.close(fig)
    return path
