"""``mertool detector models|prepare|train|eval|synth``: paper 000's YOLOv8s face detector."""

from __future__ import annotations

from pathlib import Path

import typer

from mertool.cli import common as C

detector_app = typer.Typer(
    help=(
        "Paper 000's face detector: YOLOv8s with C2f_Star (+CBAM, +CAA) on ultralytics, trained on WIDER FACE.\n\n"
        "  mertool detector prepare WIDER_ROOT -o yolo_widerface/\n"
        "  mertool detector train yolo_widerface/data.yaml --model yolov8s-c2f-star-cbam -o runs/star-cbam\n"
        "  mertool detector eval runs/star-cbam/weights/best.pt yolo_widerface/data.yaml\n"
        "  mertool detect-faces clips/ --detector yolo --weights runs/star-cbam/weights/best.pt -o faces.h5"
    ),
    no_args_is_help=True,
)

DEVICE = typer.Option(
    "cpu", "--device", help="cpu, auto (first GPU if any), a CUDA index (0) or list (0,1), or mps."
)
IMGSZ = typer.Option(640, "--imgsz", min=32, help="Training/inference image size in pixels (multiple of 32).")


HoldoutBy = C.choices("HoldoutBy", ("image", "event"))


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None or v != v:  # NaN
        return "—"
    return f"{v:.{digits}f}"


@detector_app.command("models")
def models(
    imgsz: int = typer.Option(640, "--imgsz", help="Image size for the GFLOPs count."),
    json_out: bool = C.JSON,
) -> None:
    """Parameters and GFLOPs of every detector YAML, beside YOLOv8s's published numbers.

    Counted by ultralytics itself (leaf layers, parameters, THOP GFLOPs), one class, at --imgsz. The published YOLOv8s is 11.2M parameters / 28.6 GFLOPs at 640 with 80 classes.

    Example: mertool detector models
    """
    from mertool.cli.common import print_json
    from mertool.detector.complexity import PUBLISHED, model_table

    rows = model_table(imgsz=imgsz)
    if json_out:
        print_json({"imgsz": imgsz, "published_yolov8s": PUBLISHED, "models": rows})
        return
    from rich.table import Table

    from mertool.console import out

    table = Table(title=f"paper 000 detector models (one class, {imgsz}x{imgsz})")
    for col in ("model", "what", "layers", "params (M)", "GFLOPs", "YAML"):
        table.add_column(col)
    table.add_row(
        "YOLOv8s (published)",
        "ultralytics, 80 classes",
        "—",
        f"{PUBLISHED['params_m']:.1f}",
        f"{PUBLISHED['gflops']:.1f}",
        "—",
    )
    for r in rows:
        table.add_row(
            r["model"], r["what"], str(r["layers"]), f"{r['params_m']:.2f}", f"{r['gflops']:.1f}", r["yaml"]
        )
    out.print(table)


