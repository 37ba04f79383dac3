"""Flow stage speed and accuracy against OpenCV TV-L1 with its default parameters, in one run.

    python benchmarks/bench_flow.py [--out bench-out] [--repeat 10] [--sizes 128,224]   (make bench-flow)

On synthetic clips (``mertool synth``, CASME II layout; made once under ``OUT/synth`` and reused)
with their ground-truth onset -> apex flow:

1. detect-faces at each size (aligned faces of 128x128 and 224x224);
2. the ground truth moved into aligned-face pixels with each clip's ``align_matrix``
   (:func:`mertool.synth.truth.flow_in_crop`: a crop pixel ``y`` comes from source pixel
   ``x = A^-1 y``, which moves to ``x + flow(x)``, seen at ``A (x + flow(x))`` in the crop), and the
   AU region mask warped the same way (the "moving region");
3. the **baseline**: OpenCV TV-L1 with its default parameters, in this one process, on the onset ->
   apex pairs, with 1 OpenCV thread (what a script that imports ultralytics gets) and with OpenCV's
   own thread count; pure compute, no file I/O;
4. **ours**: the whole flow stage (:func:`mertool.stages.flow.process`: HDF5 read and write,
   worker start-up included) with the ``micro`` preset and one worker process per core, on the
   same pairs repeated ``--repeat`` times (a dataset-sized run: 24 clips x 10 = 240 pairs, about
   CASME II's 255);
5. a tuning table: ms per pair (1 process, 1 thread) and endpoint error of TV-L1 settings, DIS,
   Farneback and the zero flow.

EPE = mean endpoint error in pixels of the aligned face, over the whole face ("all") and inside
the AU regions ("moving"), averaged over the pairs. Writes ``OUT/flow.md`` and ``OUT/flow.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TUNING = [
    ("TV-L1 OpenCV defaults (5 scales, 5 warps, 10 outer, 30 inner)", "opencv-default", {}),
    ("TV-L1 micro preset (5 scales, 3 warps, 1 outer, 5 inner)", "micro", {}),
    ("TV-L1 5 scales, 2 warps, 1 outer, 5 inner", "micro", {"warps": 2}),
    ("TV-L1 3 scales, 3 warps, 1 outer, 5 inner", "micro", {"nscales": 3}),
    ("TV-L1 5 scales, 3 warps, 1 outer, 10 inner", "micro", {"inner_iterations": 10}),
    (
        "TV-L1 5 scales, 5 warps, 2 outer, 10 inner",
        "micro",
        {"warps": 5, "outer_iterations": 2, "inner_iterations": 10},
    ),
    ("DIS (OpenCV) MEDIUM preset", "dis", {}),
    ("Farneback 0.5, 3, 15, 3, 5, 1.2", "farneback", {}),
]


def ensure_synth(synth: Path, subjects: int, clips: int, seed: int) -> tuple[Path, Path]:
    """The synthetic CASME II tree and its truth file under ``synth`` (made once)."""
    from mertool.synth import SynthConfig, generate

    truth = synth / "synth_truth.h5"
    root = synth / "CASME2"
    if truth.exists() and root.is_dir():
        return root, truth
    print(f"making the synthetic dataset in {synth} ...", file=sys.stderr)
    generate(
        synth,
        SynthConfig(layout="casme2", subjects=subjects, clips_per_subject=clips, seed=seed),
        overwrite=True,
    )
    return root, truth


def ensure_faces(root: Path, out: Path, size: int) -> Path:
    from mertool.stages.detect_faces import run

    path = out / f"faces{size}.h5"
    if path.exists() and path.stat().st_mtime < root.stat().st_mtime:
        path.unlink()  # made from an older synthetic set
    if not path.exists():
        print(f"detect-faces at {size}x{size} ...", file=sys.stderr)
        run(root, path, size=size, workers=0)
    return path


def load_pairs(faces: Path, truth_path: Path, size: int) -> list[dict]:
    """Onset/apex frames of every clip, with the true flow and AU mask in aligned-face pixels."""
    from mertool.stages.flow import pick_pair
    from mertool.store import SampleFile
    from mertool.store import schema as S
    from mertool.synth import truth as T

    pairs = []
    with SampleFile(faces) as sf, SampleFile(truth_path) as tf:
        for rec in sf.records(ok_only=True):
            pair = pick_pair(rec)
            tr = tf.record(rec.id)
            numbers = np.asarray(rec.array(S.D_FRAME_NUMBERS))
            a = np.asarray(rec.array(S.D_ALIGN_MATRIX), np.float64)
            if a.ndim == 3:  # one matrix per frame
                a_on = a[int(np.flatnonzero(numbers == pair.onset_frame)[0])]
                a_ap = a[int(np.flatnonzero(numbers == pair.apex_frame)[0])]
            else:
                a_on = a_ap = a
            gt = T.flow_in_crop(tr.array(T.D_FLOW), a_on, a_ap, size)
            mask = T.mask_in_crop(tr.array(T.D_MASK), a_on, size)
            pairs.append({"id": rec.id, "onset": pair.onset, "apex": pair.apex, "truth": gt, "mask": mask})
    return pairs


def epe(flow: np.ndarray, pair: dict) -> tuple[float, float]:
    from mertool.motion.optical_flow import endpoint_error

    return endpoint_error(flow, pair["truth"]), endpoint_error(flow, pair["truth"], pair["mask"])


def time_method(pairs: list[dict], params, threads: int) -> dict:
    """ms per pair (in this process, ``threads`` OpenCV threads) and mean EPE."""
    import cv2

    from mertool.motion.optical_flow import compute_flow

    cv2.setNumThreads(threads)
    compute_flow(pairs[0]["onset"], pairs[0]["apex"], params)  # warm-up
    flows = []
    t0 = time.perf_counter()
    for p in pairs:
        flows.append(compute_flow(p["onset"], p["apex"], params))
    seconds = time.perf_counter() - t0
    errs = np.array([epe(f, p) for f, p in zip(flows, pairs)])
    return {
        "ms_per_pair": 1000 * seconds / len(pairs),
        "pairs_per_s": len(pairs) / seconds,
        "epe_all": float(errs[:, 0].mean()),
        "epe_moving": float(np.nanmean(errs[:, 1])),
    }


def repeated_file(faces: Path, repeat: int, dest: Path) -> Path:
    """A copy of ``faces`` holding each sample ``repeat`` times (ids suffixed ``~k``)."""
    from dataclasses import replace

    from mertool.store import SampleFile, SampleWriter

    with SampleFile(faces) as sf, SampleWriter(dest, "detect-faces", source=sf) as w:
        for k in range(repeat):
            for rec in sf.records(ok_only=True):
                w.write(rec if k == 0 else replace(rec, id=f"{rec.id}~{k}"))  # arrays copied as stored
    return dest


def run_stage(faces: Path, pairs: list[dict], repeat: int, workers: int) -> dict:
    from mertool.console import set_quiet
    from mertool.stages.flow import FlowOptions, process
    from mertool.store import SampleFile

    by_id = {p["id"]: p for p in pairs}
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        src = repeated_file(faces, repeat, Path(tmp) / "in.h5")
        out = Path(tmp) / "flow.h5"
        set_quiet(True)
        with SampleFile(src) as sf:
            t0 = time.perf_counter()
            report = process(sf, out, FlowOptions(), workers=workers)
            seconds = time.perf_counter() - t0
        set_quiet(False)
        errs = []
        with SampleFile(out) as sf:
            for sid in by_id:
                errs.append(epe(sf.record(sid).array("flow"), by_id[sid]))
    errs = np.array(errs)
    return {
        "pairs": report.done,
        "seconds": seconds,
        "pairs_per_s": report.done / seconds,
        "processes": report.processes,
        "cv2_threads": report.cv2_threads,
        "epe_all": float(errs[:, 0].mean()),
        "epe_moving": float(np.nanmean(errs[:, 1])),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench-out", type=Path)
    ap.add_argument(
        "--synth", type=Path, help="synthetic dataset folder (default: OUT/synth, made if missing)"
    )
    ap.add_argument("--sizes", default="128,224")
    ap.add_argument("--repeat", type=int, default=10, help="copies of each pair in the stage run")
    ap.add_argument("--workers", type=int, default=0, help="flow-stage processes (0: one per core)")
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-tuning", action="store_true", help="skip the tuning table")
    args = ap.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.out.mkdir(parents=True, exist_ok=True)

    from mertool.env import require_tvl1
    from mertool.motion.optical_flow import FlowParams, preset

    require_tvl1()
    root, truth = ensure_synth(args.synth or args.out / "synth", args.subjects, args.clips, args.seed)
    cores = os.cpu_count() or 1
    results: dict = {"cores": cores, "sizes": {}}
    for size in (int(s) for s in args.sizes.split(",")):
        faces = ensure_faces(root, args.out, size)
        pairs = load_pairs(faces, truth, size)
        print(f"{size}x{size}: {len(pairs)} pairs", file=sys.stderr)
        r: dict = {"pairs": len(pairs)}
        r["baseline_1thread"] = time_method(pairs, preset("opencv-default"), 1)
        r["baseline_threads"] = time_method(pairs, preset("opencv-default"), cores)
        r["stage"] = run_stage(faces, pairs, args.repeat, args.workers)
        zero = np.array([epe(np.zeros_like(p["truth"]), p) for p in pairs])
        r["zero"] = {"epe_all": float(zero[:, 0].mean()), "epe_moving": float(np.nanmean(zero[:, 1]))}
        if not args.no_tuning:
            r["tuning"] = []
            for label, name, over in TUNING:
                params: FlowParams = preset(name).with_overrides(**over)
                if name == "opencv-default":
                    m = dict(r["baseline_1thread"])
                else:
                    m = time_method(pairs, params, 1)
                r["tuning"].append({"method": label, **m})
        results["sizes"][size] = r
        print(json.dumps({size: {k: v for k, v in r.items() if k != "tuning"}}, indent=1), file=sys.stderr)
    (args.out / "flow.json").write_text(json.dumps(results, indent=2))
    md = render(results, args.repeat)
    (args.out / "flow.md").write_text(md)
    print(md)
    return 0


def render(results: dict, repeat: int) -> str:
    lines = [
        "### Flow stage vs OpenCV TV-L1 defaults (synthetic CASME II clips, one run)",
        "",
        f"{results['cores']} cores. Baseline: OpenCV TV-L1 with default parameters on the onset -> apex pairs in "
        "one process (compute only). Ours: the whole `mertool flow` stage (HDF5 in and out, worker start-up "
        f"included), `micro` preset, one process per core, each pair {repeat} times. EPE: mean endpoint error "
        "(px of the aligned face) against the synthetic ground truth, whole face / inside the AU regions.",
        "",
        "| size | pairs | baseline 1 thread pairs/s | baseline all threads pairs/s | flow stage pairs/s | "
        "ratio vs 1 thread | ratio vs all threads | EPE all base / ours | EPE moving base / ours | zero-flow EPE moving |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, r in results["sizes"].items():
        b1, bt, st = r["baseline_1thread"], r["baseline_threads"], r["stage"]
        lines.append(
            f"| {size}x{size} | {r['pairs']} (x{repeat} in the stage) | {b1['pairs_per_s']:.1f} | {bt['pairs_per_s']:.1f} | "
            f"{st['pairs_per_s']:.1f} | {st['pairs_per_s'] / b1['pairs_per_s']:.1f}x | "
            f"{st['pairs_per_s'] / bt['pairs_per_s']:.1f}x | {b1['epe_all']:.3f} / {st['epe_all']:.3f} | "
            f"{b1['epe_moving']:.3f} / {st['epe_moving']:.3f} | {r['zero']['epe_moving']:.3f} |"
        )
    for size, r in results["sizes"].items():
        if "tuning" not in r:
            continue
        lines += [
            "",
            f"#### Flow settings at {size}x{size} (1 process, 1 OpenCV thread)",
            "",
            "| method | ms/pair | EPE all | EPE moving |",
            "|---|---|---|---|",
        ]
        for m in r["tuning"]:
            lines.append(
                f"| {m['method']} | {m['ms_per_pair']:.1f} | {m['epe_all']:.3f} | {m['epe_moving']:.3f} |"
            )
        lines.append(f"| zero flow | 0 | {r['zero']['epe_all']:.3f} | {r['zero']['epe_moving']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
