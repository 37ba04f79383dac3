"""Options shared by ``train`` and ``eval-loso`` (model, loss, optimiser, schedule, augmentation,
validation split, device), declared once; what they mean is resolved in
:mod:`mertool.training.options`."""

from __future__ import annotations

import functools
import inspect
import keyword
import sys
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

import typer
from typer.core import TyperCommand

# ------------------------------------------------------------------------------------------------
# --preset NAME --help shows what the preset sets


def _preset_in(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--preset" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--preset="):
            return a.split("=", 1)[1]
    return None


class PresetHelpCommand(TyperCommand):
    """A command whose ``--help`` also prints the table of the ``--preset`` given before it."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        ctx.meta["mertool_preset"] = _preset_in(list(args))
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter) -> None:  # type: ignore[override]
        super().format_help(ctx, formatter)
        name = ctx.meta.get("mertool_preset")
        if not name:
            return
        from rich.console import Console
        from rich.table import Table

        from mertool.errors import MertoolError
        from mertool.training.presets import get_preset

        console = Console(file=sys.stdout, highlight=False)
        try:
            p = get_preset(name)
        except MertoolError as exc:
            console.print(f"[red]{exc.message}[/] ({exc.hint})")
            return
        table = Table(title=f"--preset {p.name} (paper {p.paper}): {p.description}", title_justify="left")
        table.add_column("setting", no_wrap=True)
        table.add_column("value", overflow="fold")
        table.add_column("source", overflow="fold")
        for setting, value, source in p.rows():
            table.add_row(setting, value, source)
        console.print(table)
        console.print("Any option given on the command line overrides the preset's value.")


# ------------------------------------------------------------------------------------------------
# options shared by train and eval-loso


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum of ``values`` (what typer needs to list and check choices)."""
    return Enum(name, {f"{v}_" if keyword.iskeyword(v) else v: v for v in values}, type=str)


Loss = _choices("Loss", ("ce", "focal", "arcface"))
Optimizer = _choices("Optimizer", ("sgd", "adam", "adamw"))
Schedule = _choices("Schedule", ("none", "step", "cosine"))
Device = _choices("Device", ("auto", "cpu", "cuda"))
Norm = _choices("Norm", ("dataset", "global", "none"))
Monitor = _choices("Monitor", ("val_loss", "val_uf1"))

P_MODEL = "Model"
P_TRAIN = "Training (a flag overrides --preset)"
P_RUN = "Run"


def _opt(flags: str, help: str, panel: str, default: Any = None, **kw: Any) -> Any:
    """``typer.Option(default, *flags.split(), help=..., rich_help_panel=panel, **kw)``."""
    return typer.Option(default, *flags.split(), help=help, rich_help_panel=panel, **kw)


#: INPUT of train and eval-loso
SAMPLES = typer.Argument(
    ..., metavar="INPUT", help="Sample file (flow or crop-rois stage), earlier-stage file, or dataset root."
)

