"""Options shared by ``train`` and ``eval-loso`` (model, loss, optimiser, schedule, augmentation,
validation split, device), declared once; what they mean is resolved in
:mod:`mertool.training.options`."""

from __future__ import annotations

import sys
from enum import Enum

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


class Loss(str, Enum):
    ce = "ce"
    focal = "focal"
    arcface = "arcface"


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"
    adamw = "adamw"


class Schedule(str, Enum):
    none = "none"
    step = "step"
    cosine = "cosine"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Norm(str, Enum):
    dataset = "dataset"
    global_ = "global"
    none = "none"


class Monitor(str, Enum):
    val_loss = "val_loss"
    val_uf1 = "val_uf1"


P_MODEL = "Model"
P_TRAIN = "Training (a flag overrides --preset)"
P_RUN = "Run"

ARCH = typer.Option(
    None, "--arch", "-a", metavar="NAME", help="Architecture (mertool models list).", rich_help_panel=P_MODEL
)
OPT = typer.Option(
    None,
    "--opt",
    metavar="KEY=VALUE",
    help="Model option, repeatable (e.g. --opt stages=2).",
    rich_help_panel=P_MODEL,
)
STAGES = typer.Option(
    None, "--stages", help="Model option 'stages' (dfr-net: ResNet stages 1-4).", rich_help_panel=P_MODEL
)
FUSION = typer.Option(
    None, "--fusion", help="Model option 'fusion' (dfr-net: add, mul, cat, attn).", rich_help_panel=P_MODEL
)
ATTENTION = typer.Option(
    None,
    "--attention",
    help="Model option 'attention' (dfr-net: none, sa, ca, all).",
    rich_help_panel=P_MODEL,
)
BRANCHES = typer.Option(
    None, "--branches", help="Model option 'branches' (dfr-net: e.g. TSD, TD, SD).", rich_help_panel=P_MODEL
)
INPUT_SIZE = typer.Option(
    None, "--input-size", min=8, help="Input side length (default: the model's).", rich_help_panel=P_MODEL
)
PRESET = typer.Option(
    None,
    "--preset",
    metavar="NAME",
    help="A paper's training set-up; '--preset NAME --help' shows it.",
    rich_help_panel=P_TRAIN,
)
LOSS = typer.Option(None, "--loss", help="Loss function (default ce).", rich_help_panel=P_TRAIN)
FOCAL = typer.Option(False, "--focal", help="Same as --loss focal.", rich_help_panel=P_TRAIN)
LOSS_OPT = typer.Option(
    None,
    "--loss-opt",
    metavar="KEY=VALUE",
    help="Loss option, repeatable: gamma=2, alpha=balanced (focal); class_weights=balanced, label_smoothing=0.1 (ce).",
    rich_help_panel=P_TRAIN,
)
EPOCHS = typer.Option(None, "--epochs", min=1, help="Epochs (default 30).", rich_help_panel=P_TRAIN)
BATCH = typer.Option(
    None, "--batch-size", "-b", min=1, help="Batch size (default 32).", rich_help_panel=P_TRAIN
)
LR = typer.Option(None, "--lr", help="Learning rate (default 1e-3).", rich_help_panel=P_TRAIN)
OPTIMIZER = typer.Option(
    None, "--optimizer", help="Optimiser (default adam; SGD uses momentum 0.9).", rich_help_panel=P_TRAIN
)
WEIGHT_DECAY = typer.Option(None, "--weight-decay", help="Weight decay (default 0).", rich_help_panel=P_TRAIN)
SCHEDULE = typer.Option(
    None, "--schedule", help="Learning-rate schedule (default none).", rich_help_panel=P_TRAIN
)
STEP_SIZE = typer.Option(
    None,
    "--step-size",
    min=1,
    help="Step schedule: epochs per decay (default epochs/3).",
    rich_help_panel=P_TRAIN,
)
GAMMA = typer.Option(
    None, "--gamma", help="Step schedule: decay factor (default 0.1).", rich_help_panel=P_TRAIN
)
AUGMENT = typer.Option(
    None,
    "--augment",
    metavar="SPEC",
    help="Comma list of hflip, crop[=F], rotate[=DEG], contrast[=F], xN (offline N-fold), or none.",
    rich_help_panel=P_TRAIN,
)
VAL_SUBJECTS = typer.Option(
    None,
    "--val-subjects",
    min=0,
    help="Validation subjects drawn from the TRAINING subjects for early stopping and choosing the epoch (default 0: keep the last epoch).",
    rich_help_panel=P_TRAIN,
)
EARLY_STOP = typer.Option(
    None,
    "--early-stop",
    min=0,
    help="Stop after N epochs without validation improvement (needs --val-subjects).",
    rich_help_panel=P_TRAIN,
)
MONITOR = typer.Option(
    None,
    "--monitor",
    help="Validation score that picks the epoch (default val_loss).",
    rich_help_panel=P_TRAIN,
)
RECALIBRATE_BN = typer.Option(
    None,
    "--recalibrate-bn/--no-recalibrate-bn",
    help="Recompute BatchNorm statistics with the kept weights over the training samples (default on; "
    "docs/training.md says why).",
    rich_help_panel=P_TRAIN,
)
LABEL_MAP = typer.Option(
    None,
    "--label-map",
    metavar="NAME",
    help="Label map (megc2019, casme2-5, native, ...); default: the file's.",
    rich_help_panel=P_TRAIN,
)
NORM = typer.Option(
    None,
    "--norm",
    help="Input normalisation from the training samples: per dataset (default), global, none.",
    rich_help_panel=P_TRAIN,
)
DEVICE = typer.Option(Device.auto, "--device", help="auto: CUDA if present, else CPU.", rich_help_panel=P_RUN)
SEED = typer.Option(
    0,
    "--seed",
    help="Random seed (recorded; same seed, same numbers on the same machine).",
    rich_help_panel=P_RUN,
)
THREADS = typer.Option(
    0,
    "--threads",
    min=0,
    help="Intra-op threads (0: train uses torch's default; eval-loso one per fold process on CPU, so -j "
    "never changes the numbers).",
    rich_help_panel=P_RUN,
)
DATASET = typer.Option(
    None,
    "--dataset",
    "-d",
    metavar="NAME",
    help="Dataset reader when INPUT is a dataset root.",
    rich_help_panel=P_RUN,
)
