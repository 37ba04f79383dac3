"""Spotting on synthetic long videos: MEGC F1, distractors spotted, and the per-frame speed.

    python benchmarks/bench_video.py [--out bench-out] [--subjects 4] [--duration 30]   (make bench-video)

Makes a CAS(ME)^2-layout long-video set with ``mertool synth`` (seed 4242 and the photos the
tests never use for spotting: astronaut and bus; micro, macro and distractors), spots it with
each method, and reports per method: micro / macro / overall precision, recall and F1 (MEGC:
IoU >= 0.5, counts pooled over videos), how many spotted intervals overlap a distractor (blink,
head turn, light change) and no expression, and the frames per second of the whole ``spot``
path next to the JPEG decode rate of the same frames (the floor the per-frame path cannot beat)
and the real-time factors at 30 and 200 fps. Writes ``OUT/video.md`` and ``OUT/video.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--methods", default="flow,lbp")
    args = ap.parse_args(argv)

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
    for method in args.methods.split(","):
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
    (out / "video.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