#: (parameter name, type, typer option) of every option train and eval-loso share, in --help order
# fmt: off
SHARED: tuple[tuple[str, Any, Any], ...] = (
    ("arch", str | None, _opt("--arch -a", "Architecture (mertool models list).", P_MODEL, metavar="NAME")),
    ("opt", list[str] | None, _opt("--opt", "Model option, repeatable (e.g. --opt stages=2).", P_MODEL, metavar="KEY=VALUE")),
    ("stages", int | None, _opt("--stages", "Model option 'stages' (dfr-net: ResNet stages 1-4).", P_MODEL)),
    ("fusion", str | None, _opt("--fusion", "Model option 'fusion' (dfr-net: add, mul, cat, attn).", P_MODEL)),
    ("attention", str | None, _opt("--attention", "Model option 'attention' (dfr-net: none, sa, ca, all).", P_MODEL)),
    ("branches", str | None, _opt("--branches", "Model option 'branches' (dfr-net: e.g. TSD, TD, SD).", P_MODEL)),
    ("input_size", int | None, _opt("--input-size", "Input side length (default: the model's).", P_MODEL, min=8)),
    ("preset", str | None, _opt( "--preset", "A paper's training set-up; '--preset NAME --help' shows it.", P_TRAIN, metavar="NAME" )),
    ("loss", Loss | None, _opt("--loss", "Loss function (default ce).", P_TRAIN)),
    ("focal", bool, _opt("--focal", "Same as --loss focal.", P_TRAIN, default=False)),
    ("loss_opt", list[str] | None, _opt( "--loss-opt", "Loss option, repeatable: gamma=2, alpha=balanced (focal); class_weights=balanced, label_smoothing=0.1 (ce).", P_TRAIN, metavar="KEY=VALUE", )),
    ("epochs", int | None, _opt("--epochs", "Epochs (default 30).", P_TRAIN, min=1)),
    ("batch_size", int | None, _opt("--batch-size -b", "Batch size (default 32).", P_TRAIN, min=1)),
    ("lr", float | None, _opt("--lr", "Learning rate (default 1e-3).", P_TRAIN)),
    ("optimizer", Optimizer | None, _opt("--optimizer", "Optimiser (default adam; SGD uses momentum 0.9).", P_TRAIN)),
    ("weight_decay", float | None, _opt("--weight-decay", "Weight decay (default 0).", P_TRAIN)),
    ("schedule", Schedule | None, _opt("--schedule", "Learning-rate schedule (default none).", P_TRAIN)),
    ("step_size", int | None, _opt("--step-size", "Step schedule: epochs per decay (default epochs/3).", P_TRAIN, min=1)),
    ("gamma", float | None, _opt("--gamma", "Step schedule: decay factor (default 0.1).", P_TRAIN)),
    ("augment", str | None, _opt( "--augment", "Comma list of hflip, crop[=F], rotate[=DEG], contrast[=F], xN (offline N-fold), or none.", P_TRAIN, metavar="SPEC", )),
    ("val_subjects", int | None, _opt( "--val-subjects", "Validation subjects drawn from the TRAINING subjects for early stopping and choosing the epoch (default 0: keep the last epoch).", P_TRAIN, min=0, )),
    ("early_stop", int | None, _opt( "--early-stop", "Stop after N epochs without validation improvement (needs --val-subjects).", P_TRAIN, min=0, )),
    ("monitor", Monitor | None, _opt("--monitor", "Validation score that picks the epoch (default val_loss).", P_TRAIN)),
    ("recalibrate_bn", bool | None, _opt( "--recalibrate-bn/--no-recalibrate-bn", "Recompute BatchNorm statistics with the kept weights over the training samples (default on; docs/training.md says why).", P_TRAIN, )),
    ("label_map", str | None, _opt( "--label-map", "Label map (megc2019, casme2-5, native, ...); default: the file's.", P_TRAIN, metavar="NAME", )),
    ("norm", Norm | None, _opt( "--norm", "Input normalisation from the training samples: per dataset (default), global, none.", P_TRAIN, )),
    ("device", Device, _opt("--device", "auto: CUDA if present, else CPU.", P_RUN, default=Device.auto)),
    ("seed", int, _opt( "--seed", "Random seed (recorded; same seed, same numbers on the same machine).", P_RUN, default=0 )),
    ("threads", int, _opt( "--threads", "Intra-op threads (0: train uses torch's default; eval-loso one per fold process on CPU, so -j never changes the numbers).", P_RUN, default=0, min=0, )),
    ("dataset", str | None, _opt("--dataset -d", "Dataset reader when INPUT is a dataset root.", P_RUN, metavar="NAME")),
)
# fmt: on


def with_shared_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the :data:`SHARED` options: they replace its ``training`` parameter (typer
    reads the signature), which receives them as one dict. The command's own options keep their
    place; the shared ones come after them, in their panels."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.name != "training"]
    shared = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=t) for n, t, o in SHARED
    ]
    own_hints = {k: v for k, v in typing.get_type_hints(func).items() if k != "training"}

    @functools.wraps(func)
    def command(**values: Any) -> Any:
        training = {n: values.pop(n) for n, _, _ in SHARED}
        return func(**values, training=training)

    command.__signature__ = sig.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
    command.__annotations__ = {**own_hints, **{n: t for n, t, _ in SHARED}}
    del command.__wrapped__  # typer must read the new signature, not the original's
    return command
