"""``mertool train``: one model from a sample file, saved with everything ``predict`` needs.

The options shared with ``eval-loso`` (model, loss, optimiser, schedule, augmentation, validation
split, device) are defined here once; ``eval_loso`` imports them.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any

import typer
from typer.core import TyperCommand

from mertool.cli.common import help_text  # noqa: F401 (used by eval-loso, predict)

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


def model_options(opt, stages, fusion, attention, branches) -> dict[str, Any]:
    """Model options from --opt KEY=VALUE and the convenience flags (parsed once the architecture
    is known, by :func:`resolve`)."""
    conv = {
        k: v
        for k, v in (("stages", stages), ("fusion", fusion), ("attention", attention), ("branches", branches))
        if v is not None
    }
    return {"pairs": list(opt or []), "flags": conv}


def enum_value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def collect_flags(**kw: Any) -> dict[str, Any]:
    """Command-line values for :func:`mertool.training.config.resolve_config` (None: not given)."""
    from mertool.errors import MertoolError

    loss = enum_value(kw.pop("loss"))
    if kw.pop("focal"):
        if loss not in (None, "focal"):
            raise MertoolError(f"--focal contradicts --loss {loss}")
        loss = "focal"
    flags = {k: enum_value(v) for k, v in kw.items()}
    flags["loss"] = loss
    return flags


def resolve(preset, seed, **kw):
    """The run's :class:`~mertool.training.config.RunConfig`: defaults <- preset <- flags."""
    from mertool.cli.models import parse_opts
    from mertool.models.registry import model_spec
    from mertool.training.config import resolve_config
    from mertool.training.presets import get_preset

    raw = kw.pop("options")
    loss_opt = kw.pop("loss_opt", None)
    arch = kw.get("arch") or (get_preset(preset).values.get("arch") if preset else None)
    spec = model_spec(arch) if arch else None
    options = {**parse_opts(raw["pairs"], spec), **raw["flags"]}
    flags = collect_flags(**kw)
    flags["options"] = options or None
    flags["loss_options"] = parse_opts(loss_opt) or None
    if spec is not None:
        spec.resolve_options(options)  # unknown options and bad choices fail here, before loading data
    return resolve_config(preset, flags, seed=seed)


def input_stage(cfg) -> str:
    from mertool.training.data import required_stage
    from mertool.training.trainer import model_inputs

    return required_stage(model_inputs(cfg))


# ------------------------------------------------------------------------------------------------
# the command

HELP = """\
Train one model on every usable sample of INPUT and save it as a model file.

INPUT is a flow-stage sample file (or a crop-rois file for crop-based models); an earlier stage's
file or a dataset root works too (the missing stages run first with their defaults). The model
file holds the weights, architecture and options, label map and classes, the preprocessing
(inputs, input size, normalisation statistics of the training samples, the flow settings) and the
training history, so 'mertool predict MODEL INPUT' needs nothing else.

With --val-subjects K, K training subjects are held out to choose the epoch (and to stop early
with --early-stop N); otherwise the last epoch is kept.

Examples:

  mertool train flow.h5 --arch dfr-net --epochs 20 -o dfr.pt
  mertool train flow.h5 --preset dfr-net-004 -o dfr.pt
  mertool train apex.h5 --arch se-resnext50 --focal -o se.pt
  mertool train --preset abn-001 --help
"""


