"""``mertool show FILE SAMPLE_ID -o out.png``: a picture of one sample as the stages see it."""

from __future__ import annotations

from pathlib import Path

import typer

from mertool.cli.common import DATA_ROOT


def show(
    file: str = typer.Argument(..., metavar="FILE", help="HDF5 sample file ('-' for stdin)."),
    sample_id: str = typer.Argument(
        ..., metavar="SAMPLE_ID", help="The sample's id (mertool inspect FILE lists them)."
    ),
    output: Path = typer.Option(..., "--output", "-o", metavar="PNG", help="Picture to write."),
    panels: str = typer.Option(
        None,
        "--panels",
        metavar="NAMES",
        help="Comma-separated panels to draw (default: every panel the sample has arrays for).",
    ),
    list_panels: bool = typer.Option(
        False, "--list", help="List the panels and the arrays each needs, then stop."
    ),
    data_root: list[str] | None = DATA_ROOT,
) -> None:
    """Draw one sample as the stages see it, for debugging and for docs: the source frames
    with face box and landmarks, the aligned faces, the region outlines, the crops, and
    (after the motion stages) flow, strain, difference image and apex curve.

    Examples:

      mertool show faces.h5 casme2/sub01/EP02_01f -o sample.png

      mertool show rois.h5 casme2/sub01/EP02_01f --panels rois,crops -o rois.png
    """
    from mertool.console import info, out
    from mertool.store import data_roots, open_input
    from mertool.visualize import registered
    from mertool.visualize.sample import render_sample

    if list_panels:
        for spec in registered().values():
            needs = ", ".join(n if isinstance(n, str) else " or ".join(n) for n in spec.needs)
            out.print(f"{spec.name:<10} needs {needs}  ({spec.title})")
        return
    names = [p.strip() for p in panels.split(",") if p.strip()] if panels else None
    with data_roots(data_root), open_input(file) as sf:
        path = render_sample(sf.record(sample_id), output, names)
    info(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("show")(show)
