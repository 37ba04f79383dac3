"""``mertool predict MODEL INPUT``: a label and class probabilities per sample."""

from __future__ import annotations

import typer

from mertool.cli.common import DATA_ROOT, JSON, choices

Runtime = choices("Runtime", ("torch", "onnx"))

HELP = """\
Predict the emotion of every sample in INPUT with a model file from 'mertool train'.

INPUT is a sample file with the stage the model eats (flow, or crop-rois for crop models), an
earlier stage's file, or a dataset root / frames folder / video: the missing stages run first
with the settings recorded in the model file. Input size, normalisation and classes come from the
model file too. Prints one row per sample (label, confidence, probabilities, and the true label
where the input has one under the model's label map), or JSON with --json.

MODEL may also be a .onnx written by 'mertool export MODEL.pt --onnx' (it carries the same
metadata). --runtime onnx runs the batches through onnxruntime (a .pt is exported in memory
first and checked); its probabilities equal PyTorch's within the export's tolerance (1e-4).

Examples:

  mertool predict dfr.pt flow.h5
  mertool predict dfr.pt casme2/ --json > predictions.json
  mertool predict dfr.pt flow.h5 --runtime onnx
  mertool predict dfr.onnx flow.h5
"""


def predict(
    model: str = typer.Argument(
        ..., metavar="MODEL", help="Model file written by mertool train, or a .onnx from mertool export."
    ),
    input: str = typer.Argument(
        "-", metavar="[INPUT]", help="Sample file, dataset root, frames folder or video; '-' for stdin."
    ),
    json_out: bool = JSON,
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1, help="Samples per forward pass."),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", metavar="NAME", help="Dataset reader when INPUT is a dataset root."
    ),
    data_root: list[str] | None = DATA_ROOT,
    runtime: Runtime | None = typer.Option(  # type: ignore[valid-type]
        None,
        "--runtime",
        help="torch (default) or onnx (onnxruntime); a .onnx MODEL runs on onnx.",
        show_default=False,
        case_sensitive=False,
    ),
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.store import data_roots
    from mertool.training.device import resolve_device
    from mertool.training.predict import predict as run_predict

    dev = resolve_device(device)[0]
    with data_roots(data_root):
        result = run_predict(
            model,
            input,
            device=dev,
            batch_size=batch_size,
            dataset=dataset,
            runtime=runtime.value if runtime is not None else None,
        )
    if json_out:
        print_json(result)
        return
    on = " on onnxruntime" if result["runtime"] == "onnx" else ""
    table = Table(title=f"{result['arch']} predictions ({result['label_map']}){on}")
    table.add_column("sample")
    table.add_column("predicted")
    table.add_column("confidence", justify="right")
    for c in result["classes"]:
        table.add_column(f"p({c})", justify="right")
    if result["n_labelled"]:
        table.add_column("true")
    for p in result["predictions"]:
        row = [escape(p["id"]), p["label"], f"{p['confidence']:.3f}"] + [
            f"{p['probs'][c]:.3f}" for c in result["classes"]
        ]
        if result["n_labelled"]:
            t = p["true"] or "—"
            row.append(t if t == p["label"] or t == "—" else f"[red]{t}[/]")
        table.add_row(*row)
    out.print(table)
    if result["accuracy"] is not None:
        info(f"accuracy on the {result['n_labelled']} labelled sample(s): {result['accuracy']:.3f}")
    for sid, reason in result["skipped"]:
        info(f"[yellow]skipped[/] {escape(sid)}: {escape(reason)}")


def register(app: typer.Typer) -> None:
    from mertool.cli.common import help_text

    app.command("predict", help=help_text(HELP))(predict)
