"""Face stage speed: detect-faces + crop-rois against a naive per-frame dlib script, in one run.

    python benchmarks/bench_face.py [--out bench-out] [--workers 2] [--naive-frames 400]   (make bench-face)

On the synthetic CASME II clips of ``mertool synth`` (made once under ``OUT/synth`` and shared
with the other benchmarks; 24 clips, about 1,200 frames of 320x240), measured in this one run:

(a) **naive**: what a per-frame script does: decode the JPEG, dlib HOG with upsample 1 on the
    full frame, the 68-point shape predictor in the best box; ``--workers`` processes, models
    loaded before the clock starts (which favours the naive script); on ``--naive-frames``
    frames spread over every clip (the rate is per frame, so a subset measures it);
(b) **ours**: ``detect-faces`` then ``crop-rois`` (every region set, onset/middle/apex) on every
    frame of every clip, exactly as the commands run them: worker start-up, model loading and
    HDF5 writing included;
(c) **decode**: OpenCV decoding the same JPEGs (``cv2.imread``) on ``--workers`` processes, the
    floor any pipeline pays.

Prints frames/s of each, the ratios (b)/(a) and (b)/(c), and peak resident memory (this
process, and the largest worker), and writes ``OUT/face.md`` and ``OUT/face.json``.

Guards (for ``make bench-face FACE_BENCH_ARGS=...``): (b)'s CPU time per frame is split into its
parts (detect-faces workers, detect-faces parent, crop-rois, process start-up), and
``--max-cpu-ms-per-frame MS`` exits with status 1 when the total exceeds MS. CPU time is not
load-free: on this 2-core machine, shared with other work, the same dlib landmark predictor
calls on the same frames in a tight loop measured 1.1 and 3.5 CPU ms per call a few minutes
apart, and (b) as a whole 4.4 to 6.3 ms per frame in four runs of unchanged code (9.3 in a
more loaded one), so a limit must leave room for the load. The **work counts** need no such room: on the first
``--count-clips`` clips, in one process under cProfile, the calls per frame of the landmark
predictor, the face detector, image decoding and warping are counted, and the run fails when one
is over :data:`WORK_BUDGET` (an extra decode, a detector on every frame, a second predictor call
per frame show there whatever the load).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


#: Most calls per frame of each step of (b) (per clip for the detector), from its design: one
#: predictor call per frame plus two per detection; one detection per clip plus re-detections of
#: lost faces; every frame decoded once plus crop-rois' three source frames per clip; one warp to
#: the aligned face and one appearance patch per frame plus crop-rois' cuts. Measured on the
#: synthetic set: 1.02, 1.02, 1.06 and 3.43.
WORK_BUDGET = {
    "predictor_per_frame": 1.1,
    "detector_per_clip": 1.5,
    "decodes_per_frame": 1.15,
    "warps_per_frame": 4.0,
}


def ensure_synth(synth: Path, subjects: int, clips: int, seed: int) -> Path:
    """The synthetic CASME II root under ``synth`` (made once, shared with bench_flow/bench_apex)."""
    from mertool.synth import SynthConfig, generate

    root = synth / "CASME2"
    if (synth / "synth_truth.h5").exists() and root.is_dir():
        return root
    print(f"making the synthetic dataset in {synth} ...", file=sys.stderr)
    generate(
        synth,
        SynthConfig(layout="casme2", subjects=subjects, clips_per_subject=clips, seed=seed),
        overwrite=True,
    )
    return root


# --- workers (module level: spawned processes import them) ---------------------------------------


def _init(naive: bool) -> None:
    import cv2

    cv2.setNumThreads(1)
    if naive:
        from mertool.face.landmarks import hog_detector, shape_predictor

        hog_detector()
        shape_predictor()


def _decode(paths: list[str]) -> tuple[int, float]:
    import cv2

    c0 = time.process_time()
    for p in paths:
        if cv2.imread(p) is None:
            raise RuntimeError(f"cannot decode {p}")
    return len(paths), time.process_time() - c0


def _naive(paths: list[str]) -> tuple[int, float]:
    """The naive script: every frame decoded, HOG (upsample 1) on the whole frame, 68 landmarks."""
    import cv2
    import dlib

    from mertool.face.landmarks import hog_detector, shape_predictor

    detector, predictor = hog_detector(), shape_predictor()
    c0 = time.process_time()
    found = 0
    for p in paths:
        gray = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY)
        rects = detector(gray, 1)
        if len(rects):
            best = max(rects, key=lambda r: r.width() * r.height())
            shape = predictor(gray, dlib.rectangle(best.left(), best.top(), best.right(), best.bottom()))
            _ = [(q.x, q.y) for q in shape.parts()]
            found += 1
    return found, time.process_time() - c0


def _noop(_: int) -> int:
    return 0


def parallel_rate(fn, paths: list[str], workers: int, naive: bool) -> tuple[float, int, float]:
    """(frames/s, result sum, CPU seconds) of ``fn`` over ``paths`` split across ``workers``
    spawned processes, timed after the workers have started (and loaded their models)."""
    ctx = mp.get_context("spawn")
    chunks = [paths[i::workers] for i in range(workers)]
    with ctx.Pool(workers, initializer=_init, initargs=(naive,)) as pool:
        pool.map(_noop, range(workers * 4))  # every worker up and initialised
        t0 = time.perf_counter()
        parts = pool.map(fn, chunks, chunksize=1)
        dt = time.perf_counter() - t0
    return len(paths) / dt, sum(n for n, _ in parts), sum(c for _, c in parts)


def _ours_child(root: str, workers: int, conn) -> None:
    """detect-faces + crop-rois in a fresh process, so its peak memory is its own."""
    os.environ["MERTOOL_QUIET"] = "1"
    from mertool.console import set_quiet
    from mertool.stages.crop_rois import run as crop_rois
    from mertool.stages.detect_faces import run as detect_faces

    set_quiet(True)
    with tempfile.TemporaryDirectory(prefix="bench-face-") as tmp:
        c0 = time.process_time()  # what the interpreter start and the imports cost
        t0 = time.perf_counter()
        faces = detect_faces(root, Path(tmp) / "faces.h5", workers=workers)
        c1 = time.process_time()
        t1 = time.perf_counter()
        rois = crop_rois(Path(tmp) / "faces.h5", Path(tmp) / "rois.h5")
        c2 = time.process_time()
        t2 = time.perf_counter()
        sizes = {p.name: p.stat().st_size for p in Path(tmp).glob("*.h5")}
        parent_cpu = time.process_time() - c0
    conn.send(
        {
            "frames": faces.frames,
            "clips_ok": faces.done,
            "clips_failed": len(faces.failed) + len(rois.failed),
            "redetected_clips": len(faces.redetected),
            "detect_s": t1 - t0,
            "crop_s": t2 - t1,
            "cpu_s": float("nan"),  # filled in by the parent from the whole process tree
            "parent_cpu_s": parent_cpu,
            "startup_cpu_s": c0,
            "detect_parent_cpu_s": c1 - c0,
            "crop_cpu_s": c2 - c1,
            "parent_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "file_mb": {k: v / 2**20 for k, v in sizes.items()},
        }
    )
    conn.close()


def _tree_cpu(pid: int, stop, totals: dict, rss: dict) -> None:
    """Poll the CPU time (user + system) and resident memory of process ``pid`` and all its
    descendants every 50 ms until ``stop`` is set (the forkserver and the workers forked from it
    are not its waited-for children, so ``getrusage(RUSAGE_CHILDREN)`` misses them): keeps each
    process's last CPU reading and largest memory reading."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                t = p.cpu_times()
                totals[p.pid] = t.user + t.system
                if p.pid != pid:
                    rss[p.pid] = max(rss.get(p.pid, 0.0), p.memory_info().rss / 2**20)
            except psutil.Error:
                pass
        stop.wait(0.05)