@detector_app.command("prepare")
def prepare(
    root: Path = typer.Argument(
        ..., help="WIDER FACE root: holds wider_face_split/ and WIDER_train/, WIDER_val/."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for the YOLO-format dataset (new or a previous prepare)."
    ),
    link: str = typer.Option("symlink", "--link", help="How images are placed: symlink, copy or hardlink."),
    min_size: float = typer.Option(
        0, "--min-size", help="Drop faces whose shorter side is below this many pixels."
    ),
    holdout: float = typer.Option(
        0.1,
        "--holdout",
        min=0.0,
        max=1.0,
        help="Fraction of WIDER train held out of training to choose the checkpoint on (never WIDER val).",
    ),
    holdout_seed: int = typer.Option(
        0, "--holdout-seed", help="Seed of the holdout draw (same seed, same images)."
    ),
    holdout_by: HoldoutBy = typer.Option(
        HoldoutBy.image,
        "--holdout-by",
        help="Hold out single images (every event keeps its share of training) or whole event folders.",
    ),
    json_out: bool = C.JSON,
) -> None:
    """Convert WIDER FACE as shipped into ultralytics' YOLO layout plus a data.yaml.

    Writes OUT/images/{train,holdout,val}/<event>/*.jpg (links to the WIDER images), OUT/labels/... with one "0 cx cy w h" line per face, and OUT/data.yaml. Boxes with w or h = 0 and boxes flagged invalid are dropped and counted; boxes reaching past the image are clipped; the zero-face records become images with an empty label file.

    Splits: --holdout (10 %, seeded) of WIDER train is held out as the split ultralytics chooses best.pt on (data.yaml val); the rest of WIDER train is trained on; WIDER val is the test split (data.yaml test) that 'detector eval' scores and nothing selects on. WIDER train is required.

    Example: mertool detector prepare ~/data/widerface -o yolo_widerface/
    """
    from mertool.cli.common import print_json
    from mertool.detector.prepare import ROLES, prepare_widerface

    report = C.call_by_name(prepare_widerface, locals(), root, output)
    if json_out:
        print_json(report.as_dict())
        return
    from rich.markup import escape
    from rich.table import Table

    from mertool.console import err, out

    table = Table(title=f"WIDER FACE -> {report.out}")
    cols = (
        "images",
        "boxes_in",
        "boxes_written",
        "zero_face_images",
        "dropped_zero_size",
        "dropped_invalid",
        "dropped_outside",
        "dropped_small",
        "clipped",
    )
    table.add_column("split")
    for c in cols:
        table.add_column(c.replace("_", " "))
    for split, counts in report.splits.items():
        table.add_row(split, *(str(getattr(counts, c)) for c in cols))
    out.print(table)
    for split in report.splits:
        out.print(f"  {split}: {escape(ROLES[split])}")
    h = report.holdout
    out.print(
        f"holdout: {h['images']} image(s) from {h['events']} event(s), {h['fraction']:g} of WIDER train "
        f"by {h['by']}, seed {h['seed']}"
    )
    out.print(f"dataset file: {escape(str(report.data_yaml))}")
    for q in report.quirks:
        err.print(f"[yellow]note:[/] {escape(q)}")


@detector_app.command("train")
def train(
    data: Path = typer.Argument(..., help="data.yaml written by 'mertool detector prepare' (or its folder)."),
    model: str = typer.Option(
        "yolov8s-c2f-star-cbam",
        "--model",
        "-m",
        help="yolov8s-face | yolov8s-c2f-star | yolov8s-c2f-star-cbam | yolov8s-c2f-star-caa "
        "(yolov8n-... for YOLOv8n's scale), a model .yaml, or a local .pt to fine-tune.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Run folder; weights land in RUN_DIR/weights/best.pt."
    ),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Training epochs."),
    imgsz: int = IMGSZ,
    batch: int = typer.Option(16, "--batch", min=1, help="Batch size."),
    device: str = DEVICE,
    workers: int = typer.Option(
        0,
        "--workers",
        "-j",
        min=0,
        help="Data-loading worker processes (0: in the main process; 4-8 keep a GPU fed).",
    ),
    pretrained: Path | None = typer.Option(
        None,
        "--pretrained",
        help="A local .pt whose matching weights start the training (nothing is downloaded).",
    ),
    patience: int = typer.Option(
        100,
        "--patience",
        min=0,
        help="Stop after this many epochs without improvement on the selection split (the holdout).",
    ),
    plots: bool = typer.Option(False, "--plots/--no-plots", help="Let ultralytics draw its training plots."),
    amp: bool = typer.Option(
        True, "--amp/--no-amp", help="Mixed precision on CUDA (never checked by downloading a model)."
    ),
    seed: int = C.SEED,
    json_out: bool = C.JSON,
) -> None:
    """Train a face detector with ultralytics' trainer, offline, from scratch (or from a local .pt).

    Writes RUN_DIR/weights/best.pt and last.pt, ultralytics' results.csv and args.yaml, and prints precision, recall, mAP@0.5 and mAP@0.5:0.95 of best.pt on the selection split: the part of WIDER train 'detector prepare' held out, on which best.pt was chosen (not a test score; 'detector eval' scores WIDER val). Pretrained names such as yolov8s.pt need the internet and are refused.

    Example: mertool detector train yolo_widerface/data.yaml -m yolov8s-c2f-star-cbam --epochs 100 --device 0 -o runs/star-cbam
    """
    from mertool.cli.common import print_json
    from mertool.console import out
    from mertool.detector.train import train as run_train

    result = C.call_by_name(run_train, locals(), data, output)
    summary = {
        "model": result.model,
        "run_dir": str(result.run_dir),
        "best": str(result.best),
        "last": str(result.last),
        "epochs": result.epochs,
        "seconds": round(result.seconds, 1),
        "selected_on": result.selected_on,
        **result.metrics,
    }
    if json_out:
        print_json(summary)
        return
    m = result.metrics
    out.print(
        f"{result.model} on the selection split (held out of WIDER train; best.pt was chosen on it): "
        f"precision {_fmt(m['precision'])}  recall {_fmt(m['recall'])}  "
        f"mAP@0.5 {_fmt(m['map50'])}  mAP@0.5:0.95 {_fmt(m['map50_95'])}  ({result.seconds:.0f} s)"
    )
    out.print("test score: mertool detector eval BEST.pt DATA.yaml (WIDER val)")
    out.print(f"weights: {result.best}")


