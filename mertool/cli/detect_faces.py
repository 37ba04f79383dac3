"""``mertool detect-faces``: face boxes, 68 landmarks and aligned faces for every clip."""

from __future__ import annotations

import sys

import typer

from mertool.cli import common as C

DetectorName = C.choices("DetectorName", ("dlib-hog", "dlib-cnn", "yolo", "opencv-dnn"))


Color = C.choices("Color", ("rgb", "gray"))


Align = C.choices("Align", ("clip", "frame"))


def detect_faces(
    input: str = typer.Argument(
        None,
        metavar="[INPUT]",
        help="Dataset root, folder of frames, video file, or an HDF5 file with frame_paths ('-'/omitted: stdin).",
        show_default=False,
    ),
    output: str = C.OUTPUT,
    detector: DetectorName = typer.Option(
        DetectorName.dlib_hog,
        "--detector",
        help="Face detector (runs once per clip, again only when the face is lost).",
    ),
    weights: str = typer.Option(
        None,
        "--weights",
        metavar="FILE",
        help="Model file: .dat (dlib-cnn; default: the MMOD file of face-recognition-models), .pt (yolo), "
        ".caffemodel/.pb/.onnx (opencv-dnn; MODEL,GRAPH for two files).",
    ),
    dataset: str = C.DATASET,
    label_map: str = C.LABEL_MAP,
    size: int = typer.Option(128, "--size", min=16, help="Side of the aligned face frames in pixels."),
    color: Color = typer.Option(Color.rgb, "--color", help="Aligned frames in RGB or gray."),
    align: Align = typer.Option(
        Align.clip,
        "--align",
        help="'clip': one similarity per clip (head motion stays, no landmark jitter); "
        "'frame': per frame from the eye corners and nose bridge (removes head motion).",
    ),
    workers: int = typer.Option(
        2, "--workers", "-j", min=0, help="Worker processes (clips in parallel); 0 = one per core."
    ),
    limit: int = typer.Option(0, "--limit", min=0, help="Only the first N clips (0: all), for a quick look."),
    on_error: C.OnError = C.ON_ERROR,
    resume: bool = C.RESUME,
    retry_failed: bool = C.RETRY_FAILED,
    data_root: list[str] | None = C.DATA_ROOT,
) -> None:
    """Find the face in every clip: a box and dlib's 68 landmarks per frame, and the frames
    aligned (eyes level, fixed eye distance, one similarity per clip) to SIZE x SIZE.

    The detector runs on the first frame of a clip; later frames follow the face with
    landmarks alone, and the detector runs again only when the face is lost (the frames that
    needed it are listed at the end). Clips with no face, a corrupt or truncated frame, or a
    frame of another size are marked failed with the reason naming the file.

    The output records the dataset root absolutely and each frame path relative to it, so the
    file works from any folder; given an HDF5 file whose dataset moved, --data-root OLD=NEW (or
    MERTOOL_DATA_ROOT) says where it is now.

    Examples:

      mertool detect-faces CASME2/ -o faces.h5

      mertool detect-faces my_clip.mp4 --size 224 -o faces.h5

      mertool detect-faces CASME2/ | mertool crop-rois -o rois.h5
    """
    from mertool.cli.common import call_by_name
    from mertool.stages.detect_faces import run
    from mertool.store import data_roots
    from mertool.store.provenance import command_line

    with data_roots(data_root):
        call_by_name(run, locals(), input, output, limit=limit or None, command=command_line(sys.argv))


def register(app: typer.Typer) -> None:
    app.command("detect-faces")(detect_faces)
