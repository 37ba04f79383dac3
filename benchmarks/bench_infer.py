"""Latency of one clip, flow included: onset + apex face frames in, label out (DFR-Net, 3 stages).

Two aligned 128 x 128 RGB face frames (what detect-faces' aligned crop gives; here skimage's
astronaut face and a copy with a small smooth "smile" displacement) go through exactly what
:class:`mertool.training.predict.ClipPredictor` runs: the flow stage's maps (TV-L1 ``micro``
preset, optical strain, difference image), the model's inputs at its default 56 x 56 with the
model file's normalisation, and DFR-Net. Mean and median over ``--runs`` runs after warm-up, on
``--threads`` threads (torch and OpenCV), for each backend (eager, channels_last, traced+frozen
TorchScript, onnxruntime). Writes ``bench-out/infer.md`` (and ``infer.json``).

The model file is built here with random weights (latency does not depend on the weights).

Usage::

    python benchmarks/bench_infer.py [--runs 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def face_pair(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(onset, apex) uint8 RGB: a real face and the same face with mouth corners moved ~1.5 px."""
    import cv2
    from skimage import data

    img = data.astronaut()[20:220, 160:340]  # the face
    onset = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = np.exp(
        -(((yy - 0.72 * size) / (0.08 * size)) ** 2)
        - (((np.abs(xx - size / 2) - 0.18 * size) / (0.08 * size)) ** 2)
    )
    dx = (1.5 * bump * np.sign(xx - size / 2)).astype(np.float32)
    dy = (-1.0 * bump).astype(np.float32)
    apex = cv2.remap(onset, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return onset, apex


def make_model_file(path: Path, onset: np.ndarray, apex: np.ndarray, options: dict) -> Path:
    """A DFR-Net model file with random weights and statistics from the example pair."""
    import torch

    from mertool.models.registry import build_model, model_spec
    from mertool.stages.flow import FlowOptions, motion_maps
    from mertool.training.checkpoint import save_model
    from mertool.training.data import flow_stage_input

    spec = model_spec("dfr-net")
    inputs = spec.input_names(options)
    size = spec.input_size
    fo = FlowOptions()
    maps = motion_maps(onset, apex, fo)
    stats = {}
    for name in inputs:
        x = flow_stage_input(maps, name, (size, size))
        stats[name] = {
            "*": {"mean": x.mean(axis=(1, 2)).tolist(), "std": (x.std(axis=(1, 2)) + 1e-3).tolist()}
        }
    torch.manual_seed(0)
    model = build_model("dfr-net", num_classes=3, **options)
    meta = {
        "arch": "dfr-net",
        "options": options,
        "num_classes": 3,
        "classes": ["negative", "positive", "surprise"],
        "label_map": "megc2019",
        "preprocessing": {
            "inputs": list(inputs),
            "input_size": [size, size],
            "channels": None,
            "three_frames": False,
            "normalization": {"mode": "global", "stats": stats},
            "stage": "flow",
            "stages": ["detect-faces", "spot-apex", "flow"],
            "stage_params": {},
            "flow_record": fo.record(),
        },
        "config": {},
        "history": [],
        "seed": 0,
    }
    return save_model(path, model, meta)


def _stats(ms: list[float]) -> dict:
    return {"mean": statistics.fmean(ms), "median": statistics.median(ms), "min": min(ms), "max": max(ms)}


def bench_backend(model_path: Path, backend: str, onset, apex, runs: int, warmup: int, threads: int) -> dict:
    from mertool.training.predict import ClipPredictor

    p = ClipPredictor(model_path, backend=backend, threads=threads)
    for _ in range(warmup):
        p.predict(onset, apex)
    flow_ms, prep_ms, model_ms, total_ms = [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        maps = p.maps(onset, apex)
        t1 = time.perf_counter()
        x = p.inputs(maps)
        t2 = time.perf_counter()
        z = p.logits(x)
        t3 = time.perf_counter()
        flow_ms.append(1000 * (t1 - t0))
        prep_ms.append(1000 * (t2 - t1))
        model_ms.append(1000 * (t3 - t2))
        total_ms.append(1000 * (t3 - t0))
    label = p.classes[int(np.argmax(z[0]))]
    return {
        "backend": backend,
        "total_ms": _stats(total_ms),
        "flow_ms": _stats(flow_ms),
        "inputs_ms": _stats(prep_ms),
        "model_ms": _stats(model_ms),
        "label": label,
        "logits": z[0].tolist(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--backends", default="eager,channels_last,jit,onnx")
    args = ap.parse_args()

    import torch

    from mertool.env import set_cv2_threads
    from mertool.models.complexity import count_macs, count_params, example_inputs
    from mertool.models.registry import build_model

    torch.set_num_threads(args.threads)
    set_cv2_threads(args.threads)
    options = {"stages": 3}
    onset, apex = face_pair()
    results = []
    with tempfile.TemporaryDirectory(prefix="mertool-bench-") as tmp:
        model_path = make_model_file(Path(tmp) / "dfr.pt", onset, apex, options)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results.append(
                bench_backend(model_path, backend, onset, apex, args.runs, args.warmup, args.threads)
            )
    m = build_model("dfr-net", num_classes=3, **options)
    macs = count_macs(m, example_inputs(("flow", "apex", "diff"), 56))
    ref = np.array(results[0]["logits"])
    for r in results:
        r["max_abs_diff_vs_eager"] = float(np.abs(np.array(r["logits"]) - ref).max())
    best = min(results, key=lambda r: r["total_ms"]["median"])
    res = {
        "model": "dfr-net",
        "options": options,
        "input": 56,
        "params": count_params(m),
        "gmacs": macs / 1e9,
        "threads": args.threads,
        "runs": args.runs,
        "results": results,
        "fastest": best["backend"],
        "machine": {"cpu_count": os.cpu_count(), "load_avg": os.getloadavg()},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "infer.json").write_text(json.dumps(res, indent=1))
    md = [
        "# Inference latency of one clip, flow included (DFR-Net, 3 stages)",
        "",
        "Onset + apex 128x128 RGB face frames in, label out: TV-L1 `micro` flow + optical strain + |apex - onset| "
        "(the flow stage's code), inputs resized to 56x56 and normalised as the model file says, DFR-Net "
        f"({res['params'] / 1e6:.3f} M parameters, {res['gmacs']:.3f} GMACs). {args.threads} threads (torch and OpenCV), "
        f"{args.runs} runs after {args.warmup} warm-up runs; ms. Machine: {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at the end.",
        "",
        "| backend | total mean | total median | flow stage | inputs | model median | max abs logit diff vs eager |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        md.append(
            f"| {r['backend']} | {r['total_ms']['mean']:.1f} | {r['total_ms']['median']:.1f} | "
            f"{r['flow_ms']['median']:.1f} | {r['inputs_ms']['median']:.2f} | {r['model_ms']['median']:.1f} | "
            f"{r['max_abs_diff_vs_eager']:.1e} |"
        )
    md += [
        "",
        f"Fastest: **{best['backend']}**, median {best['total_ms']['median']:.1f} ms per clip "
        f"({200 / best['total_ms']['median']:.1f}x inside paper 004's 200 ms real-time budget; the target is < 100 ms).",
        "",
    ]
    (out / "infer.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
