"""``mertool spot-apex``: the apex frame of every clip (D&C-RoIs, flow peak, label or middle)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from mertool.cli import common as C

ApexMethod = C.choices("ApexMethod", ("dc-rois", "flow-peak", "label", "middle"))


Boxes = C.choices("Boxes", ("onset", "per-frame"))


HELP = (
    "Find the apex frame of every clip and, where the dataset labels one, report how far off it "
    "is.\n\n"
    "Methods: [bold]dc-rois[/] (paper 004's D&C-RoIs: uniform LBP histograms of the two "
    "eye+brow regions and the mouth, eq. 1 correlation to the onset frame, divide-and-conquer "
    "to the peak), [bold]flow-peak[/] (frame of largest DIS optical-flow magnitude from the "
    "onset), [bold]label[/] (the dataset's apex; an error for clips without one, e.g. SMIC, "
    "unless --fallback names another method) and [bold]middle[/].\n\n"
    "Input: a detect-faces file, '-' for stdin, or a dataset root (detect-faces runs first with "
    "its defaults). Output: the same samples plus the attributes apex_spotted and apex_method "
    "and the array apex_curve. A per-clip table and the apex error (frames and ms: mean, "
    "median, share within 5 and 10 frames) for each method go to stderr; --json prints them on "
    "stdout instead. With no -o while stdout is a terminal, only the report is printed.\n\n"
    "Examples:\n\n"
    "  mertool spot-apex casme2/\n"
    "  mertool detect-faces smic/ | mertool spot-apex --method label --fallback dc-rois -o "
    "apex.h5"
)


def spot_apex(
    input: str | None = C.INPUT,
    output: str | None = C.OUTPUT,
    method: ApexMethod = typer.Option(ApexMethod.dc_rois, "--method", "-m", help="How to find the apex."),
    fallback: ApexMethod | None = typer.Option(
        None, "--fallback", help="With --method label: the method used for clips without a labelled apex."
    ),
    compare: str = typer.Option(
        "dc-rois,flow-peak,middle",
        "--compare",
        help="Methods also run on clips with a labelled apex, for the error report (comma-separated; '' for none).",
    ),
    lbp_points: int = typer.Option(8, "--lbp-points", min=4, help="LBP neighbours P (dc-rois)."),
    lbp_radius: float = typer.Option(3.0, "--lbp-radius", min=0.5, help="LBP radius R in pixels (dc-rois)."),
    lbp_grid: int = typer.Option(
        3, "--lbp-grid", min=1, help="Split each region into GRID x GRID cells, one histogram each (dc-rois)."
    ),
    lbp_blur: float = typer.Option(
        1.5, "--lbp-blur", min=0.0, help="Gaussian sigma (px) applied before LBP; 0: none (dc-rois)."
    ),
    dc_parts: int = typer.Option(3, "--dc-parts", min=2, help="Sub-intervals per divide-and-conquer step."),
    dc_min_len: int = typer.Option(
        5, "--dc-min-len", min=1, help="Stop dividing at this many frames and take the largest."
    ),
    boxes: Boxes = typer.Option(
        Boxes.onset, "--boxes", help="Region boxes from the onset frame's landmarks, or from every frame's."
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
    from mertool.motion.apex import ApexOptions
    from mertool.stages.chain import prepared_input, requirements
    from mertool.stages.spot_apex import process
    from mertool.store import schema as S
    from mertool.store.pipes import STDIO, stdout_is_terminal
    from mertool.store.provenance import command_line

    write = True
    if output is None and stdout_is_terminal():
        write = False
        info("[dim]no -o FILE and stdout is a terminal: printing the report only (nothing is written)[/]")
    if json_out and write and (output is None or output == STDIO):
        raise MertoolError(
            "--json prints on stdout, which is taken by the HDF5 output", hint="add -o FILE.h5"
        )
    compare_methods = tuple(m.strip() for m in compare.split(",") if m.strip())
    options = call_by_name(ApexOptions, locals())
    raw = {k: v for k, v in {"dataset": dataset, "label_map": label_map}.items() if v is not None}
    command = command_line(sys.argv)
    with prepared_input(input, requirements(S.STAGE_APEX), raw_options=raw, command=command) as sf:
        report = call_by_name(process, locals(), sf, output, compare=compare_methods)
    if json_out:
        print_json(report.as_dict())
    else:
        print_report(report)
    if report.failed_before:
        info(f"{len(report.failed_before)} sample(s) had failed in an earlier stage and were copied forward")
    print_summary("spot-apex", report.done, report.failed, report.skipped)


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def print_report(report: Any) -> None:
    """The per-clip table and the apex error summary, on stderr."""
    from rich.markup import escape
    from rich.table import Table

    from mertool.console import err, is_quiet

    if is_quiet():
        return
    others = [m for m in report.methods_reported() if m != report.method]
    table = Table(title=f"apex by {report.method}")
    table.add_column("clip", no_wrap=True)
    for col in ("frames", "onset", "offset", "label apex", f"{report.method}", "error"):
        table.add_column(col, justify="right")
    for m in others:
        table.add_column(m, justify="right")
    for row in report.rows:
        spotted = _fmt(row["apex_spotted"]) + (" *" if row.get("note") else "")
        table.add_row(
            escape(row["id"]),
            _fmt(row["frames"]),
            _fmt(row["onset"]),
            _fmt(row["offset"]),
            _fmt(row["apex"]),
            spotted,
            _fmt(row["error_frames"]),
            *(_fmt(row["spotted"].get(m)) for m in others),
        )
    err.print(table)
    if any(row.get("note") for row in report.rows):
        err.print("  * the fallback method: no labelled apex")
    summary = report.summary()
    if not summary:
        err.print("[dim]no clip has a labelled apex: no apex error to report[/]")
        return
    st = Table(title="apex error against the labelled apex (absolute)")
    st.add_column("method", no_wrap=True)
    for col in (
        "clips",
        "mean frames",
        "median frames",
        "mean ms",
        "median ms",
        "≤5 frames",
        "≤10 frames",
    ):
        st.add_column(col, justify="left" if col == "method" else "right")
    for m, s in summary.items():
        st.add_row(
            m,
            str(s["n"]),
            _fmt(s["mean_frames"], 2),
            _fmt(s["median_frames"], 1),
            _fmt(s["mean_ms"], 1),
            _fmt(s["median_ms"], 1),
            f"{100 * s['within_5']:.0f}%",
            f"{100 * s['within_10']:.0f}%",
        )
    err.print(st)


def register(app: typer.Typer) -> None:
    app.command("spot-apex", help=HELP)(spot_apex)
