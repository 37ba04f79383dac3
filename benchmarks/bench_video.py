"""Spotting on synthetic long videos: MEGC F1, distractors spotted, and the per-frame speed.

    python benchmarks/bench_video.py [--out bench-out] [--subjects 4] [--duration 30] [--speed-size 640x480]
    make bench-video   (with --speed-size 640x480)

Makes a CAS(ME)^2-layout long-video set with ``mertool synth`` (seed 4242 and the photos the
tests never use for spotting: astronaut and bus; micro, macro and distractors), spots it with
each method, and reports per method: micro / macro / overall precision, recall and F1 (MEGC:
IoU >= 0.5, counts pooled over videos), how many spotted intervals overlap a distractor (blink,
head turn, light change) and no expression, and the frames per second of the whole ``spot``
path next to the JPEG decode rate of the same frames (the floor the per-frame path cannot beat)
and the real-time factors at 30 and 200 fps. Writes ``OUT/video.md`` and ``OUT/video.json``.

With ``--speed-size WxH`` (issue 16's speed question), a second pair of sets at that size, made
once under ``OUT/video-speed-WxH-*``: ``--speed-subjects`` x ``--speed-duration`` s at 30 fps
(CAS(ME)^2 layout) and one ``--speed-duration-200`` s video at 200 fps (SAMM layout, grey). On
each, in this one process (OpenCV on one thread, the dlib models loaded before any clock):
(a) JPEG decode alone (``cv2.imread``), (b) benchmarks/bench_face.py's naive per-frame dlib
script (HOG with upsample 1 on the whole frame and 68 landmarks, on ``--naive-frames`` frames
spread over the set), (c) the ``spot`` path (flow) on every frame, with its time split into
parts by wrapping their functions for the run (:data:`PARTS`), the calls per frame of each,
and the real-time factor at the set's rate. They go under ``speed`` in ``video.json`` and in a
second section of ``video.md``; the accuracy table above it is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def decode_rate(root: Path) -> float:
    """Frames per second decoding every JPEG under ``root`` once (one thread)."""
    import cv2

    cv2.setNumThreads(1)
    files = sorted(root.rglob("*.jpg"))
    t0 = time.perf_counter()
    for f in files:
        cv2.imread(str(f), cv2.IMREAD_COLOR)
    return len(files) / (time.perf_counter() - t0)


def distractor_hits(doc: dict, truth: dict) -> int:
    """Spotted intervals that overlap a distractor and no expression."""
    events = {}
    for v in truth["videos"]:
        events[v["video_dir"].split("/")[-1]] = v["events"]
    hits = 0
    for v in doc["videos"]:
        evs = events.get(v["id"].split("/")[-1], [])
        for i in v["intervals"]:
            over = [e for e in evs if i["onset"] <= e["offset"] and i["offset"] >= e["onset"]]
            if over and all(e["kind"] not in ("micro", "macro") for e in over):
                hits += 1
    return hits


# ------------------------------------------------------------------------------------------------
# speed at a camera's size (--speed-size)

#: The parts of the spot path, in its order, as the speed table names them; each is timed by
#: wrapping the spot path's functions for the run (see :meth:`PartTimer.patched`; exclusive: a
#: wrapped call inside another is taken out of the outer one's time, except ``warp`` inside the
#: registration, which stays the registration's). Wrapping adds about 10 calls of two
#: ``perf_counter`` reads per frame, microseconds against milliseconds.
PARTS = {
    "decode": "JPEG decode (mertool.face.sources.read_frame)",
    "detection": "face detection (HOG) on the first frame and at re-detections (FaceTracker.detect)",
    "landmarks": "68 landmarks per frame (dlib shape predictor, landmarks68)",
    "checks": "tracking checks (FaceTracker.update less the above: appearance patch, jump, scale)",
    "registration": "ECC registration (Registration, its warp and blur included)",
    "warp": "warp to the 128 x 128 aligned face (alignment.warp)",
    "features": "block features (spot_features: DIS flow t -> t-k and t -> t+k in both passes, displacement)",
    "spotting": "curves, thresholds, peaks, intervals (spot_faces less the features)",
    "other": "the rest (grey conversion, similarity fits, bookkeeping, JSON)",
}


class PartTimer:
    """Wall time per part of one spot run, by wrapping functions (see :data:`PARTS`)."""

    def __init__(self):
        self.seconds = {k: 0.0 for k in PARTS}
        self.calls = {k: 0 for k in PARTS}
        self._stack: list[list] = []  # [part, time spent in wrapped calls inside it]

    def wrap(self, part: str, fn, nested: bool = True):
        def timed(*a, **kw):
            if not nested and self._stack:
                return fn(*a, **kw)
            frame = [part, 0.0]
            self._stack.append(frame)
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                dt = time.perf_counter() - t0
                self._stack.pop()
                self.seconds[part] += dt - frame[1]
                self.calls[part] += 1
                if self._stack:
                    self._stack[-1][1] += dt

        return timed

    @contextmanager
    def patched(self):
        """The spot path's functions wrapped for the ``with`` block, restored after it."""
        import mertool.face.alignment as AL
        import mertool.face.sources as SO
        import mertool.face.tracking as TR
        import mertool.face.video as FV
        import mertool.motion.spot_features as SF
        import mertool.stages.spot as ST

        targets = [
            (SO, "read_frame", "decode", True),
            (TR.FaceTracker, "detect", "detection", True),
            (TR, "landmarks68", "landmarks", True),
            (TR.FaceTracker, "update", "checks", True),
            (FV.Registration, "__init__", "registration", True),
            (FV.Registration, "refine", "registration", True),
            (AL, "warp", "warp", False),
            (ST, "spot_faces", "spotting", True),
            (SF, "block_difference", "features", True),
            (SF, "neutral_displacement", "features", True),
        ]
        targets = [t for t in targets if t[1] in t[0].__dict__]
        saved = [(obj, name, obj.__dict__[name]) for obj, name, _, _ in targets]
        try:
            for obj, name, part, nested in targets:
                setattr(obj, name, self.wrap(part, obj.__dict__[name], nested))
            yield self
        finally:
            for obj, name, fn in saved:
                setattr(obj, name, fn)

    def finish(self, total: float) -> None:
        self.seconds["other"] = max(0.0, total - sum(v for k, v in self.seconds.items() if k != "other"))