def run_ours(root: Path, workers: int) -> dict:
    import threading

    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_ours_child, args=(str(root), workers, send))
    proc.start()
    stop, totals, rss = threading.Event(), {}, {}
    try:
        import psutil  # noqa: F401  (installed with ultralytics)

        monitor = threading.Thread(target=_tree_cpu, args=(proc.pid, stop, totals, rss), daemon=True)
        monitor.start()
    except ImportError:
        monitor = None
    result = recv.recv()
    stop.set()
    if monitor is not None:
        monitor.join()
        result["cpu_s"] = sum(totals.values())
        # the forkserver and the workers forked from it run detect-faces' clips, nothing else
        result["detect_workers_cpu_s"] = sum(v for p, v in totals.items() if p != proc.pid)
        result["worker_peak_mb"] = max(rss.values(), default=float("nan"))
        result["processes"] = len(totals)
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"the detect-faces + crop-rois run failed (exit {proc.exitcode})")
    return result


def cpu_parts(ours: dict, frames: int) -> dict[str, float]:
    """(b)'s CPU ms per frame, part by part (their sum is (b)'s total)."""
    parts = {
        "detect-faces workers (model loading, decode, tracking, alignment, warps)": ours.get(
            "detect_workers_cpu_s", float("nan")
        ),
        "detect-faces parent (dataset, frame hashes, HDF5 writing)": ours["detect_parent_cpu_s"],
        "crop-rois (source frames, cuts, HDF5)": ours["crop_cpu_s"],
        "process start-up (interpreter, imports)": ours["startup_cpu_s"],
    }
    return {k: 1000 * v / frames for k, v in parts.items()}


