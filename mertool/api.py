"""mertool from Python: readers, sample files as a torch ``Dataset``, fold plans and metrics.

The names here are the stable, documented entry points for users who bring their own training
code (docs/python-api.md has a runnable walk-through); everything they return is plain Python,
numpy or torch. The command-line tool is built on the same functions.

========================  ============================================================================
``open_dataset``          read a dataset as shipped: ``open_dataset("CASME2/").samples``
``SampleDataset``         a sample file as a ``torch.utils.data.Dataset`` of (inputs dict, label)
``fold_plan``             the folds of a protocol (``loso``, ``kfold:K``, ``composite``, ``split``)
``compute_metrics``       pooled UF1, UAR, accuracy, per-class, ROC-AUC (DESIGN section 3)
``subject_bootstrap``     the confidence interval of pooled UF1/UAR, resampling subjects
``rescore``               metrics of any code's per-sample predictions (rows of dicts)
``register_model``        add a model to the registry (or use ``--arch file.py:Class``)
``run_evaluation``        the whole ``eval-loso`` run of a registered model
========================  ============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mertool.datasets.base import open_dataset
from mertool.evaluation.bootstrap import subject_bootstrap
from mertool.evaluation.metrics import compute_metrics
from mertool.evaluation.rescore import rescore
from mertool.models.registry import register_model

__all__ = [
    "FoldPlan",
    "SampleDataset",
    "compute_metrics",
    "fold_plan",
    "open_dataset",
    "register_model",
    "rescore",
    "run_evaluation",
    "subject_bootstrap",
]


class SampleDataset:
    """A mertool sample file as a map-style ``torch.utils.data.Dataset``.

    ``SampleDataset("flow.h5", inputs=("flow", "apex"), size=28, label_map="megc2019")`` loads
    every usable sample once (failed and unlabelled ones are skipped, listed in ``.skipped``);
    ``ds[i]`` is ``({"flow": Tensor (3, 28, 28), "apex": Tensor (C, 28, 28)}, label: int)`` in raw
    scale (flow in pixels, images in 0..1). ``.subjects``, ``.datasets``, ``.ids`` and
    ``.classes`` describe the samples, so ``fold_plan(ds)`` and ``torch.utils.data.Subset``
    give leakage-free splits. Works with a plain ``DataLoader`` (default collation).
    """

    def __init__(
        self,
        path: str | Path,
        inputs: Iterable[str] = ("flow",),
        size: int | None = None,
        label_map: str | None = None,
        channels: int | None = None,
    ):
        from mertool.training.data import load_table

        self.table = load_table(path, tuple(inputs), size, label_map, channels=channels, progress=False)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        import torch

        x = {k: torch.from_numpy(np.ascontiguousarray(v[i])) for k, v in self.table.inputs.items()}
        return x, int(self.table.labels[i])

    @property
    def ids(self) -> list[str]:
        return self.table.ids

    @property
    def subjects(self) -> list[str]:
        """The LOSO key of every sample: ``dataset/subject``."""
        from mertool.evaluation.protocols import sample_groups

        return sample_groups(self.table.datasets, self.table.subjects, self.table.ids)

    @property
    def datasets(self) -> list[str]:
        return self.table.datasets

    @property
    def labels(self) -> np.ndarray:
        return self.table.labels

    @property
    def classes(self) -> list[str]:
        return self.table.classes

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self.table.skipped


@dataclass(frozen=True)
class FoldPlan:
    """One fold: ``train``/``test`` are row indices (int64 arrays) into the dataset."""

    name: str
    train: np.ndarray
    test: np.ndarray
    test_subjects: list[str]


def fold_plan(dataset: SampleDataset, protocol: str = "loso", seed: int = 0) -> list[FoldPlan]:
    """The folds ``eval-loso --protocol PROTOCOL`` runs, checked: no subject is ever in both the
    training and the test rows of a fold, and the test rows of all folds cover every sample once
    (except ``split``)."""
    from mertool.evaluation.protocols import check_folds, make_folds, parse_protocol

    proto = parse_protocol(protocol)
    groups = dataset.subjects
    t = dataset.table
    folds = make_folds(proto, groups, t.labels, t.splits, seed)
    check_folds(folds, groups, len(t), require_cover=proto.name != "split")
    g = np.asarray(groups, dtype=object)
    return [FoldPlan(f.name, f.train, f.test, sorted(set(g[f.test].tolist()))) for f in folds]


def run_evaluation(source: str | Path, arch: str, out_dir: str | Path, seed: int = 0, **settings: Any):
    """``mertool eval-loso SOURCE --arch ARCH -o OUT_DIR`` from Python; ``settings`` are the
    configuration keys of :data:`mertool.training.config.DEFAULTS` (``epochs=20``, ``lr=1e-3``,
    ``options={"width": 8}``, ``protocol="loso"`` …) plus the runner's keywords (``workers``,
    ``threads``, ``plots``, ``test_curve``). Returns the pooled summary (``summary.json``)."""
    from mertool.folds.run import run_evaluation as run
    from mertool.training.config import DEFAULTS, resolve_config

    config = {k: v for k, v in settings.items() if k in DEFAULTS}
    runner = {k: v for k, v in settings.items() if k not in DEFAULTS}
    cfg = resolve_config(None, {"arch": arch, **config}, seed=seed)
    return run(source, cfg, out_dir, **runner).summary
