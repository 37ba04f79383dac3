"""``mertool export MODEL.pt --onnx``: the model file as an ONNX file that predicts on its own."""

from __future__ import annotations

import typer

from mertool.cli.common import JSON

HELP = """\
Write a model file from 'mertool train' as ONNX, for onnxruntime and other ONNX runtimes.

The graph takes the model's inputs by name (flow, apex, ...; float32, normalised, batch axis
dynamic) and returns 'logits'. The model file's classes, label map and preprocessing (inputs,
input size, channels, normalisation statistics, the stages and flow settings the inputs come
from) are stored as JSON in the ONNX metadata (metadata_props key 'mertool'), so the .onnx alone
predicts: 'mertool predict MODEL.onnx INPUT'. Every export is checked: onnxruntime and PyTorch run
on the same random batch and the largest difference of the logits must stay within --tolerance.
The hand-crafted SVM baselines compute in numpy and cannot be exported.

Examples:

  mertool export dfr.pt --onnx
  mertool export dfr.pt --onnx -o deploy/dfr.onnx --opset 17
  mertool predict deploy/dfr.onnx flow.h5
"""


def export(
    model: str = typer.Argument(..., metavar="MODEL.pt", help="Model file written by mertool train."),
    onnx: bool = typer.Option(False, "--onnx", help="Write ONNX (the one format there is, for now)."),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE.onnx", help="Where to write it (default: MODEL with .onnx)."
    ),
    opset: int | None = typer.Option(
        None, "--opset", min=7, metavar="N", help="ONNX opset (default: the PyTorch exporter's)."
    ),
    tolerance: float = typer.Option(
        1e-4,
        "--tolerance",
        min=0.0,
        metavar="X",
        help="Largest accepted |logits(onnxruntime) - logits(PyTorch)| on the check batch.",
    ),
    json_out: bool = JSON,
) -> None:
    from rich.markup import escape

    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.errors import MertoolError
    from mertool.training.export import export_onnx

    if not onnx:
        raise MertoolError("say which format to write", hint=f"mertool export {model} --onnx")
    res = export_onnx(model, output, opset=opset, tolerance=tolerance)
    if json_out:
        print_json(res)
        return
    shapes = ", ".join(f"{n} ({', '.join(str(d) for d in s)})" for n, s in res["inputs"].items())
    out.print(f"wrote {escape(res['output'])} ({res['bytes'] / 1024:.0f} KiB, opset {res['opset']})")
    info(
        f"{res['arch']}: inputs {shapes} -> logits (batch, {len(res['classes'])}): {', '.join(res['classes'])}"
    )
    info(
        f"checked: max |onnxruntime - PyTorch| = {res['max_abs_diff']:.2g} on a batch of {res['check_batch']} "
        f"(tolerance {res['tolerance']:g})"
    )
    info(f"next: mertool predict {escape(res['output'])} INPUT")


def register(app: typer.Typer) -> None:
    from mertool.cli.common import help_text

    app.command("export", help=help_text(HELP))(export)
