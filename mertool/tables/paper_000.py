"""Paper 000: ResNet50 (+CBAM, +SE) on RAF-DB and the YOLOv8s face detector (+Star_Block, CBAM, CAA)
on WIDER FACE: tables 2, 3 and 4.

What each ``make table-000-*`` target runs (:data:`EXPERIMENTS`), what the paper published
(:data:`TABLES`), row by row (vocabulary: :mod:`mertool.tables.spec`), and the detector tables on
their own (T2, T4 without the classifier row), a program of their own::

    python -m mertool.tables.paper_000 table-000-2 --wider WIDER_ROOT [--out results]
    python -m mertool.tables.paper_000 table-000-4 --wider WIDER_ROOT
    python -m mertool.tables.paper_000 table-000-2 --smoke      (synthetic WIDER FACE, minutes on CPU)

For each detector row: ``detector prepare`` (once), ``detector train`` of the row's YAML (its
``best.pt`` chosen on 10 % of WIDER FACE train held out), ``detector eval`` of that ``best.pt`` on
WIDER FACE val, the test split nothing was selected on; then ``OUT/<target>.md`` and ``.csv`` with
the paper's precision / recall / mAP@0.5 beside ours (plus our mAP@0.5:0.95 and WIDER
easy/medium/hard AP). The paper gives no training schedule; the defaults (100 epochs, 640 px,
batch 16, from scratch: no pretrained weights offline) are ultralytics' and are written into the
table. Table 4's classifier row (SE-ResNet50 on RAF-DB) comes from ``make table-000-4``
(``mertool tables run table-000-4``), which fills it from table-000-3's "ResNet50 + SE" run; the
program alone writes that row's paper numbers with a marker instead of ours. Its smoke twins write
``OUT/<target>-smoke.md``/``.csv`` from a small synthetic set in WIDER FACE's layout (1 epoch,
160 px): their numbers only show the code path runs. Both go through the shared report writer
:func:`mertool.tables.report.write_files`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mertool.tables.spec import Experiment, PaperTable, RowSpec, Run, paper_row, published

# ------------------------------------------------------------------------------------------------
# what runs


def _raf(arch: str) -> dict[str, Run]:
    return {"main": Run("rafdb-face", ("--preset", "se-resnet50-000", "--arch", arch))}


_DET_COLS = (("det", "det.precision"), ("det", "det.recall"), ("det", "det.map50"))


def _det(model: str) -> dict[str, Run]:
    return {"det": Run("widerface-yolo", (model,), kind="detector")}


_SE_ROW = _raf("resnet50-se")
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "table-000-2",
        (
            RowSpec("YOLOv8s", _det("yolov8s-face")),
            RowSpec("YOLOv8s + Star_Block", _det("yolov8s-c2f-star")),
            RowSpec("YOLOv8s + Star_Block + CBAM", _det("yolov8s-c2f-star-cbam")),
        ),
        _DET_COLS,
        {},
        (
            "Detectors are trained from scratch (no pretrained weights offline), ultralytics' defaults: 100 epochs, 640 px, batch 16.",
        ),
    ),
    Experiment(
        "table-000-3",
        (
            RowSpec("ResNet50", _raf("resnet50")),
            RowSpec("ResNet50 + CBAM", _raf("resnet50-cbam")),
            RowSpec("ResNet50 + SE", _SE_ROW),
        ),
        (("main", "precision"), ("main", "recall"), ("main", "f1"), ("main", "auc")),
        {"--epochs": "1", "--input-size": "32"},
        ("P, R, F1 and ROC-AUC are macro averages over the 7 classes on RAF-DB's test split.",),
    ),
    Experiment(
        "table-000-4",
        (
            RowSpec("yolov8s-C2f-Star-CAA (WIDER FACE)", _det("yolov8s-c2f-star-caa")),
            RowSpec(
                "SE-ResNet50 (RAF-DB)",
                _SE_ROW,
                columns=(("main", "precision"), ("main", "recall"), ("main", "f1")),
            ),
        ),
        _DET_COLS,
        {"--epochs": "1", "--input-size": "32"},
        (
            "The SE-ResNet50 row is table-000-3's 'ResNet50 + SE' run (the same run directory: after "
            "table-000-3 it costs nothing).",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# what the paper published

TABLES: tuple[PaperTable, ...] = (
    published(
        "table-000-2",
        "T2 YOLOv8s ablation on WIDER FACE",
        ("P", "R", "mAP@0.5"),
        paper_row("YOLOv8s", 0.8117, 0.5118, 0.584),
        paper_row("YOLOv8s + Star_Block", 0.8033, 0.5103, 0.575),
        paper_row("YOLOv8s + Star_Block + CBAM", 0.8619, 0.5780, 0.681),
    ),
    published(
        "table-000-3",
        "T3 ResNet50 ablation on RAF-DB (7 classes)",
        ("P", "R", "F1", "ROC-AUC"),
        paper_row("ResNet50", 0.7506, 0.7097, 0.7269, 0.9233),
        paper_row("ResNet50 + CBAM", 0.7373, 0.6889, 0.7083, 0.9204),
        paper_row("ResNet50 + SE", 0.8739, 0.8399, 0.8548, 0.9209),
    ),
    published(
        "table-000-4",
        "T4 best models",
        ("P", "R", "mAP@0.5 / F1"),
        paper_row("yolov8s-C2f-Star-CAA (WIDER FACE)", 0.9033, 0.7249, 0.693),
        paper_row("SE-ResNet50 (RAF-DB)", 0.8739, 0.8399, 0.8548),
        notes="The detector row reports mAP@0.5, the classifier row F1.",
    ),
)


def _published(target: str) -> PaperTable:
    return next(t for t in TABLES if t.target == target)


# ------------------------------------------------------------------------------------------------
# the detector tables alone (python -m mertool.tables.paper_000)

#: target -> [(paper row name, our model name)]
DETECTOR_ROWS = {
    "table-000-2": [
        ("YOLOv8s", "yolov8s-face"),
        ("YOLOv8s + Star_Block", "yolov8s-c2f-star"),
        ("YOLOv8s + Star_Block + CBAM", "yolov8s-c2f-star-cbam"),
    ],
    "table-000-4": [("yolov8s-C2f-Star-CAA (WIDER FACE)", "yolov8s-c2f-star-caa")],
}
CLASSIFIER_ROW = "SE-ResNet50 (RAF-DB)"
CLASSIFIER_MARKER = "not produced by this detector module: make table-000-4 RAFDB=... fills it from table-000-3's ResNet50 + SE run"
HEADER = [
    "row",
    "model",
    "P (paper)",
    "R (paper)",
    "mAP@0.5 (paper)",
    "P (ours)",
    "R (ours)",
    "mAP@0.5 (ours)",
    "mAP@0.5:0.95 (ours)",
    "WIDER AP easy",
    "WIDER AP medium",
    "WIDER AP hard",
    "epochs",
    "imgsz",
    "weights",
]


def detector_row(model: str, data_yaml: Path, work: Path, sizes: dict[str, int], device: str, seed: int,
                 workers: int = 0) -> dict:  # fmt: skip
    """Train detector ``model`` into ``work`` and evaluate its ``best.pt`` on the test split (WIDER
    val; the checkpoint was chosen on the holdout of WIDER train):
    precision, recall, map50, map50_95, wider_easy/medium/hard (None without eval_tools), weights."""
    from mertool.detector.evaluate import evaluate
    from mertool.detector.train import train

    epochs, imgsz, batch = sizes["epochs"], sizes["imgsz"], sizes["batch"]
    result = train(
        data_yaml, work, model=model, epochs=epochs, imgsz=imgsz, batch=batch, device=device, seed=seed,
        workers=workers,
    )  # fmt: skip
    ev = evaluate(result.best, data_yaml, imgsz=imgsz, batch=batch, device=device)
    wider = ev.wider or {}
    return {
        "model": model,
        "precision": ev.precision,
        "recall": ev.recall,
        "map50": ev.map50,
        "map50_95": ev.map50_95,
        "wider_easy": wider.get("easy"),
        "wider_medium": wider.get("medium"),
        "wider_hard": wider.get("hard"),
        "epochs": epochs,
        "imgsz": imgsz,
        "weights": str(result.best),
    }


def run_rows(
    target: str, data_yaml: Path, work: Path, sizes: dict[str, int], device: str, seed: int, workers: int = 0
) -> list[list]:
    """One report row per detector of ``target`` (paper's numbers, then ours), trained here."""
    paper = _published(target)
    rows = []
    for row_name, model in DETECTOR_ROWS[target]:
        p = paper.row(row_name).values
        r = detector_row(model, data_yaml, work / model, sizes, device, seed, workers)
        rows.append(
            [row_name, model, p[0], p[1], p[2]]
            + [
                r[k]
                for k in (
                    "precision",
                    "recall",
                    "map50",
                    "map50_95",
                    "wider_easy",
                    "wider_medium",
                    "wider_hard",
                )
            ]
            + [r["epochs"], r["imgsz"], r["weights"]]
        )
    if target == "table-000-4":
        p = paper.row(CLASSIFIER_ROW).values
        rows.append([CLASSIFIER_ROW, "se-resnet50", p[0], p[1], p[2]] + [None] * 9 + [CLASSIFIER_MARKER])
    return rows


def write_table(target: str, rows: list[list], out: Path, stem: str, setup: str) -> tuple[Path, Path]:
    """``OUT/STEM.md`` (the first 12 columns) and ``OUT/STEM.csv`` (all), through the shared writer."""
    from mertool.tables.report import write_files

    paper = _published(target)
    notes = [f"{r[0]}: {r[-1]}." for r in rows if r[5] is None]
    if paper.notes:
        notes.append(f"Paper's note: {paper.notes}")
    md, csv_path = write_files(
        out,
        stem,
        HEADER,
        rows,
        title=f"{stem}: paper 000 {paper.title}",
        smoke=stem.endswith("-smoke"),
        preamble=[setup],
        md_columns=12,
        notes=[line for n in notes for line in ("", n)][1:] if notes else (),
    )
    return md, csv_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Reproduce paper 000's detector tables (T2, T4).")
    ap.add_argument("target", choices=sorted(DETECTOR_ROWS))
    ap.add_argument(
        "--wider", type=Path, help="WIDER FACE root (wider_face_split/, WIDER_train/, WIDER_val/)."
    )
    ap.add_argument("--smoke", action="store_true", help="Synthetic WIDER FACE set, 1 epoch at 160 px.")
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument(
        "--work", type=Path, default=None, help="Where prepared data and runs go (default: OUT/work)."
    )
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--imgsz", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--workers", type=int, default=None, help="Data-loading workers (default: 0 smoke, up to 8 real)."
    )
    args = ap.parse_args(argv)

    from mertool.detector.prepare import prepare_widerface
    from mertool.errors import MertoolError

    stem = args.target + ("-smoke" if args.smoke else "")
    work = (args.work or Path(".cache") / "detector-tables" / stem).resolve()
    if args.smoke:
        from mertool.detector.synthetic import make_synthetic_wider

        wider = make_synthetic_wider(
            work / "wider", n_train=8, n_val=4, seed=args.seed, size_range=(160, 224)
        ).root
        epochs, imgsz, batch = args.epochs or 1, args.imgsz or 160, args.batch or 4
        source = "synthetic WIDER FACE set (8 train / 4 val images; numbers only show the code path runs)"
    else:
        if args.wider is None:
            print(
                f"{args.target} needs the WIDER FACE root: make {args.target} WIDERFACE=/path/to/widerface",
                file=sys.stderr,
            )
            return 2
        wider = args.wider
        epochs, imgsz, batch = args.epochs or 100, args.imgsz or 640, args.batch or 16
        source = f"WIDER FACE at {wider}"
    try:
        report = prepare_widerface(wider, work / "yolo")
        workers = (
            args.workers if args.workers is not None else (0 if args.smoke else min(8, os.cpu_count() or 1))
        )
        rows = run_rows(
            args.target,
            report.data_yaml,
            work / "runs",
            {"epochs": epochs, "imgsz": imgsz, "batch": batch},
            args.device,
            args.seed,
            workers,
        )
    except MertoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup = (
        f"Ours: {source}; trained from scratch with ultralytics ({epochs} epochs, {imgsz} px, batch {batch}, "
        f"seed {args.seed}); best.pt chosen on {report.holdout['images']} WIDER train image(s) held out of "
        "training; P/R/mAP from ultralytics' validator on WIDER val (the test split, never selected on), "
        "WIDER AP from our easy/medium/hard evaluation (— when eval_tools/ground_truth is absent)."
    )
    md, csv_path = write_table(args.target, rows, args.out, stem, setup)
    print(md.read_text())
    print(f"written: {md} and {csv_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
