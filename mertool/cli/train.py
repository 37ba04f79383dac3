"""``mertool train``: one model from a sample file, saved with everything ``predict`` needs."""

from __future__ import annotations

import sys
from typing import Any

import typer

from mertool.cli.common import help_text
from mertool.cli.training_options import SAMPLES, PresetHelpCommand, with_shared_options

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
  mertool train faces.h5 --arch se-resnet50 --devices cuda:0,cuda:1 -o se.pt

--devices cuda:0,cuda:1 (or cpu,cpu) trains one model with one process per listed device through
DistributedDataParallel, launched by mertool itself; --batch-size stays the global batch, split
across the processes (docs/training.md, "Several GPUs").
"""


@with_shared_options
def train(
    input: str = SAMPLES,
    output: str = typer.Option(..., "--output", "-o", metavar="MODEL", help="Model file to write (.pt)."),
    devices: str | None = typer.Option(
        None,
        "--devices",
        metavar="LIST",
        help="One training process per listed device, DistributedDataParallel: cuda:0,cuda:1 (NCCL) "
        "or cpu,cpu (gloo); --batch-size is split across them. Overrides --device.",
        rich_help_panel="Run",
    ),
    training: dict[str, Any] | None = None,
) -> None:
    import torch

    from mertool.console import info, make_progress
    from mertool.store.provenance import command_line
    from mertool.training import options
    from mertool.training.device import resolve_device
    from mertool.training.distributed import describe, parse_devices, train_distributed
    from mertool.training.prepare import prepared_samples
    from mertool.training.trainer import load_samples, train_file

    command = command_line(sys.argv)
    t = training or {}
    cfg = options.run_config(t)
    devs = None
    if devices:
        devs = parse_devices(devices)
    dev = devs[0] if devs else resolve_device(t["device"].value)[0]
    if devs and len(devs) == 1:
        devs = None  # one device: plain training on it
    if t["threads"]:
        torch.set_num_threads(t["threads"])
    with prepared_samples(input, options.input_stage(cfg), dataset=t["dataset"], command=command) as sf:
        table = load_samples(sf, cfg)
    if table.skipped:
        info(
            f"[yellow]{len(table.skipped)} sample(s) skipped[/]: "
            + "; ".join(f"{s}: {r}" for s, r in table.skipped[:5])
        )
    info(
        f"training {cfg.arch} on {len(table)} samples, {len(set(table.subjects))} subjects, classes "
        f"{', '.join(table.classes)} ({table.label_map}); "
        + (describe(devs) if devs else f"{dev}, {torch.get_num_threads()} thread(s)")
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

        if devs:
            trained = train_distributed(
                devs, cfg, output, table, on_epoch, on_batch, command=command, threads=t["threads"]
            )
        else:
            trained, _ = train_file(None, cfg, output, dev, on_epoch, on_batch, table=table, command=command)
    r = trained.result
    kept = f"epoch {r.best_epoch} of {len(r.history)}" + (" (early stop)" if r.stopped_early else "")
    info(
        f"[green]saved[/] {output}: {kept}, chosen on {r.selected_on}"
        + (f" ({', '.join(trained.val_groups)})" if trained.val_groups else "")
        + f"; {r.seconds:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("train", help=help_text(HELP), cls=PresetHelpCommand)(train)