def _speed_set(out: Path, name: str, cfg) -> tuple[Path, dict]:
    """A synthetic long-video set under ``out/name`` (made once per config; remade when the
    config differs): ``(release root, truth)``."""
    from dataclasses import asdict

    from mertool.synth.long_video import generate_long

    data = out / name
    want = {k: v for k, v in asdict(cfg).items() if k not in ("photos", "photo_dir")}
    truth_path = data / "long_truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    if truth is None or json.loads(json.dumps(want)) != truth.get("params"):
        print(f"making {data} ...", file=sys.stderr)
        generate_long(data, cfg, overwrite=True, progress=False)
        truth = json.loads(truth_path.read_text())
    return data / truth["root"], truth


def naive_rate(paths: list[Path]) -> tuple[float, int]:
    """(frames/s, faces found) of benchmarks/bench_face.py's naive per-frame dlib script (decode,
    HOG upsample 1 on the whole frame, 68 landmarks in the largest box) on ``paths``, in this
    process, models loaded before the clock starts."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_face import _naive

    from mertool.face.landmarks import hog_detector, shape_predictor

    hog_detector(), shape_predictor()
    t0 = time.perf_counter()
    found, _cpu = _naive([str(p) for p in paths])
    return len(paths) / (time.perf_counter() - t0), found


def spot_timed(root: Path, out_json: Path, method: str = "flow") -> dict:
    """One timed spot run of ``root``: frames, seconds, frames/s, seconds per part, scores."""
    from mertool.stages.spot import SpotOptions, run

    timer = PartTimer()
    with timer.patched():
        res = run(root, out_json, SpotOptions(method=method), evaluate_truth=True)
    timer.finish(res.seconds)
    return {
        "frames": res.frames,
        "seconds": round(res.seconds, 2),
        "frames_per_s": round(res.frames / res.seconds, 1),
        "parts_s": {k: round(v, 3) for k, v in timer.seconds.items()},
        "parts_calls": dict(timer.calls),
        "overall_f1": res.scores["overall"]["f1"] if res.scores else None,
    }


def speed_section(out: Path, size: tuple[int, int], args) -> dict:
    """Decode, the naive script and the spot path on a ``size`` set at 30 fps and one at 200 fps."""
    from mertool.face.landmarks import hog_detector, shape_predictor
    from mertool.synth.long_video import LongSynthConfig

    tag = f"{size[0]}x{size[1]}"
    sets = {
        "30fps": LongSynthConfig(
            layout="casme2sq-long", subjects=args.speed_subjects, duration_s=args.speed_duration, seed=args.seed,
            size=size, micro=4, macro=2, blinks=3, head_turns=1, light_changes=1, photos=("astronaut", "bus"),
        ),
        "200fps": LongSynthConfig(
            layout="samm-long", subjects=1, duration_s=args.speed_duration_200, seed=args.seed, size=size,
            micro=2, macro=0, blinks=1, head_turns=0, light_changes=0, photos=("astronaut",),
        ),
    }  # fmt: skip
    roots = {k: _speed_set(out, f"video-speed-{tag}-{k}", cfg) for k, cfg in sets.items()}
    files = {k: sorted(r.rglob("*.jpg")) for k, (r, _) in roots.items()}
    hog_detector(), shape_predictor()  # models loaded before any clock, as for the naive script
    result: dict = {"size": tag, "seed": args.seed, "sets": {}}
    for k, (root, truth) in roots.items():
        cfg = sets[k]
        fps = float(truth["fps"])
        decode = decode_rate(root)
        step = max(1, len(files[k]) // args.naive_frames)
        naive_fps, found = naive_rate(files[k][::step][: args.naive_frames])
        spot = spot_timed(root, out / f"video-speed-{k}.json")
        n = spot["frames"]
        result["sets"][k] = {
            "layout": cfg.layout, "videos": len(truth["videos"]), "duration_s": cfg.duration_s, "fps": fps,
            "grey": cfg.layout == "samm-long", "frames": n,
            "decode_frames_per_s": round(decode, 1),
            "naive_frames_per_s": round(naive_fps, 2), "naive_frames": min(args.naive_frames, len(files[k][::step])),
            "naive_faces_found": found,
            "spot": spot,
            "spot_vs_naive": round(spot["frames_per_s"] / naive_fps, 1),
            "spot_vs_decode": round(spot["frames_per_s"] / decode, 3),
            "ms_per_frame": {p: round(1000 * s / n, 2) for p, s in spot["parts_s"].items()},
            "realtime": round(spot["frames_per_s"] / fps, 3),
        }  # fmt: skip
    return result


def speed_lines(speed: dict) -> list[str]:
    s30, s200 = speed["sets"]["30fps"], speed["sets"]["200fps"]
    lines = [
        "",
        f"## Speed at {speed['size']} (one process, OpenCV on one thread; timed under load on a shared 2-core machine)",
        "",
        f"Sets: {s30['videos']} x {s30['duration_s']:.0f} s at 30 fps (CAS(ME)^2 layout, colour) and "
        f"{s200['videos']} x {s200['duration_s']:.0f} s at 200 fps (SAMM layout, grey), seed {speed['seed']}. "
        "Every number below comes from this one run; compare them with each other, not across runs.",
        "",
        "| | 30 fps set | 200 fps set |",
        "|---|---|---|",
        f"| frames | {s30['frames']} | {s200['frames']} |",
        f"| (a) JPEG decode alone, frames/s (cv2.imread, one thread) | {s30['decode_frames_per_s']:.0f} | "
        f"{s200['decode_frames_per_s']:.0f} |",
        f"| (b) naive per-frame dlib script, frames/s (decode, HOG upsample 1 on the whole frame, 68 landmarks; "
        f"{s30['naive_frames']} / {s200['naive_frames']} frames) | {s30['naive_frames_per_s']:.2f} | "
        f"{s200['naive_frames_per_s']:.2f} |",
        f"| (c) spot path, frames/s (`mertool spot`, flow: decode, track, register, warp, features, spotting) | "
        f"**{s30['spot']['frames_per_s']:.1f}** | **{s200['spot']['frames_per_s']:.1f}** |",
        f"| (c) / (b) | {s30['spot_vs_naive']:.0f}x | {s200['spot_vs_naive']:.0f}x |",
        f"| (c) / (a) | {s30['spot_vs_decode']:.2f} | {s200['spot_vs_decode']:.2f} |",
        f"| real-time factor of (c) at the set's rate (above 1: faster than real time) | "
        f"**{s30['realtime']:.2f}** at 30 fps | **{s200['realtime']:.3f}** at 200 fps |",
        "",
        "Where the spot path's time goes (ms per frame; each part timed by wrapping its functions for the run):",
        "",
        "| part | 30 fps set | share | 200 fps set | share |",
        "|---|---|---|---|---|",
    ]
    t30 = sum(s30["ms_per_frame"].values())
    t200 = sum(s200["ms_per_frame"].values())
    for p, what in PARTS.items():
        a, b = s30["ms_per_frame"][p], s200["ms_per_frame"][p]
        lines.append(f"| {what} | {a:.2f} | {100 * a / t30:.0f} % | {b:.2f} | {100 * b / t200:.0f} % |")
    lines.append(f"| total | {t30:.2f} | 100 % | {t200:.2f} | 100 % |")

    def per_frame(s: dict, part: str) -> str:
        return f"{s['spot']['parts_calls'][part] / s['frames']:.2f}"

    lines += [
        "",
        f"Work per frame, which load does not change (30 fps / 200 fps set): landmark fits "
        f"{per_frame(s30, 'landmarks')} / {per_frame(s200, 'landmarks')}, detections {s30['spot']['parts_calls']['detection']} "
        f"/ {s200['spot']['parts_calls']['detection']} in all, registrations {per_frame(s30, 'registration')} / "
        f"{per_frame(s200, 'registration')}, decodes {per_frame(s30, 'decode')} / {per_frame(s200, 'decode')}.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--methods", default="flow,lbp", help="methods of the accuracy table ('' for none)")
    ap.add_argument(
        "--speed-size",
        default=None,
        metavar="WxH",
        help="also time the spot path, the naive dlib script and JPEG decode at this frame size (make: 640x480)",
    )
    ap.add_argument("--speed-subjects", type=int, default=2, help="videos of the 30 fps speed set")
    ap.add_argument("--speed-duration", type=float, default=20.0, help="seconds per 30 fps speed video")
    ap.add_argument(
        "--speed-duration-200", type=float, default=5.0, help="seconds of the 200 fps speed video"
    )
    ap.add_argument(
        "--naive-frames", type=int, default=40, help="frames per speed set the naive script runs on"
    )
    args = ap.parse_args(argv)
    speed_size = None
    if args.speed_size:
        try:
            w, h = (int(v) for v in args.speed_size.lower().split("x"))
        except ValueError:
            ap.error(f"--speed-size {args.speed_size!r} is not WxH (e.g. 640x480)")
        speed_size = (w, h)

    from mertool.console import set_quiet
    from mertool.stages.spot import SpotOptions, run
    from mertool.synth.long_video import LongSynthConfig, generate_long

    set_quiet(True)
    out = Path(args.out)
    data = out / "video-data"
    cfg = LongSynthConfig(
        layout="casme2sq-long", subjects=args.subjects, duration_s=args.duration, seed=args.seed,
        micro=5, macro=2, blinks=4, head_turns=2, light_changes=1, photos=("astronaut", "bus"),
    )  # fmt: skip
    if not (data / "long_truth.json").exists():
        generate_long(data, cfg, overwrite=True, progress=False)
    truth = json.loads((data / "long_truth.json").read_text())
    root = data / "CASME_sq"
    decode = decode_rate(root)
    rows = {}
    for method in [m for m in args.methods.split(",") if m]:
        res = run(root, out / f"video-{method}.json", SpotOptions(method=method), evaluate_truth=True)
        doc = json.loads((out / f"video-{method}.json").read_text())
        fps = res.frames / res.seconds
        rows[method] = {
            "scores": {k: res.scores[k] for k in ("micro", "macro", "overall")},
            "distractor_hits": distractor_hits(doc, truth),
            "frames": res.frames,
            "seconds": round(res.seconds, 2),
            "frames_per_s": round(fps, 1),
            "realtime_30fps": round(fps / 30.0, 2),
            "realtime_200fps": round(fps / 200.0, 3),
        }
    counts: dict[str, int] = {}
    for v in truth["videos"]:
        for e in v["events"]:
            counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    report = {
        "set": {"layout": cfg.layout, "subjects": cfg.subjects, "duration_s": cfg.duration_s, "seed": cfg.seed,
                "photos": list(cfg.photos), "events": counts},
        "decode_frames_per_s": round(decode, 1),
        "methods": rows,
    }  # fmt: skip
    if speed_size is not None:
        report["speed"] = speed_section(out, speed_size, args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "video.json").write_text(json.dumps(report, indent=1) + "\n")

    def f(x):
        return "—" if x is None else f"{x:.3f}"

    lines = [
        f"# Spotting on synthetic long videos ({cfg.subjects} x {cfg.duration_s:.0f} s, 30 fps, seed {cfg.seed}, "
        f"photos {', '.join(cfg.photos)}; events: {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})",
        "",
        "| method | micro P | micro R | micro F1 | macro F1 | overall F1 | distractors spotted | frames/s | x real time at 30 / 200 fps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m, r in rows.items():
        s = r["scores"]
        lines.append(
            f"| {m} | {f(s['micro']['precision'])} | {f(s['micro']['recall'])} | {f(s['micro']['f1'])} | "
            f"{f(s['macro']['f1'])} | {f(s['overall']['f1'])} | {r['distractor_hits']} | {r['frames_per_s']} | "
            f"{r['realtime_30fps']} / {r['realtime_200fps']} |"
        )
    lines += ["", f"JPEG decode alone: {decode:.0f} frames/s (one thread)."]
    if speed_size is not None:
        lines += speed_lines(report["speed"])
    (out / "video.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
