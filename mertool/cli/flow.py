"""``mertool flow``: optical flow onset -> apex, optical strain and the difference image per clip."""

from __future__ import annotations

import sys

import typer

from mertool.cli import common as C

Preset = C.choices("Preset", ("micro", "opencv-default", "dis", "farneback"))


Method = C.choices("Method", ("tvl1", "dis", "farneback"))


Strain = C.choices("Strain", ("eq7", "tensor"))


Normalize = C.choices("Normalize", ("none", "minmax", "dataset"))


HELP = (
    "Optical flow from the onset to the apex frame of every clip, with optical strain and |apex "
    "- onset|.\n\n"
    "Per clip: TV-L1 optical flow (OpenCV contrib) onset -> apex in pixels of the aligned face "
    "(u, v), optical strain (paper 004 eq. 7, central differences; --strain tensor for the "
    "strain-tensor form) and the difference image |apex - onset| in 0..1 (eq. 8). The apex is "
    "apex_spotted (mertool spot-apex) if present, else the dataset's labelled apex. Frames come "
    "from crop-rois' face crops when present, else from detect-faces' aligned faces; --size N "
    "resizes them first.\n\n"
    "Presets: [bold]micro[/] (default: TV-L1 tuned for micro-motions, 5 scales, 3 warps, 1 "
    "outer and 5 inner iterations; ~5x faster than OpenCV's defaults at an equal or lower "
    "endpoint error inside the moving regions of the synthetic ground truth), "
    "[bold]opencv-default[/] (OpenCV's TV-L1 defaults, what most MER code runs), [bold]dis[/] "
    "and [bold]farneback[/] (much faster; see docs/motion.md for their error). --tvl1-* options "
    "override single TV-L1 parameters. Clips run in parallel across the cores.\n\n"
    "Input: an HDF5 file from an earlier stage, '-' for stdin, or a dataset root (detect-faces "
    "and spot-apex run first where missing, spot-apex taking the dataset's apex label, D&C-RoIs "
    "where there is none). Output: the samples with the arrays flow, strain, diff, onset_image, "
    "apex_image.\n\n"
    "Examples:\n\n"
    "  mertool flow casme2/ -o flow.h5\n"
    "  mertool detect-faces casme2/ | mertool spot-apex | mertool flow --size 224 --normalize "
    "minmax -o flow.h5"
)