def work_counts(root: Path, clips: int) -> dict:
    """Calls per frame of the costly steps of (b) on the first ``clips`` clips, counted under
    cProfile in this process (one worker: the same per-clip code as the workers run); the
    counts do not depend on the machine or its load."""
    import cProfile
    import pstats

    from mertool.console import set_quiet
    from mertool.stages.crop_rois import run as crop_rois
    from mertool.stages.detect_faces import run as detect_faces

    set_quiet(True)
    with tempfile.TemporaryDirectory(prefix="bench-face-count-") as tmp:
        prof = cProfile.Profile()
        prof.enable()
        faces = detect_faces(root, Path(tmp) / "faces.h5", workers=1, limit=clips)
        crop_rois(Path(tmp) / "faces.h5", Path(tmp) / "rois.h5")
        prof.disable()
    calls = {"predictor": 0, "detector": 0, "decodes": 0, "warps": 0}
    for (file, _, name), (_, ncalls, *_rest) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        if name == "landmarks68" and file.endswith("landmarks.py"):
            calls["predictor"] += ncalls
        elif "_dlib_pybind11.run" in name or "fhog_object_detector" in name:
            calls["detector"] += ncalls
        elif "imdecode" in name or "imread" in name:
            calls["decodes"] += ncalls
        elif "warpAffine" in name:
            calls["warps"] += ncalls
    n, k = max(faces.frames, 1), max(faces.done, 1)
    return {
        "clips": faces.done,
        "frames": faces.frames,
        "calls": calls,
        "predictor_per_frame": calls["predictor"] / n,
        "detector_per_clip": calls["detector"] / k,
        "decodes_per_frame": calls["decodes"] / n,
        "warps_per_frame": calls["warps"] / n,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench-out", type=Path)
    ap.add_argument("--data", type=Path, help="a dataset root to use instead of the synthetic set")
    ap.add_argument("--workers", type=int, default=2, help="processes for every contender (default 2)")
    ap.add_argument("--naive-frames", type=int, default=400, help="frames the naive script runs on")
    # ~4,800 frames: enough that the stage's fixed start-up (~1 s: worker server, 95 MB landmark
    # model) no longer dominates, as it would not on any real dataset (CASME II: ~18,000 frames)
    ap.add_argument("--subjects", type=int, default=12)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-cpu-ms-per-frame",
        type=float,
        metavar="MS",
        help="exit with status 1 when (b) costs more CPU ms per frame (all its processes)",
    )
    ap.add_argument("--count-clips", type=int, default=4, help="clips the work counts are taken on (0: none)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from mertool.datasets import open_dataset

    root = args.data or ensure_synth(args.out / "synth", args.subjects, args.clips, args.seed)
    read = open_dataset(root)
    paths = [str(p) for s in read.samples for p in s.frames]
    step = max(1, len(paths) // args.naive_frames)
    naive_paths = paths[::step][: args.naive_frames]
    import cv2

    h, w = cv2.imread(paths[0]).shape[:2]
    load_before = os.getloadavg()[0]
    print(
        f"{len(read.samples)} clips, {len(paths)} frames of {w}x{h}; {args.workers} processes each; "
        f"load average {load_before:.1f} on {os.cpu_count()} cores",
        file=sys.stderr,
    )

    decode_fps, _, decode_cpu = parallel_rate(_decode, paths, args.workers, naive=False)
    print(f"(c) decode: {decode_fps:.0f} frames/s", file=sys.stderr)
    naive_fps, naive_found, naive_cpu = parallel_rate(_naive, naive_paths, args.workers, naive=True)
    print(f"(a) naive:  {naive_fps:.1f} frames/s ({naive_found}/{len(naive_paths)} faces)", file=sys.stderr)
    t0 = time.perf_counter()
    ours = run_ours(root, args.workers)
    ours_s = time.perf_counter() - t0
    ours_fps = len(paths) / ours_s
    print(f"(b) ours:   {ours_fps:.0f} frames/s", file=sys.stderr)
    load_after = os.getloadavg()[0]
    counts = work_counts(root, args.count_clips) if args.count_clips > 0 else None

    result = {
        "clips": len(read.samples),
        "frames": len(paths),
        "frame_size": [w, h],
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "naive_fps": naive_fps,
        "naive_frames": len(naive_paths),
        "ours_fps": ours_fps,
        "ours_seconds": ours_s,
        "decode_fps": decode_fps,
        "ratio_vs_naive": ours_fps / naive_fps,
        "ratio_vs_decode": ours_fps / decode_fps,
        "naive_cpu_ms_per_frame": 1000 * naive_cpu / len(naive_paths),
        "ours_cpu_ms_per_frame": 1000 * ours["cpu_s"] / len(paths),
        "decode_cpu_ms_per_frame": 1000 * decode_cpu / len(paths),
        "bench_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **{f"ours_{k}": v for k, v in ours.items()},
        "ours_cpu_ms_per_frame_parts": cpu_parts(ours, len(paths)),
        "work_counts": counts,
        "work_budget": WORK_BUDGET,
    }
    cpu_n, cpu_o, cpu_d = (
        result["naive_cpu_ms_per_frame"],
        result["ours_cpu_ms_per_frame"],
        result["decode_cpu_ms_per_frame"],
    )
    result["cpu_ratio_vs_naive"] = cpu_n / cpu_o
    result["cpu_ratio_vs_decode"] = cpu_d / cpu_o
    lines = [
        "# Face stage benchmark (detect-faces + crop-rois)",
        "",
        f"{result['clips']} synthetic clips, {result['frames']} frames of {w}x{h} (JPEG); "
        f"{args.workers} processes for every contender; {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before / {load_after:.1f} after (other work on the machine "
        "slows every contender).",
        "",
        "| contender | frames/s | vs naive | vs decode | CPU ms/frame | vs naive (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| (a) naive: per frame decode + dlib HOG (upsample 1) + 68 landmarks | {naive_fps:.1f} | 1.0x | "
        f"{naive_fps / decode_fps:.3f} | {cpu_n:.1f} | 1.0x |",
        f"| (b) mertool detect-faces + crop-rois (all region sets, 3 frames) | {ours_fps:.0f} | "
        f"**{result['ratio_vs_naive']:.1f}x** | {result['ratio_vs_decode']:.2f} | {cpu_o:.2f} | "
        f"**{result['cpu_ratio_vs_naive']:.1f}x** |",
        f"| (c) OpenCV JPEG decode only (the floor) | {decode_fps:.0f} | {decode_fps / naive_fps:.1f}x | 1.00 | "
        f"{cpu_d:.2f} | {cpu_n / cpu_d:.1f}x |",
        "",
        "frames/s are wall-clock rates with every contender on the same number of processes; CPU "
        "ms/frame add up the CPU time of every process of a contender (for (b): the parent, which "
        "writes the HDF5 files and runs crop-rois, and its workers, start-up included), which "
        "other work on a shared machine disturbs far less than the wall clock.",
        "",
        f"(b) in detail: detect-faces {ours['detect_s']:.1f} s, crop-rois {ours['crop_s']:.1f} s "
        "(worker start-up, model loading and HDF5 writing included); "
        f"{ours['clips_ok']} clips ok, {ours['clips_failed']} failed, "
        f"{ours['redetected_clips']} needed a re-detection. "
        f"Output files: {', '.join(f'{k} {v:.1f} MB' for k, v in ours['file_mb'].items())}.",
        "",
        "(b)'s CPU time per frame, part by part:",
        "",
        "| part | CPU ms/frame |",
        "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in result["ours_cpu_ms_per_frame_parts"].items()],
        f"| total | {cpu_o:.2f} |",
        "",
        *(
            [
                f"Work counts on the first {counts['clips']} clips ({counts['frames']} frames; "
                "the same on any machine under any load), against the budget: "
                + ", ".join(
                    f"{k.replace('_', ' ')} {counts[k]:.2f} (at most {b})" for k, b in WORK_BUDGET.items()
                )
                + ".",
                "",
            ]
            if counts
            else []
        ),
        f"Peak resident memory: detect-faces/crop-rois parent {ours['parent_peak_mb']:.0f} MB, "
        f"largest other process (forkserver or worker, sampled every 50 ms) {ours.get('worker_peak_mb', float('nan')):.0f} MB; "
        "this benchmark process "
        f"{result['bench_peak_mb']:.0f} MB.",
        "",
    ]
    (args.out / "face.md").write_text("\n".join(lines))
    (args.out / "face.json").write_text(json.dumps(result, indent=2))
    print("\n".join(lines))
    print(
        f"ratio ours/naive {result['ratio_vs_naive']:.1f}x (CPU {result['cpu_ratio_vs_naive']:.1f}x), "
        f"ours/decode {result['ratio_vs_decode']:.2f}; "
        f"wrote {args.out / 'face.md'}",
        file=sys.stderr,
    )
    problems = guard_problems(result, args.max_cpu_ms_per_frame)
    for problem in problems:
        print(f"bench-face guard: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    return result


def guard_problems(result: dict, max_cpu_ms: float | None) -> list[str]:
    """What is over its limit: the work budget (always, when counted) and ``max_cpu_ms``."""
    problems = []
    counts = result.get("work_counts")
    if counts:
        for key, most in WORK_BUDGET.items():
            if counts[key] > most:
                problems.append(
                    f"{key.replace('_', ' ')} is {counts[key]:.2f}, over its budget of {most} "
                    "(a change in the work the face stage does: see WORK_BUDGET in benchmarks/bench_face.py)"
                )
    if max_cpu_ms is not None and result["ours_cpu_ms_per_frame"] > max_cpu_ms:
        parts = "; ".join(f"{k} {v:.2f}" for k, v in result["ours_cpu_ms_per_frame_parts"].items())
        problems.append(
            f"detect-faces + crop-rois cost {result['ours_cpu_ms_per_frame']:.2f} CPU ms per frame, over "
            f"--max-cpu-ms-per-frame {max_cpu_ms:g} (load average {result['load_average'][0]:.1f} on "
            f"{result['cores']} cores; parts: {parts})"
        )
    return problems


if __name__ == "__main__":
    main()
