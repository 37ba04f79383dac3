"""Folds on Ray (issue 15): overhead against the local executor, a simulated multi-node cluster
that loses a node mid-run, and the scheduling cost per fold.

(a) The same LOSO run (``--folds`` subjects, a small convolutional model, a few epochs) with the
    local executor (one single-thread process per core) and with ``--executor ray`` on a local
    Ray instance of as many CPUs: wall times and their ratio (goal <= 1.15x), the Ray instance's
    start-up reported apart (paid once per process, not per run). summary.json must be equal.
(b) ``ray.cluster_utils.Cluster`` on this machine: a head without CPUs and ``--nodes`` worker
    nodes of 1 CPU each, folds of 0.5 CPU (two per node); every fold records the node it ran
    on; one worker node is removed when the first fold is back. Ray retries the folds it lost on
    the other nodes and every fold must be present.
(c) ``--noop`` folds that train nothing: the executor's own cost per fold (submit, schedule,
    return, driver-side collect), and what it adds to paper 004's 816 folds.

Writes ``bench-out/cluster.md`` and ``cluster.json``. Usage::

    python benchmarks/bench_cluster.py [--folds 6] [--epochs 3] [--nodes 3] [--noop 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: paper 004's tables at cluster scale (the issue's example: 12 rows x 68 composite folds)
PAPER_004_FOLDS = 816


def write_flow_file(path: Path, subjects: int, per_class: int = 4, size: int = 32, seed: int = 0) -> Path:
    """A flow-stage sample file of ``subjects`` subjects (3 classes, class-dependent motion)."""
    from mertool.store import SampleWriter
    from mertool.store import schema as S

    classes = ("negative", "positive", "surprise")
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:size, 0:size][0].astype(np.float32) / size
    with SampleWriter(path, stage=S.STAGE_FLOW, params={"bench": True}) as w:
        for s in range(subjects):
            for label, name in enumerate(classes):
                for c in range(per_class):
                    flow = rng.normal(0, 0.2, (size, size, 2)).astype(np.float32)
                    band = np.exp(-((yy - (0.3 if label != 1 else 0.75)) ** 2) / 0.01)
                    flow[..., 1] += (1.5 if label == 0 else -1.5) * band
                    onset = rng.integers(60, 200, (size, size), dtype=np.uint8)
                    apex = np.clip(onset + (np.abs(flow[..., 1]) * 20).astype(int), 0, 255).astype(np.uint8)
                    w.write(
                        f"bench/s{s + 1:02d}/c{label}{c}",
                        arrays={
                            S.D_FLOW: flow,
                            S.D_STRAIN: np.abs(np.gradient(flow[..., 1], axis=0)).astype(np.float32),
                            S.D_DIFF: np.abs(apex.astype(np.float32) - onset) / 255.0,
                            S.D_ONSET_IMAGE: onset,
                            S.D_APEX_IMAGE: apex,
                        },
                        attrs={
                            S.A_DATASET: "bench",
                            S.A_SUBJECT: f"s{s + 1:02d}",
                            S.A_CLIP: f"c{label}{c}",
                            S.A_EMOTION: name,
                            S.A_LABEL_MAP: "megc2019",
                            S.A_LABEL: name,
                            S.A_LABELS_JSON: {"megc2019": name},
                            S.A_FLOW_PARAMS_JSON: {"preset": "micro", "size": size},
                        },
                    )
    return path


def _numbers(summary: dict) -> dict:
    s = {k: v for k, v in summary.items() if k != "created"}
    s["per_fold"] = [{k: v for k, v in f.items() if k != "seconds"} for f in summary["per_fold"]]
    return s


# ------------------------------------------------------------------------------------------------
# fold jobs of the benchmark (defined in __main__: Ray sends them to the workers by value)


def _job_types():
    from mertool.folds.executors import FoldJob
    from mertool.folds.fold import FoldOutput

    @dataclass(frozen=True)
    class WhereJob(FoldJob):
        """A fold that records the Ray node of every attempt (a file in ``starts``, all nodes
        being on this machine) and of the attempt that finished."""

        starts: str = ""

        def compute(self, fold, device, emit):
            import ray

            node = ray.get_runtime_context().get_node_id()
            Path(self.starts, f"{fold.name.replace('/', '_')}@{node}@{time.time_ns()}").touch()
            out = super().compute(fold, device, emit)
            out.record["node"] = ray.get_runtime_context().get_node_id()
            return out

    @dataclass(frozen=True)
    class NoopJob(FoldJob):
        """A fold that trains nothing: what is left is the executor's own cost."""

        def compute(self, fold, device, emit):
            rec = {"fold": fold.name, "true": [], "pred": [], "probs": []}
            return FoldOutput(fold.name, rec, {"fold": fold.name, "n": 0, "accuracy": None, "uf1": None})

    return WhereJob, NoopJob


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--folds", type=int, default=6, help="LOSO folds (subjects) of (a) and (b)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--arch", default="dfr-net", help="architecture of (a) and (b)")
    ap.add_argument("--size", type=int, default=32, help="input size of (a) and (b)")
    ap.add_argument("--nodes", type=int, default=3, help="worker nodes of the simulated cluster (b)")
    ap.add_argument("--noop", type=int, default=200, help="folds of (c)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each executor in (a), alternated")
    ap.add_argument(
        "--gpu-fold-seconds",
        type=float,
        nargs="+",
        default=[300.0, 1200.0],
        help="assumed seconds of one paper-004 fold on one GPU, for the projection (not measured here)",
    )
    ap.add_argument("--folds-per-gpu", type=int, default=4, help="folds sharing a GPU (--gpus-per-fold 1/N)")
    args = ap.parse_args()

    import ray

    from mertool.folds.executors import FoldJob
    from mertool.folds.ray_executor import RayExecutor
    from mertool.folds.run import run_evaluation
    from mertool.training.config import resolve_config

    cores = os.cpu_count() or 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    res: dict = {"machine": f"{platform.machine()}, {cores} cores, python {platform.python_version()}"}
    res["ray"] = ray.__version__
    try:
        flow = write_flow_file(work / "flow.h5", args.folds, size=args.size)
        opts = {
            "arch": args.arch,
            "epochs": args.epochs,
            "batch_size": 16,
            "input_size": args.size,
            "lr": 1e-3,
        }
        cfg = resolve_config(None, opts, seed=0)

        # (a) local executor vs a local Ray instance ---------------------------------------------
        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
        t_init = time.perf_counter() - t0
        times: dict[str, list[float]] = {"local": [], "ray": []}
        summaries: dict[str, dict] = {}
        for r in range(args.repeat):  # alternated, so a machine shared with other work hits both alike
            for name in ("local", "ray"):
                t0 = time.perf_counter()
                o = run_evaluation(flow, cfg, work / f"{name}-{r}", plots=False, executor=name)
                times[name].append(time.perf_counter() - t0)
                summaries[name] = o.summary
                if name == "ray":
                    on_ray = o
                else:
                    local = o
        t_local, t_ray = float(np.median(times["local"])), float(np.median(times["ray"]))
        fold_s = [f["seconds"] for f in local.summary["per_fold"]]
        res["a"] = {
            "folds": args.folds,
            "repeats": args.repeat,
            "local_runs_s": times["local"],
            "ray_runs_s": times["ray"],
            "model": f"{args.arch} at {args.size}x{args.size}, {args.epochs} epochs",
            "local_s": t_local,
            "ray_s": t_ray,
            "ray_init_s": t_init,
            "ratio": t_ray / t_local,
            "ratio_with_init": (t_ray + t_init) / t_local,
            "mean_fold_s": float(np.mean(fold_s)),
            "same_summary": _numbers(local.summary) == _numbers(on_ray.summary),
            "failed": on_ray.failed,
        }
        print("(a)", json.dumps(res["a"]))

        # (c) the executor's own cost per fold -------------------------------------------------------
        WhereJob, NoopJob = _job_types()
        from mertool.evaluation.protocols import Fold

        table_job = FoldJob(local_table(flow, cfg), [], cfg)
        noop = NoopJob(table_job.table, [], cfg)
        folds = [Fold(f"noop/{i:04d}", np.arange(1), np.arange(1)) for i in range(args.noop)]
        got: list = []
        ex = RayExecutor(num_cpus=cores)
        ex.run(noop, folds[: 2 * cores], lambda *a: None, got.append)  # warm the workers
        got.clear()
        t0 = time.perf_counter()
        ex.run(noop, folds, lambda *a: None, got.append)
        t_noop = time.perf_counter() - t0
        per_fold = t_noop / len(got)
        res["c"] = {
            "folds": len(got),
            "wall_s": t_noop,
            "per_fold_ms": 1000 * per_fold,
            "per_fold_cpu_ms": 1000 * per_fold * cores,
            "overhead_816_folds_s": PAPER_004_FOLDS * per_fold,
            "a_overhead_per_fold_s": (t_ray - t_local) / args.folds,
        }
        print("(c)", json.dumps(res["c"]))
        ray.shutdown()

        # (b) a simulated cluster that loses a node ---------------------------------------------
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        nodes = [cluster.add_node(num_cpus=1) for _ in range(args.nodes)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING")
        from mertool.folds import ray_executor

        ray_executor._STATE["probed"].clear()
        from mertool.evaluation.protocols import make_folds, parse_protocol, sample_groups

        table = table_job.table
        groups = sample_groups(table.datasets, table.subjects, table.ids)
        loso = make_folds(parse_protocol("loso"), groups, table.labels, table.splits, 0)
        # as many folds as the cluster has half-CPU slots, twice over: every node gets some
        many = (loso * math.ceil(4 * args.nodes / len(loso)))[: 4 * args.nodes]
        many = [Fold(f"{f.name}#{i}", f.train, f.test) for i, f in enumerate(many)]
        starts = work / "starts"
        starts.mkdir()
        job = WhereJob(table, groups, cfg, starts=str(starts))
        outputs: list = []
        failed: list = []
        removed: dict = {}

        def on_output(o):
            outputs.append(o)
            if not removed and len(outputs) >= len(many) // 4:  # a quarter back: take a node away
                victim = nodes[-1]
                removed["node"] = victim.node_id
                removed["at_s"] = time.perf_counter() - t0
                threading.Thread(target=cluster.remove_node, args=(victim,), daemon=True).start()

        ex = RayExecutor(address=cluster.address, cpus_per_fold=0.5, max_retries=3)
        t0 = time.perf_counter()
        ex.run(
            job,
            many,
            lambda kind, name, *a: failed.append((name, a)) if kind == "fold_failed" else None,
            on_output,
        )
        t_b = time.perf_counter() - t0
        placed: dict = {}
        for o in outputs:
            placed[o.record["node"]] = placed.get(o.record["node"], 0) + 1
        started: dict = {}
        for f in starts.iterdir():
            node = f.name.split("@")[1]
            started[node] = started.get(node, 0) + 1
        res["b"] = {
            "nodes": args.nodes,
            "folds": len(many),
            "finished": len(outputs),
            "failed": failed,
            "every_fold_present": sorted(o.fold for o in outputs) == sorted(f.name for f in many),
            "attempts": sum(started.values()),
            "started_per_node": {k[:8]: v for k, v in started.items()},
            "finished_per_node": {k[:8]: v for k, v in placed.items()},
            "nodes_used": len(started),
            "removed_node": removed.get("node", "")[:8],
            "removed_at_s": removed.get("at_s"),
            "wall_s": t_b,
        }
        print("(b)", json.dumps(res["b"]))
        ray.shutdown()
        cluster.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    res["projection"] = projection(res, args.gpu_fold_seconds, args.folds_per_gpu)
    (out / "cluster.json").write_text(json.dumps(res, indent=1, default=str))
    (out / "cluster.md").write_text(report(res, args))
    print((out / "cluster.md").read_text())


def local_table(flow: Path, cfg):
    from mertool.training.trainer import load_samples

    return load_samples(flow, cfg)


def projection(res: dict, gpu_fold_seconds: list[float], per_gpu: int) -> list[dict]:
    """Expected wall time of 816 folds on N GPUs: waves of N x per_gpu concurrent folds, each
    wave as long as one fold (an assumption: folds sharing a GPU slow each other little), plus
    the measured executor cost per fold spread over the concurrent slots."""
    per_fold = res["c"]["per_fold_ms"] / 1000
    rows = []
    for n in (1, 4, 32):
        slots = n * per_gpu
        for t in gpu_fold_seconds:
            waves = math.ceil(PAPER_004_FOLDS / slots)
            wall = waves * t + PAPER_004_FOLDS * per_fold
            rows.append({"gpus": n, "slots": slots, "fold_s": t, "waves": waves, "wall_h": wall / 3600})
    return rows


def report(res: dict, args) -> str:
    a, b, c = res["a"], res["b"], res["c"]
    md = [
        "# Folds on Ray (make bench-cluster)",
        "",
        f"Machine: {res['machine']}; Ray {res['ray']}.",
        "",
        f"## (a) {a['folds']}-fold LOSO, local executor vs a local Ray instance",
        "",
        f"{a['model']}; mean fold {a['mean_fold_s']:.1f} s.",
        "",
        f"Median of {a['repeats']} runs each, alternated (local, ray, local, ray, ...).",
        "",
        "| executor | wall s (median) | runs |",
        "|---|---:|---|",
        f"| local (one single-thread process per core) | {a['local_s']:.1f} | "
        + ", ".join(f"{x:.1f}" for x in a["local_runs_s"])
        + " |",
        f"| ray, local instance (already started) | {a['ray_s']:.1f} | "
        + ", ".join(f"{x:.1f}" for x in a["ray_runs_s"])
        + " |",
        f"| starting the Ray instance (once per process) | {a['ray_init_s']:.1f} | |",
        "",
        f"Ratio ray / local: **{a['ratio']:.3f}x** (goal <= 1.15x); counting the instance's start: "
        f"{a['ratio_with_init']:.3f}x. summary.json equal: {a['same_summary']}.",
        "",
        f"## (b) simulated cluster: {b['nodes']} worker nodes of 1 CPU, folds of 0.5 CPU, one node removed",
        "",
        f"{b['folds']} folds; {b['finished']} finished, every fold present: {b['every_fold_present']}; "
        f"failed: {b['failed'] or 'none'}; {b['attempts']} attempts. Attempts started per node (node id "
        f"prefix): {b['started_per_node']} ({b['nodes_used']} of {b['nodes']} nodes used); finished per node: "
        f"{b['finished_per_node']}; node {b['removed_node']} removed at {b['removed_at_s']:.1f} s, its "
        f"folds retried elsewhere; wall {b['wall_s']:.1f} s.",
        "",
        "## (c) the executor's own cost per fold",
        "",
        f"{c['folds']} folds that train nothing: {c['wall_s']:.2f} s, **{c['per_fold_ms']:.1f} ms per fold** "
        f"({c['per_fold_cpu_ms']:.0f} CPU-ms on {res['machine'].split(',')[1].strip()}); "
        f"for paper 004's {PAPER_004_FOLDS} folds {c['overhead_816_folds_s']:.1f} s in all. "
        f"From (a): {c['a_overhead_per_fold_s']:+.2f} s per real fold.",
        "",
        f"## Projection (not measured): paper 004's {PAPER_004_FOLDS} folds on N GPUs",
        "",
        f"{args.folds_per_gpu} folds per GPU (--gpus-per-fold {1 / args.folds_per_gpu:g}); the GPU time of "
        "one fold is an assumption (no GPU here), the executor's cost per fold is (c)'s.",
        "",
        "| GPUs | concurrent folds | assumed s per fold | waves | wall h |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in res["projection"]:
        md.append(f"| {r['gpus']} | {r['slots']} | {r['fold_s']:g} | {r['waves']} | {r['wall_h']:.2f} |")
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