def flow(
    input: str | None = C.INPUT,
    output: str | None = C.OUTPUT,
    preset: Preset | None = typer.Option(
        None, "--preset", "-p", help="Named flow settings (default: micro, or the --method's own)."
    ),
    method: Method | None = typer.Option(
        None, "--method", "-m", help="Flow algorithm (tvl1: the micro preset unless --preset says otherwise)."
    ),
    size: int | None = typer.Option(
        None, "--size", min=8, help="Resize both frames to SIZE x SIZE before the flow (default: as stored)."
    ),
    strain: Strain = typer.Option(Strain.eq7, "--strain", help="Strain formula: eq7 as printed, or tensor."),
    normalize: Normalize = typer.Option(
        Normalize.none,
        "--normalize",
        help="Scale flow/strain/diff: none, minmax per sample and channel, or dataset mean/std (recorded).",
    ),
    tvl1_tau: float | None = typer.Option(None, "--tvl1-tau", help="TV-L1 time step."),
    tvl1_lambda: float | None = typer.Option(None, "--tvl1-lambda", help="TV-L1 data-term weight."),
    tvl1_theta: float | None = typer.Option(None, "--tvl1-theta", help="TV-L1 coupling weight."),
    tvl1_scales: int | None = typer.Option(None, "--tvl1-scales", min=1, help="TV-L1 pyramid levels."),
    tvl1_warps: int | None = typer.Option(None, "--tvl1-warps", min=1, help="TV-L1 warps per level."),
    tvl1_epsilon: float | None = typer.Option(None, "--tvl1-epsilon", help="TV-L1 stopping threshold."),
    tvl1_inner: int | None = typer.Option(None, "--tvl1-inner", min=1, help="TV-L1 inner iterations."),
    tvl1_outer: int | None = typer.Option(None, "--tvl1-outer", min=1, help="TV-L1 outer iterations."),
    tvl1_scale_step: float | None = typer.Option(None, "--tvl1-scale-step", help="TV-L1 pyramid scale step."),
    tvl1_median: int | None = typer.Option(None, "--tvl1-median", min=1, help="TV-L1 median filter size."),
    cv2_threads: int = typer.Option(
        0, "--cv2-threads", min=0, help="OpenCV threads per worker (0: the cores shared among the workers)."
    ),
    dataset: str | None = C.DATASET,
    label_map: str | None = C.LABEL_MAP,
    on_error: C.OnError = C.ON_ERROR,
    resume: bool = C.RESUME,
    retry_failed: bool = C.RETRY_FAILED,
    workers: int = C.WORKERS,
    json_out: bool = C.JSON,
) -> None:
    from mertool.cli.common import call_by_name, print_json, print_summary
    from mertool.console import info
    from mertool.errors import MertoolError
    from mertool.motion import optical_flow as of
    from mertool.stages.chain import prepared_input, requirements
    from mertool.stages.flow import FlowOptions, process
    from mertool.store import schema as S
    from mertool.store.pipes import STDIO
    from mertool.store.provenance import command_line

    if json_out and (output is None or output == STDIO):
        raise MertoolError(
            "--json prints on stdout, which is taken by the HDF5 output", hint="add -o FILE.h5"
        )
    default_for = {"tvl1": "micro", "dis": "dis", "farneback": "farneback"}
    name = preset.value if preset else default_for[method.value if method else "tvl1"]
    params = of.preset(name)
    if method is not None and method.value != params.method:
        raise MertoolError(
            f"--method {method.value} contradicts --preset {name} (a {params.method} preset)",
            hint="give one of them",
        )
    overrides = {
        "tau": tvl1_tau,
        "lambda_": tvl1_lambda,
        "theta": tvl1_theta,
        "nscales": tvl1_scales,
        "warps": tvl1_warps,
        "epsilon": tvl1_epsilon,
        "inner_iterations": tvl1_inner,
        "outer_iterations": tvl1_outer,
        "scale_step": tvl1_scale_step,
        "median_filtering": tvl1_median,
    }
    if params.method != "tvl1" and any(v is not None for v in overrides.values()):
        raise MertoolError(f"--tvl1-* options apply to TV-L1, not to {params.method}", hint="drop them")
    params = params.with_overrides(**overrides)
    if params != of.preset(name):
        name = f"{name}+overrides"
    options = FlowOptions(
        preset=name, params=params, size=size, strain=strain.value, normalization=normalize.value
    )
    raw = {k: v for k, v in {"dataset": dataset, "label_map": label_map}.items() if v is not None}
    command = command_line(sys.argv)
    with prepared_input(input, requirements(S.STAGE_FLOW), raw_options=raw, command=command) as sf:
        report = call_by_name(process, locals(), sf, output)
    if json_out:
        print_json(report.as_dict())
    else:
        print_table(report)
    if report.failed_before:
        info(f"{len(report.failed_before)} sample(s) had failed in an earlier stage and were copied forward")
    if report.done:
        info(
            f"{report.done} pair(s) in {report.seconds:.1f} s: {report.pairs_per_second:.1f} pairs/s "
            f"({report.processes} process(es) x {report.cv2_threads} OpenCV thread(s), preset {name})"
        )
    print_summary("flow", report.done, report.failed, report.skipped)


def print_table(report) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape
    from rich.table import Table

    from mertool.console import err, is_quiet

    if is_quiet() or not report.rows:
        return
    table = Table(title="flow onset -> apex")
    table.add_column("clip", no_wrap=True)
    for col in ("onset", "apex", "apex from", "frames from", "size", "mean |flow| px", "ms"):
        table.add_column(col, justify="left" if col in ("apex from", "frames from") else "right")
    for r in report.rows:
        table.add_row(
            escape(r["id"]),
            str(r["onset"]),
            str(r["apex"]),
            r["apex_from"],
            r["frames_from"],
            "x".join(str(v) for v in r["size"]),
            f"{r['mean_magnitude']:.3f}",
            f"{r['ms']:.0f}",
        )
    err.print(table)


def register(app: typer.Typer) -> None:
    app.command("flow", help=HELP)(flow)
