"""``mertool synth``: write a synthetic micro-expression dataset with ground truth."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mertool.cli import common as C

HELP = (
    "Write a synthetic micro-expression dataset in a real dataset's layout, with ground truth.\n\n"
    "Clips are made from the face photos installed packages ship (scikit-image's astronaut, "
    "matplotlib's Grace Hopper, ultralytics' zidane and bus, and their mirror images): a neutral "
    "face, then a brief (< 500 ms), subtle (a few pixels), localised movement of facial action "
    "units placed with dlib's 68 landmarks, rising to an apex and fading. Happiness: cheek raiser + "
    "lip corner puller; surprise: brow raisers + jaw drop; disgust, repression, anger, contempt: "
    "brow lowerer, nose wrinkler, lip corner depressor, chin raiser, dimpler (docs/synth.md has the "
    "table). Subjects, lighting, sensor noise, head drift and flicker vary independently of the "
    "class, so only the motion tells the classes apart.\n\n"
    "Writes OUT_DIR/CASME2 (or SAMM, SMIC; all three for megc2019) laid out exactly like the real "
    "dataset, annotation file included, so every stage reads it unchanged; and "
    "OUT_DIR/synth_truth.h5 with onset/apex/offset, labels, the per-frame displacement fields and "
    "the exact onset -> apex flow. The same --seed writes the same bytes. The default (6 subjects x "
    "6 clips, 320x240) takes well under a minute. --photos picks some of the bundled photos (e.g. "
    "to hold one out for testing) and --photo-dir adds your own.\n\n"
    "Examples:\n\n"
    "  mertool synth demo/synth\n"
    "  mertool datasets info demo/synth/CASME2\n"
    "  mertool synth bench/ --layout megc2019 --subjects 16 --clips-per-subject 9 --seed 1\n\n"
    "  mertool synth heldout/ --photos grace_hopper --subjects 4 --seed 7\n\n"
    "  mertool synth mine/ --photo-dir ~/faces\n\n"
    "Long videos for spotting (--layout casme2sq-long or samm-long): --duration seconds per video "
    "at the dataset's rate (CAS(ME)^2 30 fps, SAMM 200 fps) holding --micro micro-expressions "
    "(0.2-0.45 s), --macro macro-expressions (0.75-3.5 s, larger) and the distractors a spotter "
    "must not report: --blinks eye blinks, --head-turns slow head turns, --light-changes changes "
    "of exposure; the annotation in the dataset's own xlsx format (expressions only) and "
    "OUT_DIR/long_truth.json (every event, distractors included).\n\n"
    "  mertool synth long/ --layout casme2sq-long --subjects 2 --duration 20\n"
    "  mertool spot long/CASME_sq --evaluate"
)


LayoutChoice = C.choices("LayoutChoice", ("casme2", "samm", "smic", "megc2019", "casme2sq-long", "samm-long"))


def register(app: typer.Typer) -> None:
    app.command("synth", help=HELP, no_args_is_help=True)(synth)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not WIDTHxHEIGHT (e.g. 320x240)") from None
    return w, h


def synth(
    out_dir: Path = typer.Argument(
        ..., metavar="OUT_DIR", help="Folder to write the dataset tree(s) and the truth file into."
    ),
    layout: LayoutChoice = typer.Option(
        LayoutChoice.casme2, "--layout", "-l", help="Dataset layout; megc2019 writes all three side by side."
    ),
    subjects: int = typer.Option(6, "--subjects", "-s", min=1, help="Pseudo-subjects per dataset."),
    clips_per_subject: int = typer.Option(
        6, "--clips-per-subject", "-c", min=1, help="Clips per subject (classes stay balanced)."
    ),
    fps: float = typer.Option(
        None,
        "--fps",
        help="Frame rate; default the dataset's own (CASME II, SAMM 200; SMIC-HS 100).",
        show_default=False,
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same bytes."),
    size: str = typer.Option(
        "320x240", "--size", help="Frame size WIDTHxHEIGHT (faces span about half the height)."
    ),
    photos: str = typer.Option(
        None,
        "--photos",
        metavar="NAME[,NAME...]",
        help="Make the subjects from these bundled photos only (astronaut, grace_hopper, zidane, bus; "
        "each comes with its mirror image). Default: all of them.",
        show_default=False,
    ),
    photo_dir: Path = typer.Option(
        None,
        "--photo-dir",
        metavar="DIR",
        file_okay=False,
        help="Also (or, without --photos, only) use every face dlib finds in the .jpg/.jpeg/.png "
        "photos in DIR, each with its mirror image.",
        show_default=False,
    ),
    truth: Path = typer.Option(
        None,
        "--truth",
        metavar="FILE",
        help="Ground-truth file (default: OUT_DIR/synth_truth.h5).",
        show_default=False,
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace synthetic data already in OUT_DIR."),
    duration: float = typer.Option(20.0, "--duration", help="Long layouts: seconds per video."),
    videos_per_subject: int = typer.Option(
        1, "--videos-per-subject", min=1, help="Long layouts: videos per subject."
    ),
    micro: int = typer.Option(4, "--micro", min=0, help="Long layouts: micro-expressions per video."),
    macro: int = typer.Option(2, "--macro", min=0, help="Long layouts: macro-expressions per video."),
    blinks: int = typer.Option(
        3, "--blinks", min=0, help="Long layouts: eye blinks per video (distractors)."
    ),
    head_turns: int = typer.Option(
        1, "--head-turns", min=0, help="Long layouts: slow head turns per video (distractors)."
    ),
    light_changes: int = typer.Option(
        1, "--light-changes", min=0, help="Long layouts: exposure changes per video (distractors)."
    ),
    json_out: bool = C.JSON,
) -> None:
    from mertool.cli.common import call_by_name, print_json
    from mertool.console import info
    from mertool.store.provenance import command_line
    from mertool.synth import SynthConfig, generate
    from mertool.synth.layouts import LAYOUT_CHOICES

    layout = getattr(layout, "value", layout)
    if layout.endswith("-long"):
        _long(locals())
        return
    if layout not in LAYOUT_CHOICES:
        raise typer.BadParameter(
            f"{layout!r}: choose one of {', '.join(LAYOUT_CHOICES)}", param_hint="--layout"
        )
    config = call_by_name(
        SynthConfig,
        locals(),
        size=_parse_size(size),
        photos=None if photos is None else tuple(photos.split(",")),
        photo_dir=None if photo_dir is None else str(photo_dir),
    )
    result = generate(out_dir, config, truth_path=truth, overwrite=overwrite, command=command_line(sys.argv))
    summary = {
        "dataset_root": str(result.dataset_root),
        "roots": {k: str(v) for k, v in result.roots.items()},
        "truth": str(result.truth),
        "clips": result.clips,
        "frames": result.frames,
        "seconds": round(result.seconds, 2),
        "sources": result.sources,
        "photos": result.photos,
    }
    if json_out:
        print_json(summary)
        return
    info(
        f"[bold]synth[/]: {result.clips} clips, {result.frames} frames in {result.seconds:.1f} s "
        f"from {len(result.sources)} photo faces"
        + (f" ({', '.join(result.photos)})" if photos is not None or photo_dir is not None else "")
    )
    for name, root in result.roots.items():
        info(f"  {name}: {root}")
    info(f"  ground truth: {result.truth}")
    info(f"  next: mertool datasets info {result.dataset_root}")


def _long(given: dict) -> None:
    from mertool.cli.common import call_by_name, print_json
    from mertool.console import info
    from mertool.store.provenance import command_line
    from mertool.synth.long_video import LongSynthConfig, generate_long

    photos = given["photos"]
    config = call_by_name(
        LongSynthConfig,
        {**given, "duration_s": given["duration"]},
        size=_parse_size(given["size"]),
        photos=None if photos is None else tuple(photos.split(",")),
        photo_dir=None if given["photo_dir"] is None else str(given["photo_dir"]),
    )
    result = generate_long(
        given["out_dir"], config, overwrite=given["overwrite"], command=command_line(sys.argv)
    )
    summary = {
        "dataset_root": str(result.root),
        "truth": str(result.truth),
        "annotation": [str(p) for p in result.annotation],
        "videos": result.videos,
        "frames": result.frames,
        "events": result.counts,
        "seconds": round(result.seconds, 2),
    }
    if given["json_out"]:
        print_json(summary)
        return
    events = ", ".join(f"{n} {k}" for k, n in sorted(result.counts.items()))
    info(
        f"[bold]synth[/]: {result.videos} long video(s), {result.frames} frames ({events}) in {result.seconds:.1f} s"
    )
    info(f"  {config.layout}: {result.root}")
    info(f"  ground truth (distractors included): {result.truth}")
    info(f"  next: mertool spot {result.root} --evaluate")
