"""``mertool spot``: find micro- and macro-expressions in long videos."""

from __future__ import annotations

import sys

import typer

from mertool.cli import common as C

HELP = """\
Find the micro- and macro-expressions in long videos: where they start, peak and end.

Every frame's face is followed (re-detected when lost) and registered to the first frame to a
hundredth of a pixel; the face off the eyes is cut into blocks; each frame is compared with the
frames a window before and after it (optical flow, or LBP histograms: the MEGC baseline), a short
window for micro- and a long one for macro-expressions, sized from the frame rate; peaks above a
threshold from the video's own statistics are spotted, each confirmed and measured (onset to
offset) on the displacement from the face at rest (the flow to the median face of the seconds
around it). Blinks (eyes left out), head turns and changes of light (slow and steady: they
cancel) are not expressions.

INPUT is a long-video release as shipped (CAS(ME)^2 rawpic, SAMM long videos, SMIC-E, CAS(ME)^3
part A), a folder of frames (with --fps) or a video file. -o X.h5 writes X.json (intervals, per
video), X.csv (one row per interval) and X.h5: every spotted interval as a detect-faces sample
file, so 'mertool flow X.h5' and 'mertool predict MODEL X.h5' recognise them. --evaluate scores
the intervals against the annotation by the MEGC protocol (IoU >= 0.5, counts pooled over
videos; precision, recall, F1 for micro, macro and overall).

Examples:

  mertool synth long/ --layout casme2sq-long --subjects 2 --duration 20
  mertool spot long/CASME_sq -o spots.h5 --evaluate
  mertool spot interview.mp4 --kind micro -o interview.json
  mertool spot frames/ --fps 200 --method lbp
"""

KindChoice = C.choices("KindChoice", ("micro", "macro", "both"))
MethodChoice = C.choices("MethodChoice", ("flow", "lbp"))
RuleChoice = C.choices("RuleChoice", ("both", "megc", "robust"))


def register(app: typer.Typer) -> None:
    app.command("spot", help=HELP, no_args_is_help=True)(spot)


def spot(
    source: str = typer.Argument(
        ..., metavar="INPUT", help="Long-video release root, frames folder or video."
    ),
    output: str = typer.Option(
        None,
        "--output",
        "-o",
        metavar="OUT.h5|OUT.json",
        help="Where to write (see above); default: print only.",
    ),
    kind: KindChoice = typer.Option(KindChoice.both, "--kind", help="Which expressions to report."),
    method: MethodChoice = typer.Option(
        MethodChoice.flow,
        "--method",
        help="flow: optical-flow difference (MDMD family); lbp: LBP chi-squared (MEGC baseline).",
    ),
    evaluate: bool = typer.Option(
        False, "--evaluate", help="Score against the ground truth (MEGC protocol)."
    ),
    truth: str = typer.Option(
        None,
        "--truth",
        metavar="long_truth.json",
        help="Ground truth from mertool synth (default: the release's annotation).",
    ),
    fps: float = typer.Option(
        None, "--fps", help="Frame rate (default: the dataset's or the video's).", show_default=False
    ),
    rule: RuleChoice = typer.Option(
        None,
        "--threshold",
        help="megc: mean + p(max - mean); robust: median + z MAD; both: the stricter. "
        "Default: both for flow, megc for lbp (the MEGC baseline's).",
        show_default=False,
    ),
    p: float = typer.Option(0.3, "--p", min=0.0, max=1.0, help="p of the megc threshold."),
    z: float = typer.Option(4.0, "--z", min=0.0, help="z of the robust threshold."),
    micro_window: float = typer.Option(
        0.15, "--micro-window", help="Seconds between compared frames, micro pass."
    ),
    macro_window: float = typer.Option(
        0.6, "--macro-window", help="Seconds between compared frames, macro pass."
    ),
    face: int = typer.Option(
        0, "--face", min=0, help="Which face to follow: 0 the largest in view, 1 the next, ..."
    ),
    detector: str = typer.Option("dlib-hog", "--detector", help="Face detector (see detect-faces)."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Long-video reader, when INPUT holds several."),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N videos."),
    json_out: bool = C.JSON,
) -> None:
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import info, out
    from mertool.stages.spot import SpotOptions, run
    from mertool.store.provenance import command_line

    options = SpotOptions(
        method=method.value, kind=kind.value, rule=None if rule is None else rule.value, p=p, z=z, micro_window_s=micro_window,
        macro_window_s=macro_window, face=face, detector=detector,
    )  # fmt: skip
    result = run(
        source, output, options, dataset=dataset, fps=fps, evaluate_truth=evaluate, truth_file=truth,
        command=command_line(sys.argv), limit=limit,
    )  # fmt: skip
    if result.videos and all(v.error for v in result.videos):
        from mertool.errors import MertoolError

        where = f" ({result.json_path} lists it)" if result.json_path else ""
        raise MertoolError(
            result.videos[0].error + where,
            hint="check that the video shows a face, and --fps for a frames folder",
        )
    if json_out:
        print_json({"videos": [v.record() for v in result.videos], "scores": result.scores})
        return
    table = Table(title="spotted intervals", show_lines=False)
    for col in ("video", "kind", "onset", "apex", "offset", "seconds", "score"):
        table.add_column(col, justify="right" if col not in ("video", "kind") else "left")
    for v in result.videos:
        for i in v.intervals:
            table.add_row(
                v.id, i["kind"], str(i["onset"]), str(i["apex"]), str(i["offset"]),
                f"{i['onset_s']:.2f}-{i['offset_s']:.2f}", f"{i['score']:.3g}",
            )  # fmt: skip
    out.print(table)
    if result.scores is not None:
        s = Table(title="MEGC spotting scores (IoU >= 0.5, pooled over videos)")
        for col in ("", "TP", "FP", "FN", "precision", "recall", "F1"):
            s.add_column(col, justify="right")

        def f(x):
            return "—" if x is None else f"{x:.4f}"

        def rows(table, scores, name=""):
            for k in ("micro", "macro", "overall"):
                r = scores[k]
                table.add_row(
                    f"{name}{k}",
                    str(r["tp"]),
                    str(r["fp"]),
                    str(r["fn"]),
                    f(r["precision"]),
                    f(r["recall"]),
                    f(r["f1"]),
                )

        videos = result.scores.get("videos", {})
        if len(videos) > 1:
            per = Table(title="per video")
            for col in ("", "TP", "FP", "FN", "precision", "recall", "F1"):
                per.add_column(col, justify="right")
            for name, scores in videos.items():
                rows(per, scores, f"{name} ")
            out.print(per)
        rows(s, result.scores)
        out.print(s)
    fps_done = result.frames / result.seconds if result.seconds else 0.0
    info(
        f"[bold]spot[/]: {len(result.videos)} video(s), {result.frames} frames in {result.seconds:.1f} s ({fps_done:.0f} frames/s)"
    )
    for path in (result.json_path, result.csv_path, result.h5_path):
        if path is not None:
            info(f"  wrote {path}")