def train(
    input: str = typer.Argument(
        ...,
        metavar="INPUT",
        help="Sample file (flow or crop-rois stage), earlier-stage file, or dataset root.",
    ),
    output: str = typer.Option(..., "--output", "-o", metavar="MODEL", help="Model file to write (.pt)."),
    arch: str | None = ARCH,
    opt: list[str] | None = OPT,
    stages: int | None = STAGES,
    fusion: str | None = FUSION,
    attention: str | None = ATTENTION,
    branches: str | None = BRANCHES,
    input_size: int | None = INPUT_SIZE,
    preset: str | None = PRESET,
    loss: Loss | None = LOSS,
    focal: bool = FOCAL,
    loss_opt: list[str] | None = LOSS_OPT,
    epochs: int | None = EPOCHS,
    batch_size: int | None = BATCH,
    lr: float | None = LR,
    optimizer: Optimizer | None = OPTIMIZER,
    weight_decay: float | None = WEIGHT_DECAY,
    schedule: Schedule | None = SCHEDULE,
    step_size: int | None = STEP_SIZE,
    gamma: float | None = GAMMA,
    augment: str | None = AUGMENT,
    val_subjects: int | None = VAL_SUBJECTS,
    early_stop: int | None = EARLY_STOP,
    monitor: Monitor | None = MONITOR,
    recalibrate_bn: bool | None = RECALIBRATE_BN,
    label_map: str | None = LABEL_MAP,
    norm: Norm | None = NORM,
    device: Device = DEVICE,
    seed: int = SEED,
    threads: int = THREADS,
    dataset: str | None = DATASET,
) -> None:
    import torch

    from mertool.console import info, make_progress
    from mertool.evaluation.runner import resolve_device
    from mertool.training.data import load_table
    from mertool.training.prepare import prepared_samples
    from mertool.training.trainer import input_size as size_of
    from mertool.training.trainer import model_inputs, three_frames, train_file

    cfg = resolve(
        preset,
        seed,
        arch=arch,
        options=model_options(opt, stages, fusion, attention, branches),
        input_size=input_size,
        loss=loss,
        focal=focal,
        loss_opt=loss_opt,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        schedule=schedule,
        step_size=step_size,
        gamma=gamma,
        augment=augment,
        val_subjects=val_subjects,
        early_stop=early_stop,
        monitor=monitor,
        recalibrate_bn=recalibrate_bn,
        label_map=label_map,
        norm=norm,
    )
    dev = resolve_device(enum_value(device))[0]
    if threads:
        torch.set_num_threads(threads)
    with prepared_samples(input, input_stage(cfg), dataset=dataset) as sf:
        table = load_table(
            sf,
            model_inputs(cfg),
            size_of(cfg),
            cfg.label_map,
            channels=cfg.channels,
            three_frames=three_frames(cfg),
        )
    if table.skipped:
        info(
            f"[yellow]{len(table.skipped)} sample(s) skipped[/]: "
            + "; ".join(f"{s}: {r}" for s, r in table.skipped[:5])
        )
    info(
        f"training {cfg.arch} on {len(table)} samples, {len(set(table.subjects))} subjects, classes "
        f"{', '.join(table.classes)} ({table.label_map}); {dev}, {torch.get_num_threads()} thread(s)"
    )
    with make_progress() as progress:
        task = progress.add_task("epochs", total=cfg.fit.epochs, status="")

        def on_batch(b: int, n: int, loss_value: float) -> None:
            progress.update(task, status=f"batch {b}/{n} loss {loss_value:.3f}")

        def on_epoch(rec: dict[str, Any]) -> None:
            status = f"loss {rec['train_loss']:.3f} acc {rec['train_acc']:.2f}"
            if rec.get("val_loss") is not None:
                status += f"  val loss {rec['val_loss']:.3f} UF1 {rec['val_uf1']:.3f}"
            progress.update(task, completed=rec["epoch"], status=status)

        trained, _ = train_file(None, cfg, output, dev, on_epoch, on_batch, table=table)
    r = trained.result
    kept = f"epoch {r.best_epoch} of {len(r.history)}" + (" (early stop)" if r.stopped_early else "")
    info(
        f"[green]saved[/] {output}: {kept}, chosen on {r.selected_on}"
        + (f" ({', '.join(trained.val_groups)})" if trained.val_groups else "")
        + f"; {r.seconds:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("train", help=help_text(HELP), cls=PresetHelpCommand)(train)
