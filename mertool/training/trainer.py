"""Train one model on some rows of a sample table: the unit both ``train`` and every fold of
``eval-loso`` run.

Given the training rows (never the test rows) it seeds and builds the model, draws the validation
subjects out of the rows, fits the normalisation statistics on what remains, builds the
(augmented) training set, and runs :func:`mertool.training.loop.fit`.

Models fitted in closed form (they have ``fit_arrays``: the hand-crafted features + SVM of
:mod:`mertool.models.handcrafted`) take :func:`fit_closed_form` instead: no epochs, augmentation,
validation split or normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mertool.training.config import RunConfig
from mertool.training.data import BatchSet, Normalizer, SampleTable
from mertool.training.loop import FitResult, fit


@dataclass
class Trained:
    model: Any
    result: FitResult
    normalizer: Normalizer
    train_rows: np.ndarray  # rows that trained the weights
    val_rows: np.ndarray  # rows of the validation subjects (model selection only)
    val_groups: list[str]


def model_inputs(cfg: RunConfig) -> tuple[str, ...]:
    from mertool.models.registry import model_spec

    return model_spec(cfg.arch).input_names(cfg.options)


def input_size(cfg: RunConfig) -> int:
    from mertool.models.registry import model_spec

    return int(cfg.input_size or model_spec(cfg.arch).input_size)


def three_frames(cfg: RunConfig) -> bool:
    """Whether region inputs carry onset/middle/apex as channels (paper 001's 3D variant)."""
    opts = cfg.options
    return str(opts.get("input", "")).lower() in ("3frames", "3f", "frames3") or opts.get("frames") in (
        3,
        "3",
    )


def load_samples(source: Any, cfg: RunConfig) -> SampleTable:
    """The sample table ``cfg``'s model reads from ``source`` (a sample file or its path): its
    inputs at its input size, in the configuration's label map."""
    from mertool.training.data import load_table

    return load_table(
        source,
        model_inputs(cfg),
        input_size(cfg),
        cfg.label_map,
        channels=cfg.channels,
        three_frames=three_frames(cfg),
    )


def train_on_rows(
    table: SampleTable,
    rows: np.ndarray,
    groups: list[str],
    cfg: RunConfig,
    seed: int,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_batch: Callable[[int, int, float], None] | None = None,
    after_epoch: Callable[[Any, int, Normalizer], None] | None = None,
    ddp: Any = None,
) -> Trained:
    """Train ``cfg.arch`` on ``rows`` of ``table`` (see module docstring).

    ``after_epoch(model, epoch, normalizer)``, if given, is called after every epoch with the
    fold's normaliser (so an observer can feed other rows exactly as the final test will).
    ``ddp``: this process's :class:`mertool.training.distributed.Shard` of a training on several
    devices (the model is built from the seed here, in every process, before DDP wraps it)."""
    import torch

    from mertool.evaluation.protocols import validation_split
    from mertool.models.registry import build_model
    from mertool.training.augment import Augmenter, expand_offline, parse_augment

    torch.manual_seed(int(seed))
    model = build_model(cfg.arch, num_classes=len(table.classes), **cfg.options)
    if hasattr(model, "fit_arrays"):
        if ddp is not None:
            from mertool.errors import MertoolError

            raise MertoolError(
                f"{cfg.arch} is fitted in closed form in one process: --devices does not apply",
                hint="drop --devices",
            )
        return fit_closed_form(model, table, rows, cfg, seed, on_epoch)
    train_rows, val_rows, val_groups = validation_split(rows, groups, cfg.val_subjects, seed)
    normalizer = Normalizer.fit(table, train_rows, cfg.norm)
    aug = parse_augment(cfg.augment)
    if aug.offline > 1:
        gen = torch.Generator().manual_seed(int(seed) + 2)
        inputs, labels, src = expand_offline(
            {k: v[train_rows] for k, v in table.inputs.items()}, table.labels[train_rows], aug, gen
        )
        rows_x = train_rows[src]
        train_set = BatchSet(
            table,
            rows_x,
            normalizer,
            inputs=inputs,
            labels=labels,
            datasets=[table.datasets[i] for i in rows_x],
        )
    else:
        train_set = BatchSet(table, train_rows, normalizer, augment=Augmenter(aug) if aug.online else None)
    val_set = BatchSet(table, val_rows, normalizer) if len(val_rows) else None
    result = fit(
        model,
        train_set,
        val_set,
        cfg.fit,
        len(table.classes),
        seed,
        device,
        on_epoch,
        on_batch,
        None if after_epoch is None else (lambda m, epoch: after_epoch(m, epoch, normalizer)),
        ddp=None if ddp is None else ddp.setup(model, seed),
    )
    return Trained(model, result, normalizer, train_rows, val_rows, val_groups)


def fit_closed_form(
    model,
    table: SampleTable,
    rows: np.ndarray,
    cfg: RunConfig,
    seed: int,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> Trained:
    """Fit a closed-form model (``model.fit_arrays``) on every one of ``rows``, raw scale.

    Nothing is selected, so no validation subjects are drawn (``--val-subjects`` is ignored and
    the record says so); the inputs reach the model unnormalised (a ``none`` normaliser, stored in
    the model file, so prediction feeds raw inputs too): the model standardises its features."""
    import time

    from mertool.errors import MertoolError
    from mertool.training.augment import parse_augment

    aug = parse_augment(cfg.augment)
    if aug.any_transform or aug.offline > 1:
        raise MertoolError(
            f"{cfg.arch} is fitted in closed form on the samples as they are: no --augment",
            hint="drop --augment (or --preset setting it) for the hand-crafted baselines",
        )
    t0 = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    record = model.fit_arrays({k: v[rows] for k, v in table.inputs.items()}, table.labels[rows], seed)
    record.update(normalization="none (raw inputs)", val_subjects_ignored=int(cfg.val_subjects))
    record["seconds"] = time.perf_counter() - t0
    if on_epoch is not None:
        on_epoch(record)
    result = FitResult(
        history=[record],
        best_epoch=1,
        selected_on="closed form",
        stopped_early=False,
        selection_ids=[],
        seconds=record["seconds"],
    )
    return Trained(model, result, Normalizer.fit(table, rows, "none"), rows, np.zeros(0, np.int64), [])


def model_meta(
    table: SampleTable,
    cfg: RunConfig,
    trained: Trained,
    inputs,
    size: int,
    three: bool,
    seed: int,
    command: str | None = None,
) -> dict[str, Any]:
    """The model-file metadata of a trained model (see :mod:`mertool.training.checkpoint`);
    ``command`` is the command line that trained it, as the caller gives it."""
    from mertool.models.registry import model_spec
    from mertool.training.data import required_stage

    used = np.concatenate([trained.train_rows, trained.val_rows])
    return {
        "command": command,
        "arch": cfg.arch,
        "options": model_spec(cfg.arch).resolve_options(cfg.options),  # defaults too: see checkpoint.py
        "num_classes": len(table.classes),
        "classes": list(table.classes),
        "label_map": table.label_map,
        "preprocessing": {
            "inputs": list(inputs),
            "input_size": [int(size), int(size)],
            "channels": cfg.channels,
            "three_frames": bool(three),
            "normalization": trained.normalizer.to_dict(),
            "stage": required_stage(inputs),
            "stages": table.source.get("stages", []),
            "stage_params": table.source.get("stage_params", {}),
            "flow_record": table.source.get("flow_record"),
        },
        "config": cfg.to_dict(),
        "history": trained.result.history,
        "best_epoch": trained.result.best_epoch,
        "selected_on": trained.result.selected_on,
        "seed": int(seed),
        "trained_on": {
            "file": table.source.get("path"),
            "ids": [table.ids[i] for i in sorted(used.tolist())],
            "validation_subjects": trained.val_groups,
        },
    }


def train_file(
    source,
    cfg: RunConfig,
    output,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_batch: Callable[[int, int, float], None] | None = None,
    table: SampleTable | None = None,
    command: str | None = None,
    ddp: Any = None,
) -> tuple[Trained, SampleTable]:
    """``mertool train``: one model on every usable sample of ``source`` (less the validation
    subjects when ``cfg.val_subjects`` > 0), saved to ``output`` with ``command`` (the command
    line, recorded in the model file). ``ddp``: one process of a training on several devices
    (:mod:`mertool.training.distributed`; ``output`` None in all processes but rank 0's)."""
    from mertool.evaluation.protocols import sample_groups
    from mertool.training.checkpoint import save_model
    from mertool.training.data import load_table

    inputs = model_inputs(cfg)
    size = input_size(cfg)
    if table is None:
        table = load_table(
            source, inputs, size, cfg.label_map, channels=cfg.channels, three_frames=three_frames(cfg)
        )
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    trained = train_on_rows(
        table, np.arange(len(table)), groups, cfg, cfg.seed, device, on_epoch, on_batch, ddp=ddp
    )
    if output is not None:
        save_model(
            output,
            trained.model,
            model_meta(table, cfg, trained, inputs, size, three_frames(cfg), cfg.seed, command=command),
        )
    return trained, table
