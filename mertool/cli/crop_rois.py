"""``mertool crop-rois``: the aligned face and its regions (15 ROIs, 5 AU regions, 3 D&C RoIs)."""

from __future__ import annotations

import sys

import typer

from mertool.cli import common as C

CutFrom = C.choices("CutFrom", ("auto", "source", "frames"))


_REGIONS_HELP = (
    "Comma-separated region sets: face, rois15 (paper 001), au5 (paper 002), dc3 (paper 004), or all."
)
_FRAMES_HELP = "Frames to cut: onset, middle, apex, offset (apex: spotted by spot-apex, else the label)."


def crop_rois(
    input: str = C.INPUT,
    output: str = C.OUTPUT,
    regions: str = typer.Option("all", "--regions", metavar="SETS", help=_REGIONS_HELP),
    size: int = typer.Option(
        None,
        "--size",
        min=8,
        help="Side of the face crops (default: the aligned size from detect-faces).",
        show_default=False,
    ),
    roi_size: int = typer.Option(64, "--roi-size", min=8, help="Side of each region crop."),
    frames: str = typer.Option("onset,middle,apex", "--frames", metavar="ROLES", help=_FRAMES_HELP),
    keep_frames: bool = typer.Option(
        False,
        "--keep-frames",
        help="Keep every aligned frame of each clip (dropped by default to save space).",
    ),
    cut_from: CutFrom = typer.Option(
        CutFrom.auto,
        "--from",
        help="Cut from the source frame files (sharper at large --size) or the stored aligned frames; "
        "auto: source when readable.",
    ),
    dataset: str = C.DATASET,
    label_map: str = C.LABEL_MAP,
    workers: int = typer.Option(
        2, "--workers", "-j", min=0, help="Processes for detect-faces when INPUT is a dataset root."
    ),
    on_error: C.OnError = C.ON_ERROR,
    resume: bool = C.RESUME,
    retry_failed: bool = C.RETRY_FAILED,
    data_root: list[str] | None = C.DATA_ROOT,
) -> None:
    """Cut what the networks eat from the aligned faces: the whole face, paper 001's 15 ROIs,
    paper 002's 5 AU regions and paper 004's 3 D&C RoIs, at the onset, middle and apex frames.

    Region boxes come from the landmarks (docs/face.md draws them) and are placed once per
    clip, so the motion between the cut frames stays inside each box. The apex is the one
    spot-apex chose; given a dataset root or a detect-faces file, detect-faces and spot-apex
    run first (spot-apex taking the dataset's apex label, and D&C-RoIs where there is none,
    as for SMIC).

    Source frames are found under the dataset root detect-faces recorded; when the dataset
    lives elsewhere here, say where: --data-root OLD=NEW (or MERTOOL_DATA_ROOT).

    Examples:

      mertool crop-rois faces.h5 -o rois.h5

      mertool crop-rois rois.h5 --size 224 --data-root /data/CASME2=/mnt/CASME2 -o rois224.h5

      mertool detect-faces CASME2/ | mertool crop-rois --regions face,rois15 --size 224 -o rois.h5

      mertool crop-rois CASME2/ --frames onset,apex -o rois.h5
    """
    from mertool.cli.common import call_by_name
    from mertool.stages.chain import prepared_input, requirements
    from mertool.stages.crop_rois import parse_roles, parse_sets, run
    from mertool.store import data_roots
    from mertool.store import schema as S
    from mertool.store.provenance import command_line

    parse_sets(regions)  # fail on a typo before any face is detected
    parse_roles(frames)
    raw = {"dataset": dataset, "label_map": label_map, "workers": workers}
    command = command_line(sys.argv)
    needs = requirements(S.STAGE_ROIS)
    with data_roots(data_root), prepared_input(input, needs, raw_options=raw, command=command) as sf:
        call_by_name(run, locals(), sf, output)


def register(app: typer.Typer) -> None:
    app.command("crop-rois")(crop_rois)
