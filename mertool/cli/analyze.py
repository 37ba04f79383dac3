"""``mertool analyze``: spot a long video's expressions, recognise them, write a timeline."""

from __future__ import annotations

import typer

from mertool.cli import common as C

HELP = """\
Analyse your own video: spot the micro- and macro-expressions (see 'mertool spot'), recognise
each spotted micro-expression with a trained model, and write what happened when.

OUT_DIR gets timeline.json and timeline.csv (start, apex and end in frames and seconds, kind,
label, confidence), timeline.png (the spotting curves over time, intervals shaded and labelled,
frames without a face hatched) and annotated.mp4 (every frame with the face box and the
expression showing; --no-video skips it). Without --model it spots only. The model is a file
from 'mertool train' on flow-stage inputs (or its .onnx from 'mertool export'); --runtime onnx
runs it on onnxruntime. A second person in view: --face 1 follows the second largest face.
--webcam N records --seconds from camera N first (where a camera exists).

Examples:

  mertool analyze interview.mp4 --model dfr.pt -o interview/
  mertool analyze frames/ --fps 200 --model dfr.onnx --runtime onnx -o out/
  mertool analyze --webcam 0 --seconds 20 --model dfr.pt -o live/
"""

RuntimeChoice = C.choices("RuntimeChoice", ("torch", "onnx"))
KindChoice = C.choices("KindChoice", ("micro", "macro", "both"))


def register(app: typer.Typer) -> None:
    app.command("analyze", help=HELP)(analyze)


def analyze(
    source: str = typer.Argument(
        None, metavar="VIDEO|FRAMES_DIR", help="A video file, a folder of frames or a long-video release."
    ),
    output: str = typer.Option(
        "analysis", "--output", "-o", metavar="OUT_DIR", help="Folder for the timeline files."
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        metavar="MODEL",
        help="Model file (.pt from train, or .onnx) to recognise micro-expressions.",
    ),
    runtime: RuntimeChoice = typer.Option(
        RuntimeChoice.torch, "--runtime", help="torch, or onnx (onnxruntime)."
    ),
    fps: float = typer.Option(
        None, "--fps", help="Frame rate (needed for a folder of frames).", show_default=False
    ),
    kind: KindChoice = typer.Option(KindChoice.both, "--kind", help="Which expressions to spot."),
    face: int = typer.Option(
        0, "--face", min=0, help="Which face to follow: 0 the largest in view, 1 the next, ..."
    ),
    no_video: bool = typer.Option(False, "--no-video", help="Do not write annotated.mp4."),
    webcam: int = typer.Option(
        None, "--webcam", metavar="N", help="Record from camera N instead of reading a file."
    ),
    seconds: float = typer.Option(10.0, "--seconds", help="With --webcam: how long to record."),
    dataset: str = typer.Option(
        None, "--dataset", "-d", help="Long-video reader, when the input holds several."
    ),
    json_out: bool = C.JSON,
) -> None:
    from pathlib import Path

    from mertool.analysis.analyze import AnalyzeOptions, record_video
    from mertool.analysis.analyze import analyze as run
    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.errors import MertoolError
    from mertool.stages.spot import SpotOptions

    if (source is None) == (webcam is None):
        raise MertoolError("give a video or frames folder, or --webcam N (one of the two)")
    if webcam is not None:
        Path(output).mkdir(parents=True, exist_ok=True)
        source, cam_fps = record_video(webcam, seconds, Path(output) / "webcam.avi")
        fps = fps or cam_fps
    options = AnalyzeOptions(
        SpotOptions(kind=kind.value, face=face), model, runtime.value, video=not no_video
    )
    results = run(source, output, options, fps=fps, dataset=dataset)
    if results and all(r.error for r in results):
        raise MertoolError(results[0].error, hint="check that the video shows a face (mertool spot --help)")
    if json_out:
        print_json(
            [{"video": r.video, "folder": str(r.folder), "error": r.error, **r.timeline} for r in results]
        )
        return
    from rich.table import Table

    for r in results:
        if r.error:
            continue
        t = Table(
            title=f"{r.video}: {len(r.timeline['intervals'])} expression(s) in {r.timeline['duration_s']:.1f} s"
        )
        for col in ("kind", "start", "apex", "end", "label", "confidence"):
            t.add_column(col, justify="left" if col in ("kind", "label") else "right")
        for row in r.timeline["intervals"]:
            conf = row["confidence"]
            t.add_row(
                row["kind"], f"{row['start_s']:.2f} s", f"{row['apex_s']:.2f} s", f"{row['end_s']:.2f} s",
                row["label"] or "—", "—" if conf is None else f"{conf:.2f}",
            )  # fmt: skip
        out.print(t)
        for f in r.files:
            info(f"  wrote {f}")