@detector_app.command("eval")
def evaluate(
    weights: Path = typer.Argument(..., help="A trained .pt (RUN_DIR/weights/best.pt)."),
    data: Path = typer.Argument(..., help="data.yaml written by 'mertool detector prepare' (or its folder)."),
    imgsz: int = IMGSZ,
    batch: int = typer.Option(16, "--batch", min=1, help="Batch size."),
    device: str = DEVICE,
    wider_root: Path | None = typer.Option(
        None,
        "--wider-root",
        help="WIDER root holding eval_tools/ground_truth (default: the one data.yaml records).",
    ),
    no_wider: bool = typer.Option(False, "--no-wider", help="Skip the WIDER easy/medium/hard evaluation."),
    json_out: bool = C.JSON,
) -> None:
    """Precision, recall, mAP@0.5 and mAP@0.5:0.95 of a trained detector on the test split (WIDER val).

    The test split is the one data.yaml names 'test' (WIDER val, as 'detector prepare' writes it); never the val split the checkpoint was chosen on. The four numbers come from ultralytics' validator. WIDER FACE easy/medium/hard AP (our implementation of the standard evaluation) is added when the WIDER root holds eval_tools/ground_truth/wider_*_val.mat.

    Example: mertool detector eval runs/star-cbam/weights/best.pt yolo_widerface/data.yaml
    """
    from mertool.cli.common import print_json
    from mertool.console import err, out
    from mertool.detector.evaluate import evaluate as run_eval

    result = run_eval(
        weights, data, imgsz=imgsz, batch=batch, device=device, wider_root=wider_root, wider=not no_wider
    )
    if json_out:
        print_json(result.as_dict())
        return
    out.print(
        f"{result.weights} on {result.images} test image(s) (WIDER val): precision {_fmt(result.precision)}  "
        f"recall {_fmt(result.recall)}  mAP@0.5 {_fmt(result.map50)}  mAP@0.5:0.95 {_fmt(result.map50_95)}"
    )
    if result.wider is not None:
        out.print("WIDER FACE AP: " + "  ".join(f"{k} {_fmt(v)}" for k, v in result.wider.items()))
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")


@detector_app.command("synth")
def synth(
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder to write the synthetic WIDER FACE tree into."
    ),
    n_train: int = typer.Option(16, "--train", min=1, help="Training images."),
    n_val: int = typer.Option(8, "--val", min=1, help="Validation images."),
    n_test: int = typer.Option(
        0, "--test", min=0, help="Test images (listed in wider_face_test_filelist.txt)."
    ),
    seed: int = C.SEED,
) -> None:
    """Write a small synthetic face-detection set in WIDER FACE's own layout.

    Faces from the photos that installed packages ship, pasted onto backgrounds, with WIDER's quirks (zero-face records, w = 0 and invalid boxes) and eval_tools .mat files.

    Example: mertool detector synth -o synth_wider/ --train 64 --val 16 && mertool detector prepare synth_wider -o synth_yolo
    """
    from mertool.console import out
    from mertool.detector.synthetic import make_synthetic_wider

    made = make_synthetic_wider(output, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)
    for split, n in made.images.items():
        out.print(f"{split}: {n} image(s), {made.faces[split]} face box(es)")
    out.print(f"written to {made.root}")


def register(app: typer.Typer) -> None:
    app.add_typer(detector_app, name="detector")
