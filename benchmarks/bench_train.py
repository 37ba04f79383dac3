"""Training throughput of DFR-Net, and folds-in-processes vs intra-op threads.

Measures, on random inputs of the default size (DFR-Net, 3 stages, 56 x 56, flow + apex + diff),
samples per second of a full training step (forward, cross-entropy, backward, Adam) at batch 32
(paper 004's), for:

* one process with ``--threads`` intra-op threads (default 2);
* ``--threads`` processes with one thread each, running at the same time (how eval-loso runs
  folds by default): the sum of their rates.

Writes ``bench-out/train.md`` (and ``train.json``). Usage::

    python benchmarks/bench_train.py [--threads 2] [--seconds 30] [--rounds 3] [--batch 32] [--size 56]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path


def measure(
    threads: int, seconds: float, batch: int, size: int, options: dict, channels_last: bool = False
) -> dict:
    """Samples/s of training steps in this process (after 3 warm-up steps)."""
    import torch

    from mertool.models.registry import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model("dfr-net", num_classes=3, **options)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    x = {
        "flow": torch.randn(batch, 3, size, size).contiguous(memory_format=fmt),
        "apex": torch.rand(batch, 3, size, size).contiguous(memory_format=fmt),
        "diff": torch.rand(batch, 3, size, size).contiguous(memory_format=fmt),
    }
    y = torch.randint(0, 3, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x, y)["logits"], y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
    dt = time.perf_counter() - t0
    return {
        "threads": threads,
        "steps": n,
        "seconds": dt,
        "samples_per_s": n * batch / dt,
        "ms_per_step": 1000 * dt / n,
    }


def _child(args, queue):
    queue.put(measure(*args))


def parallel(procs: int, seconds: float, batch: int, size: int, options: dict) -> dict:
    """``procs`` spawned processes of one thread each, at the same time; the sum of their rates."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    ps = [ctx.Process(target=_child, args=((1, seconds, batch, size, options), queue)) for _ in range(procs)]
    for p in ps:
        p.start()
    results = [queue.get() for _ in ps]
    for p in ps:
        p.join()
    return {"processes": procs, "each": results, "samples_per_s": sum(r["samples_per_s"] for r in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0, help="per set-up, split over the rounds")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best round counts")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    options = {"stages": 3}
    from mertool.models.complexity import count_macs, count_params, example_inputs
    from mertool.models.registry import build_model

    m = build_model("dfr-net", num_classes=3, **options)
    macs = count_macs(m, example_inputs(("flow", "apex", "diff"), args.size))
    params = count_params(m)

    # interleaved rounds, best of each: a burst of other work on a shared machine hits one round,
    # not one set-up
    share = args.seconds / args.rounds
    one = one_cl = many = None
    for _ in range(args.rounds):
        a = measure(args.threads, share, args.batch, args.size, options)
        b = measure(args.threads, share, args.batch, args.size, options, channels_last=True)
        c = parallel(args.threads, share, args.batch, args.size, options)
        one = a if one is None or a["samples_per_s"] > one["samples_per_s"] else one
        one_cl = b if one_cl is None or b["samples_per_s"] > one_cl["samples_per_s"] else one_cl
        many = c if many is None or c["samples_per_s"] > many["samples_per_s"] else many
    best = "processes" if many["samples_per_s"] > one["samples_per_s"] else "threads"
    res = {
        "model": "dfr-net",
        "options": options,
        "input": args.size,
        "batch": args.batch,
        "params": params,
        "gmacs_forward": macs / 1e9,
        "one_process": one,
        "one_process_channels_last": one_cl,
        "processes": many,
        "faster": best,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.json").write_text(json.dumps(res, indent=1))
    ratio = many["samples_per_s"] / one["samples_per_s"]
    md = [
        "# Training throughput: DFR-Net (3 stages)",
        "",
        f"Input {args.size}x{args.size} (flow, apex, diff), batch {args.batch}, Adam, one full training step per batch; "
        f"{params / 1e6:.3f} M parameters, {macs / 1e9:.3f} GMACs per forward sample; best of {args.rounds} interleaved rounds. Random inputs "
        f"(loading is not the bottleneck: the training set lives in memory). Machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} at the end (other work on the machine makes every number slower).",
        "",
        "| set-up | samples/s | ms per batch |",
        "|---|---|---|",
        f"| 1 process x {args.threads} threads | {one['samples_per_s']:.1f} | {one['ms_per_step']:.0f} |",
        f"| 1 process x {args.threads} threads, channels_last | {one_cl['samples_per_s']:.1f} | {one_cl['ms_per_step']:.0f} |",
        f"| {args.threads} processes x 1 thread (sum) | {many['samples_per_s']:.1f} | "
        + ", ".join(f"{r['ms_per_step']:.0f}" for r in many["each"])
        + " |",
        "",
        f"Folds in {args.threads} processes run {ratio:.2f}x the rate of one process with {args.threads} threads: "
        f"**{best}** are faster here. eval-loso's default on CPU is one single-threaded process per core "
        "(folds in parallel); --workers/--threads override it.",
        "",
    ]
    (out / "train.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
