"""The training loop: optimiser, schedule, epochs, early stopping and best-epoch choice.

Model selection never sees test data: :func:`fit` receives the training set and, optionally, a
validation set drawn from the *training subjects* (:func:`mertool.evaluation.protocols.
validation_split`); the test fold is not an argument. With a validation set, the kept weights are
those of the epoch with the best validation score (``monitor``: validation loss, as paper 004
stops on, or validation UF1), and early stopping ends training after ``early_stop`` epochs
without improvement. Without one, the weights after the last epoch are kept. The ids of every
sample the selection looked at are returned (``FitResult.selection_ids``) so tests can check them.

Losses follow the model contract (:mod:`mertool.models.registry`) through
:func:`mertool.training.losses.output_loss`: the loss takes ``out["loss_logits"]`` when the model
gives it (ArcFace heads) else ``out["logits"]``, plus ``aux_weight`` times the loss of each
``out["aux_logits"]`` head (ABN's attention branch). Validation loss uses the plain logits.

Determinism: with a fixed ``seed`` on CPU the same data give the same weights and numbers:
torch's generator seeds the model init (by the caller), the shuffling (a seeded
``DataLoader`` sampler) and augmentation (a separate seeded generator); ``num_workers=0``; torch's
deterministic algorithms are switched on for the duration of :func:`fit`.

Several devices (``mertool train --devices``): :func:`fit` runs in every process of a
DistributedDataParallel training with ``ddp`` (a :class:`mertool.training.distributed.Shard`).
Every process walks the same global batches (same seeded shuffle); each trains on its own
contiguous part of each batch, with its loss weighted by its share so that DDP's gradient average
is the gradient of the global batch. Validation, BatchNorm recalibration and model selection run
on every process over the whole set, unsynchronised, and rank 0's score decides (so all processes
stop and keep the same epoch). See :mod:`mertool.training.distributed`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mertool.errors import MertoolError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")
MONITORS = ("val_loss", "val_uf1")


@dataclass
class FitConfig:
    """Hyper-parameters of one training run (what presets set; see presets.py)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 0  # step schedule: epochs between decays (0: a third of the epochs)
    gamma: float = 0.1  # step schedule: decay factor
    early_stop: int = 0  # patience in epochs without validation improvement (0: off)
    monitor: str = "val_loss"
    loss: str = "ce"
    loss_options: dict[str, Any] = field(default_factory=dict)
    recalibrate_bn: bool = True  # recompute BatchNorm statistics with the kept weights (see below)

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise MertoolError(
                f"unknown optimizer {self.optimizer!r}", hint=f"one of: {', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise MertoolError(f"unknown schedule {self.schedule!r}", hint=f"one of: {', '.join(SCHEDULES)}")
        if self.monitor not in MONITORS:
            raise MertoolError(f"unknown monitor {self.monitor!r}", hint=f"one of: {', '.join(MONITORS)}")
        if self.epochs < 1 or self.batch_size < 1 or not (self.lr > 0):
            raise MertoolError("--epochs and --batch-size must be at least 1 and --lr positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    best_epoch: int  # 1-based epoch whose weights the model now holds
    selected_on: str  # "validation" or "last epoch"
    stopped_early: bool
    selection_ids: list[str]  # every sample id evaluated for model selection
    seconds: float


def make_optimizer(params, cfg: FitConfig):
    import torch

    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer, cfg: FitConfig):
    import torch

    if cfg.schedule == "step":
        step = cfg.step_size or max(1, cfg.epochs // 3)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, cfg.epochs))
    return None


def make_criterion(cfg: FitConfig, num_classes: int, class_counts=None):
    """``build_loss`` of :mod:`mertool.training.losses` with the training class counts (for
    ``class_weights=balanced`` / ``alpha=balanced``)."""
    from mertool.training.losses import build_loss

    opts = dict(cfg.loss_options)
    if class_counts is not None:
        opts.setdefault("class_counts", [int(c) for c in class_counts])
    return build_loss(cfg.loss, num_classes, **opts)


def _to(batch_inputs: dict[str, Any], device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) for k, v in batch_inputs.items()}


def batches(dataset, batch_size: int, shuffle: bool, generator=None):
    """Whole batches from a :class:`~mertool.training.data.BatchSet`: a DataLoader when shuffling,
    plain slices in order otherwise. In-order passes (evaluation, BatchNorm recalibration) draw
    nothing from torch's global generator (a DataLoader draws a base seed from it), so looking at
    a model between epochs never changes the dropout draws of its training."""
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    if not shuffle:
        return (
            dataset[list(range(i, min(i + batch_size, len(dataset))))]
            for i in range(0, len(dataset), batch_size)
        )
    sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(
        dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None, num_workers=0
    )


def train_batches(train_set, batch_size: int, generator, ddp=None):
    """``(inputs, labels, rows, n)`` of every shuffled training batch: the whole batch of ``n``
    samples, or with ``ddp`` this process's part of the same global batch of ``n``."""
    if ddp is not None:
        yield from ddp.batches(train_set, batch_size, generator)
        return
    for x, y, rows in batches(train_set, batch_size, True, generator):
        yield x, y, rows, len(y)


def evaluate(model, dataset, batch_size: int, device, criterion=None) -> dict[str, Any]:
    """Predict a whole set: ``{"probs": (N, K), "rows": (N,), "labels": (N,), "loss": float|None}``."""
    import torch

    model.eval()
    probs, rows, labels, losses, counts = [], [], [], [], []
    with torch.inference_mode():
        for x, y, r in batches(dataset, batch_size, shuffle=False):
            out = model(_to(x, device))
            logits = out["logits"]
            if criterion is not None and (y >= 0).all():
                losses.append(float(criterion(logits, y.to(device)).item()))
                counts.append(len(y))
            probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
            rows.append(r.numpy())
            labels.append(y.numpy())
    loss = float(np.average(losses, weights=counts)) if losses else None
    return {
        "probs": np.concatenate(probs) if probs else np.zeros((0, 0), np.float32),
        "rows": np.concatenate(rows) if rows else np.zeros(0, np.int64),
        "labels": np.concatenate(labels) if labels else np.zeros(0, np.int64),
        "loss": loss,
    }


def recalibrate_batchnorm(model, dataset, batch_size: int, device) -> int:
    """Recompute every BatchNorm layer's running mean and variance with the final weights.

    During training the running statistics are an exponential average over past batches, taken
    while the weights still moved. On small sets (a LOSO fold of 18 samples is one batch per
    epoch) they lag far behind the weights the model ends with, and evaluation mode then sees
    features normalised with the wrong statistics: we measured DFR-Net at 100 % training
    accuracy in training mode and 33 % on the same training samples in evaluation mode
    (docs/training.md). Here the statistics are recomputed as the plain average over one pass of
    the training samples (without augmentation), with only the BatchNorm layers in training mode,
    so dropout and random generators are untouched. Returns the number of layers recalibrated.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    norms = [m for m in norms if m.track_running_stats]
    if not norms or len(dataset) == 0:
        return 0
    augment = getattr(dataset, "augment", None)
    momenta = [m.momentum for m in norms]
    model.eval()
    try:
        if augment is not None:
            dataset.augment = None
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average of the batches below
            m.train()
        with torch.no_grad():
            for x, _y, _rows in batches(dataset, batch_size, shuffle=False):
                if len(_y) < 2 and len(dataset) > 1:
                    continue  # as in training: a batch of one has no variance
                model(_to(x, device))
    finally:
        if augment is not None:
            dataset.augment = augment
        for m, mom in zip(norms, momenta):
            m.momentum = mom
        model.eval()
    return len(norms)


def fit(
    model,
    train_set,
    val_set,
    cfg: FitConfig,
    num_classes: int,
    seed: int,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_batch: Callable[[int, int, float], None] | None = None,
    after_epoch: Callable[[Any, int], None] | None = None,
    ddp: Any = None,
) -> FitResult:
    """Train ``model`` in place; see the module docstring. ``val_set`` may be None; ``ddp``: this
    process's part of a distributed training (None: train alone).

    ``after_epoch(model, epoch)`` is called after each epoch's update, before model selection;
    it may only look (``eval-loso --selection-bias`` records test predictions there, which never
    reach any choice): the training loop sets the model back to training mode itself."""
    import torch

    from mertool.evaluation.metrics import compute_metrics
    from mertool.training.losses import output_loss

    cfg.check()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        dev = torch.device(device)
        model.to(dev)
        counts = np.bincount(train_set.labels_array(), minlength=num_classes)
        criterion = make_criterion(cfg, num_classes, counts)
        if isinstance(criterion, torch.nn.Module):
            criterion.to(dev)
        params = list(model.parameters())
        if isinstance(criterion, torch.nn.Module):
            params += [p for p in criterion.parameters() if p.requires_grad]
        if ddp is not None and len(params) > len(list(model.parameters())):
            raise MertoolError(
                f"loss {cfg.loss!r} has trainable parameters of its own, which --devices cannot share",
                hint="train it on one device (drop --devices)",
            )
        # the training forward pass: the DDP-wrapped model when distributed, the model itself otherwise
        forward = model if ddp is None else ddp.forward
        world = 1 if ddp is None else ddp.world
        optimizer = make_optimizer(params, cfg)
        scheduler = make_scheduler(optimizer, cfg)
        shuffle_gen = torch.Generator().manual_seed(int(seed))
        if getattr(train_set, "augment", None) is not None:
            train_set.generator = torch.Generator().manual_seed(int(seed) + 1)

        history: list[dict[str, Any]] = []
        best_score = math.inf
        best_epoch = 0
        best_state = None
        bad_epochs = 0
        stopped_early = False
        selection_ids: set[str] = set()
        has_val = val_set is not None and len(val_set) > 0
        start = time.perf_counter()
        n_batches = math.ceil(len(train_set) / cfg.batch_size)
        # what is evaluated during training (validation, an observer) sees recalibrated
        # statistics too, so the weights it picks are judged as they will be used
        per_epoch_bn = cfg.recalibrate_bn and (has_val or after_epoch is not None)
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            if ddp is not None:
                ddp.train()
            total, seen, correct = 0.0, 0, 0
            for b, (x, y, _rows, n) in enumerate(train_batches(train_set, cfg.batch_size, shuffle_gen, ddp)):
                # n: the global batch (y is this process's part of it when distributed)
                if (n < 2 and len(train_set) > 1) or n < world:
                    continue  # a batch of one breaks batch norm; its sample comes back next epoch
                x, y = _to(x, dev), y.to(dev)
                optimizer.zero_grad(set_to_none=True)
                out = forward(x, y)
                loss = output_loss(out, y, criterion)
                if not torch.isfinite(loss):
                    raise MertoolError(
                        f"training diverged at epoch {epoch} (loss {loss.item()})",
                        hint="lower --lr, or check the inputs for NaN (mertool inspect)",
                    )
                # distributed: DDP averages the processes' gradients, so weighting each part's mean
                # loss by (its size * world / global size) makes that average the global batch's
                (loss if ddp is None else loss * (len(y) * world / n)).backward()
                optimizer.step()
                total += float(loss.item()) * len(y)
                seen += len(y)
                correct += int((out["logits"].argmax(1) == y).sum().item())
                if on_batch is not None:
                    on_batch(b + 1, n_batches, total / max(seen, 1))
            if ddp is not None:  # the epoch's numbers over the global batches, as one process counts them
                total, seen, correct = ddp.sum([total, seen, correct])
                seen, correct = int(seen), int(correct)
            lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            record: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "train_acc": correct / max(seen, 1),
                "lr": lr,
            }
            if per_epoch_bn:
                recalibrate_batchnorm(model, train_set, cfg.batch_size, dev)
            if has_val:
                ev = evaluate(model, val_set, max(cfg.batch_size, 64), dev, criterion)
                selection_ids.update(val_set.table.ids[r] for r in ev["rows"])
                pred = ev["probs"].argmax(1)
                m = compute_metrics(ev["labels"], pred, num_classes)
                record.update(val_loss=ev["loss"], val_uf1=m["uf1"], val_acc=m["accuracy"])
                score = ev["loss"] if cfg.monitor == "val_loss" else -(m["uf1"] or 0.0)
                if ddp is not None:
                    score = ddp.agree(score)  # rank 0's: every process keeps the same epoch
                if score < best_score:
                    best_score, best_epoch, bad_epochs = score, epoch, 0
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                else:
                    bad_epochs += 1
            record["seconds"] = time.perf_counter() - t0
            history.append(record)
            if after_epoch is not None:
                after_epoch(model, epoch)
            if on_epoch is not None:
                on_epoch(record)
            if has_val and cfg.early_stop > 0 and bad_epochs >= cfg.early_stop:
                stopped_early = True
                break
        if has_val and best_state is not None:
            model.load_state_dict(best_state)
            selected = "validation"
        else:
            best_epoch = len(history)
            selected = "last epoch"
        if cfg.recalibrate_bn and not per_epoch_bn:
            recalibrate_batchnorm(model, train_set, cfg.batch_size, dev)
        return FitResult(
            history=history,
            best_epoch=best_epoch,
            selected_on=selected,
            stopped_early=stopped_early,
            selection_ids=sorted(selection_ids),
            seconds=time.perf_counter() - start,
        )
    finally:
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
