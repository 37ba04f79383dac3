"""Recognition benchmark: paper models and hand-crafted baselines, LOSO on held-out synthetic data.

Makes a synthetic micro-expression set with ``mertool synth`` from a seed and a subject count that
no test and no default uses (8 subjects x 12 clips, seed 4242 unless told), runs the stages
(``detect-faces | spot-apex | flow``; flow straight after spot-apex keeps the aligned frames, so
one file serves the flow models and LBP-TOP), then ``mertool eval-loso`` for every contender with
its defaults and, where it has one, with its paper preset (protocol set to ``loso``: one dataset).
Each run is a real CLI process with ``--resume`` (an interrupted benchmark continues where it
stopped); the table reports pooled UF1 and UAR, the subject-bootstrap 95 % interval of UF1, and
the training time summed over the folds (each fold's own seconds, as ``summary.json`` records
them, so it does not depend on how many folds ran side by side).

Writes ``bench-out/recognition.md`` and ``recognition.json``. Usage::

    python benchmarks/bench_recognition.py [--subjects 8] [--clips 12] [--seed 4242]
        [--models dfr-net,off-apexnet,...|default|all] [--presets] [--workers 0]

``default`` is every model that trains in minutes on a 2-core CPU; ``all`` adds the ImageNet-size
networks (ResNet-50 family, ABN, dual-branch at 224 px), hours each on such a machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MERTOOL = str(Path(sys.executable).with_name("mertool"))

#: name -> (arch, extra eval-loso arguments, input file key); "frames" = the file with aligned frames
CONTENDERS = {
    "lbp-top-svm": ("lbp-top-svm", [], "flow"),
    "bi-woof-svm": ("bi-woof-svm", [], "flow"),
    "hoof-svm": ("hoof-svm", [], "flow"),
    "hoof-svm (mdmo)": ("hoof-svm", ["--opt", "variant=mdmo"], "flow"),
    "ststnet": ("ststnet", [], "flow"),
    "off-apexnet": ("off-apexnet", [], "flow"),
    "dfr-net": ("dfr-net", [], "flow"),
}
#: the networks at ImageNet size: hours per LOSO on 2 CPU cores, so only with --models all
LARGE = {
    "resnet-abn": ("resnet-abn", [], "rois"),
    "dual-branch": ("dual-branch", [], "rois"),
    "se-resnext50": ("se-resnext50", [], "rois"),
    "se-resnet50": ("se-resnet50", [], "rois"),
}
#: contender -> its paper preset (run with --protocol loso on top)
PRESETS = {"dfr-net": "dfr-net-004", "resnet-abn": "abn-001", "dual-branch": "dual-branch-002",
           "se-resnext50": "se-resnext50-003", "se-resnet50": "se-resnet50-000"}  # fmt: skip


def run(cmd: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def make_data(out: Path, subjects: int, clips: int, seed: int, log: Path) -> dict[str, Path]:
    data = out / "recognition-data"
    files = {"flow": data / "flow.h5", "rois": data / "rois.h5"}
    if files["flow"].is_file():
        return files
    run([MERTOOL, "-q", "synth", str(data / "synth"), "--subjects", str(subjects), "--clips-per-subject",
         str(clips), "--seed", str(seed), "--overwrite"], log)  # fmt: skip
    apex = data / "apex.h5"
    run([MERTOOL, "-q", "detect-faces", str(data / "synth" / "CASME2"), "-o", str(data / "faces.h5")], log)
    run([MERTOOL, "-q", "spot-apex", str(data / "faces.h5"), "-o", str(apex)], log)
    run([MERTOOL, "-q", "flow", str(apex), "-o", str(files["flow"])], log)
    run([MERTOOL, "-q", "crop-rois", str(apex), "-o", str(files["rois"])], log)
    return files


def evaluate(name: str, arch: str, extra: list[str], src: Path, res: Path, preset: str | None,
             workers: int, log: Path) -> dict:  # fmt: skip
    cmd = [MERTOOL, "-q", "eval-loso", str(src), "--arch", arch, "--label-map", "megc2019", "--no-plots",
           "-o", str(res), "--workers", str(workers), "--resume", *extra]  # fmt: skip
    if preset:
        cmd += ["--preset", preset, "--protocol", "loso"]
    run(cmd, log)
    s = json.loads((res / "summary.json").read_text())
    seconds = sum(f.get("seconds") or 0.0 for f in s["per_fold"])
    return {
        "model": name,
        "setting": f"preset {preset}" if preset else "defaults",
        "uf1": s["uf1"],
        "uar": s["uar"],
        "ci_uf1": s["ci"]["uf1"],
        "seconds": seconds,
        "command": "mertool eval-loso FLOW " + " ".join(cmd[cmd.index("--arch") :]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--models", default="default")
    ap.add_argument("--presets", action="store_true", help="also run each model's paper preset")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "recognition.log"
    pool = {**CONTENDERS, **LARGE}
    names = (
        list(CONTENDERS) if args.models == "default" else list(pool) if args.models == "all"
        else [m.strip() for m in args.models.split(",")]
    )  # fmt: skip
    files = make_data(out, args.subjects, args.clips, args.seed, log)
    rows = []
    for name in names:
        arch, extra, key = pool[name]
        settings = [None] + ([PRESETS[name]] if args.presets and name in PRESETS else [])
        for preset in settings:
            tag = name.replace(" ", "_").replace("(", "").replace(")", "") + (f"_{preset}" if preset else "")
            res = out / "recognition-results" / tag
            row = evaluate(name, arch, extra, files[key], res, preset, args.workers, log)
            rows.append(row)
            print(f"{row['model']:<18} {row['setting']:<22} UF1 {row['uf1']:.4f} UAR {row['uar']:.4f} "
                  f"{row['seconds']:.0f} s", flush=True)  # fmt: skip
    meta = {
        "data": f"mertool synth --subjects {args.subjects} --clips-per-subject {args.clips} --seed {args.seed}",
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    (out / "recognition.json").write_text(json.dumps(meta, indent=1))
    lines = [
        "# Recognition benchmark (LOSO, pooled)",
        "",
        f"Data: `{meta['data']}` (CASME II layout, megc2019 labels), `detect-faces | spot-apex | flow`; "
        f"{os.cpu_count()} CPU cores.",
        "",
        "| model | setting | UF1 | UAR | UF1 95% CI (subjects) | training time (sum over folds) |",
        "|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        ci = r["ci_uf1"]
        lines.append(
            f"| {r['model']} | {r['setting']} | {r['uf1']:.4f} | {r['uar']:.4f} | "
            f"[{ci[0]:.3f}, {ci[1]:.3f}] | {r['seconds']:.0f} s |"
        )
    (out / "recognition.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'recognition.md'}")


if __name__ == "__main__":
    main()
