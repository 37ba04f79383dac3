"""Run a table target: prepare its inputs once, run each paper row, write the report.

Every step is a ``mertool`` command line, kept as its argument list and run as the Python call
behind it (:func:`mertool.tables.commands.run_command`, which records the line in the output's
provenance): the commands in the report are exactly what ran, and a user can paste them. Layout
under ``--results DIR`` (default ``results/``)::

    DIR/<target>.md, DIR/<target>.csv          the report (smoke twins: <target>-smoke.*)
    DIR/<target>/<row-slug>/row.json           per row: its runs, commands and numbers
    DIR/runs/<input>-<key>/                    one eval-loso results directory per distinct run
                                               (rows of several targets share it: the same
                                               command on the same input is run once)
    DIR/cache/<source>-<step>-<key>/           prepared inputs, one folder per pipeline step,
                                               keyed by the data roots (path + file manifest) and
                                               every option of every step so far
    DIR/cache/synth-<set>-<key>/               synthetic data of the smoke twins (shared)

``resume`` re-uses finished runs (a complete ``summary.json``) and passes ``--resume`` to
eval-loso, which keeps finished folds; without it every run of the target is computed again
(prepared inputs are a cache and always re-used). Within one call, a run shared by several
targets is computed once either way.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool import __version__
from mertool.errors import DatasetError, MertoolError
from mertool.tables import spec as X
from mertool.tables.commands import run_command
from mertool.tables.registry import TABLES, get_experiment
from mertool.tables.report import (
    OursRow,
    Section,
    literature_section,
    markdown_table,
    paper_table,
    write_files,
)

#: eval-loso/train options a smoke override may set on ``mertool train`` (pre-training) too
TRAIN_FLAGS = {"--epochs", "--input-size", "--augment", "--batch-size", "--val-subjects"}
STAGES_WITH_WORKERS = {"detect-faces", "spot-apex", "flow", "crop-rois"}


# ------------------------------------------------------------------------------------------------
# small helpers


def digest(*parts: Any) -> str:
    """Short stable hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_MANIFESTS: dict[str, str] = {}


def root_manifest(root: Path) -> str:
    """SHA-256 over every file's relative path and size under ``root`` (symlinks followed): a cheap
    fingerprint of a dataset root, as the stages record (cached per process)."""
    key = str(Path(root).resolve())
    if key not in _MANIFESTS:
        h = hashlib.sha256()
        entries = []
        for dirpath, dirnames, filenames in os.walk(key, followlinks=True):
            dirnames.sort()
            for f in filenames:
                p = Path(dirpath) / f
                try:
                    size = p.stat().st_size
                except OSError:
                    size = -1
                entries.append(f"{p.relative_to(key)}\t{size}")
        for e in sorted(entries):
            h.update(e.encode() + b"\n")
        _MANIFESTS[key] = h.hexdigest()
    return _MANIFESTS[key]


def _done(path: Path, info: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(info, indent=1, default=str))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-") or "row"


# ------------------------------------------------------------------------------------------------
# context


@dataclass
class Context:
    """One ``mertool tables run`` call: where results go and how runs are made."""

    results: Path
    smoke: bool = False
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    workers: int = 0  # eval-loso --workers for real runs (0: its default, one per core)
    executor: str = "local"  # eval-loso --executor: local, or ray (every row's folds in flight at once)
    address: str | None = None  # eval-loso --address with ray (None: a local Ray instance)
    cpus_per_fold: float = 1.0  # eval-loso --cpus-per-fold with ray
    gpus_per_fold: float = 0.0  # eval-loso --gpus-per-fold with ray
    quiet: bool = False
    data: dict[str, Path] = field(default_factory=dict)  # Make variable -> root given
    commands: list[str] = field(default_factory=list)  # of the current target, in order
    finished_runs: dict[str, Any] = field(default_factory=dict)  # run dir -> result, this call

    @property
    def cache(self) -> Path:
        return self.results / "cache"

    @property
    def runs(self) -> Path:
        return self.results / "runs"

    def log(self, argv: Sequence[str], note: str = "") -> str:
        line = "mertool " + shlex.join([str(a) for a in argv]) + note
        if line not in self.commands:
            self.commands.append(line)
        return line


# ------------------------------------------------------------------------------------------------
# data roots


def check_root(var: str, root: Path, target: str) -> str:
    """The reader that reads ``root`` as Make variable ``var``, or a clear error."""
    from mertool.datasets.base import get_reader

    spec = X.DATA_VARS[var]
    if not root.is_dir():
        raise DatasetError(f"{var}={root}: no such folder", hint=f"set {var} to {spec.hint}")
    for name in spec.readers:
        reader = get_reader(name)
        try:
            if reader.detect(root):
                return name
        except OSError:
            continue
    raise DatasetError(
        f"{var}={root} does not look like {spec.name}",
        hint=f"{var} must be {spec.hint} (mertool datasets list)",
    )


def real_roots(exp: X.Experiment, given: dict[str, Path]) -> dict[str, Path]:
    """The roots a real run needs, checked; the first missing variable stops it with a message
    naming the variable to set."""
    missing = [v for v in exp.data if not given.get(v)]
    if missing:
        spec = X.DATA_VARS[missing[0]]
        others = f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise MertoolError(
            spec.message(exp.target) + others,
            hint=f"make {exp.target} {' '.join(f'{v}=/path/to/{v}' for v in exp.data)}; or the smoke twin: make {exp.target}-smoke",
        )
    roots = {v: Path(given[v]).expanduser() for v in exp.data}
    for v, root in roots.items():
        check_root(v, root, exp.target)
    return roots


def synth_set(ctx: Context, name: str) -> Path:
    """The synthetic set ``name`` of :data:`~mertool.tables.spec.SYNTH_SETS`, written once."""
    from mertool.synth import SynthConfig, generate

    s = X.SYNTH_SETS[name]
    folder = ctx.cache / f"synth-{name}-{digest(s.__dict__)}"
    marker = folder / "done.json"
    argv = ["synth", str(folder), "--layout", s.layout, "--subjects", str(s.subjects),
            "--clips-per-subject", str(s.clips_per_subject), "--size", f"{s.size[0]}x{s.size[1]}",
            "--seed", str(s.seed)] + (["--fps", f"{s.fps:g}"] if s.fps else [])  # fmt: skip
    note = f"   # clip durations {s.duration_ms[0]:g}-{s.duration_ms[1]:g} ms (SynthConfig.duration_ms)"
    line = ctx.log(argv, note)
    if not marker.is_file():
        config = SynthConfig(
            layout=s.layout, subjects=s.subjects, clips_per_subject=s.clips_per_subject, fps=s.fps,
            seed=s.seed, size=s.size, duration_ms=s.duration_ms,
        )  # fmt: skip
        generate(folder, config, overwrite=True, progress=not ctx.quiet, command=line.removesuffix(note))
        _done(marker, {"set": s.__dict__, "command": line})
    return folder


def smoke_roots(ctx: Context, exp: X.Experiment) -> dict[str, Path]:
    """Synthetic stand-ins for every Make variable the target needs (see SMOKE_DATA)."""
    from mertool.tables import stills

    composite = any(len(X.PREPS[r.input].data) > 1 for row in exp.rows for r in row.runs.values())
    roots: dict[str, Path] = {}
    for var in exp.data:
        set_name, part = X.SMOKE_DATA[var]
        if composite and var in X.MEGC_PARTS:
            set_name, part = X.SMOKE_COMPOSITE, X.MEGC_PARTS[var]
        if var == "WIDERFACE":
            n = X.SYNTH_WIDER
            folder = ctx.cache / f"synth-widerface-{digest(n)}"
            argv = ["detector", "synth", "-o", str(folder / "wider"), "--train", str(n["train"]),
                    "--val", str(n["val"]), "--seed", str(n["seed"])]  # fmt: skip
            line = ctx.log(argv)
            if not (folder / "done.json").is_file():
                run_command(argv, line)
                _done(folder / "done.json", n)
            roots[var] = folder / "wider"
            continue
        base = synth_set(ctx, set_name)
        if part in ("rafdb", "ckplus"):
            folder = ctx.cache / f"stills-{part}-{base.name}"
            if not (folder / "done.json").is_file():
                write = stills.write_rafdb if part == "rafdb" else stills.write_ckplus
                write(base / "CASME2", folder / part)
                _done(folder / "done.json", {"from": str(base / "CASME2")})
            ctx.commands.append(
                f"# {var}: {part} layout built from {base / 'CASME2'} (mertool.tables.stills.write_{part})"
            )
            roots[var] = folder / part
        else:
            roots[var] = base / part
    return roots


# ------------------------------------------------------------------------------------------------
# prepared inputs


def source_root(ctx: Context, prep: X.Prep, roots: dict[str, Path]) -> tuple[Path, str]:
    """The folder the first step reads and the reader to read it with. A composite (several
    variables) is a folder of symlinks CASME2/ SAMM/ SMIC/ read as ``megc2019``."""
    if len(prep.data) == 1:
        var = prep.data[0]
        root = roots[var]
        return root, prep.reader or check_root(var, root, "")
    folder = ctx.cache / f"{prep.reader}-root-{digest({v: str(roots[v].resolve()) for v in prep.data})}"
    folder.mkdir(parents=True, exist_ok=True)
    for var in prep.data:
        link = folder / X.MEGC_PARTS[var]
        target = roots[var].resolve()
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return folder, prep.reader or "megc2019"


def prepare(ctx: Context, name: str, roots: dict[str, Path]) -> tuple[Path, str]:
    """The prepared file of input ``name`` (running the steps not yet cached) and its cache key."""
    prep = X.PREPS[name]
    source, reader = source_root(ctx, prep, roots)
    key = digest({v: [str(roots[v].resolve()), root_manifest(roots[v])] for v in prep.data})
    current: Path = source
    tag = prep.data[0].lower() if len(prep.data) == 1 else reader
    for i, step in enumerate(prep.steps):
        key = digest(key, step.command, step.args, reader if i == 0 else None)
        folder = ctx.cache / f"{tag}-{step.command}-{key}"
        if step.command == "detector-prepare":
            out = folder / "yolo" / "data.yaml"
            argv = ["detector", "prepare", str(current), "-o", str(folder / "yolo")]
        elif step.command == "frames-as-samples":
            out = folder / f"{step.command}.h5"
            argv = ["tables", "frames-as-samples", str(current), "-o", str(out)]
        else:
            out = folder / f"{step.command}.h5"
            argv = [step.command, str(current), *step.args]
            if i == 0 and step.command == "detect-faces":
                argv += ["--dataset", reader]
            if ctx.smoke and step.command in STAGES_WITH_WORKERS:
                argv += [a for kv in X.SMOKE_STAGE.items() for a in kv]
            if ctx.resume and step.command in STAGES_WITH_WORKERS:
                argv.append("--resume")  # an interrupted stage continues from its partial file
            argv += ["-o", str(out)]
        line = ctx.log(argv)
        if not out.is_file():
            run_command(argv, line)
        current = out
    return current, key


# ------------------------------------------------------------------------------------------------
# runs


def _run_flags(ctx: Context) -> list[str]:
    flags: list[str] = []
    if ctx.smoke:
        for k, v in X.SMOKE_RUN.items():
            flags += [k] if v is None else [k, v]
    elif ctx.workers:
        flags += ["--workers", str(ctx.workers)]
    if ctx.device != "auto":
        flags += ["--device", ctx.device]
    if ctx.executor == "ray":
        flags += ["--executor", "ray"] + (["--address", ctx.address] if ctx.address else [])
        flags += ["--cpus-per-fold", f"{ctx.cpus_per_fold:g}"] if ctx.cpus_per_fold != 1.0 else []
        flags += ["--gpus-per-fold", f"{ctx.gpus_per_fold:g}"] if ctx.gpus_per_fold else []
    return flags


def pretrain(ctx: Context, exp: X.Experiment, pre: X.Pretrain, roots: dict[str, Path]) -> Path:
    """``mertool train`` on the pre-training input; cached by input and options."""
    path, key = prepare(ctx, pre.input, roots)
    overrides = {k: v for k, v in exp.smoke.items() if k in TRAIN_FLAGS} if ctx.smoke else {}
    args = X.merge_args(pre.args, overrides)
    folder = ctx.cache / f"pretrain-{pre.input}-{digest(key, args, ctx.seed)}"
    out = folder / "model.pt"
    extra = ["--threads", "1"] if ctx.smoke else []
    if ctx.device != "auto":
        extra += ["--device", ctx.device]
    argv = ["train", str(path), *args, "--seed", str(ctx.seed), *extra, "-o", str(out)]
    line = ctx.log(argv)
    if not out.is_file():
        run_command(argv, line)
    return out


@dataclass
class RunResult:
    run_dir: Path
    command: str
    summary: dict[str, Any]


def eval_command(
    ctx: Context, exp: X.Experiment, run: X.Run, roots: dict[str, Path]
) -> tuple[Path, list[str], str]:
    """The results directory, argument list and logged line of one eval-loso run (its input
    prepared and its pre-training done first); runs nothing else."""
    path, key = prepare(ctx, run.input, roots)
    args = list(run.args)
    if run.pretrain:
        args += ["--opt", f"pretrained={pretrain(ctx, exp, run.pretrain, roots)}"]
    if ctx.smoke:
        args = X.merge_args(tuple(args), exp.smoke)
    run_dir = ctx.runs / f"{run.input}-{digest(key, args, ctx.seed)}"
    argv = ["eval-loso", str(path), *args, "--seed", str(ctx.seed), *_run_flags(ctx)]
    argv += (["--resume"] if ctx.resume else []) + ["-o", str(run_dir)]
    return run_dir, argv, ctx.log(argv)


def run_eval(ctx: Context, exp: X.Experiment, run: X.Run, roots: dict[str, Path]) -> RunResult:
    """One eval-loso run (skipped when finished and resuming, or already run in this call)."""
    run_dir, argv, line = eval_command(ctx, exp, run, roots)
    if str(run_dir) in ctx.finished_runs:
        return ctx.finished_runs[str(run_dir)]
    summary = _read(run_dir / "summary.json")
    if not (ctx.resume and summary and summary.get("complete")):
        run_command(argv, line)
        summary = _read(run_dir / "summary.json")
        if summary is None:
            raise MertoolError(f"eval-loso wrote no summary.json in {run_dir}")
    result = RunResult(run_dir, line, summary)
    ctx.finished_runs[str(run_dir)] = result
    return result


def run_detector(ctx: Context, run: X.Run, roots: dict[str, Path]) -> RunResult:
    """``mertool detector train`` one variant, then ``detector eval --json`` its best.pt on WIDER
    FACE val (paper 000 T2/T4)."""
    data_yaml, key = prepare(ctx, run.input, roots)
    sizes = X.DETECTOR_SMOKE if ctx.smoke else X.DETECTOR_REAL
    model = run.args[0]
    run_dir = ctx.runs / f"detector-{model}-{digest(key, model, sizes, ctx.seed)}"
    device = "cpu" if ctx.smoke else ("auto" if ctx.device in ("auto", "cuda") else ctx.device)
    workers = 0 if ctx.smoke else min(8, os.cpu_count() or 1)
    size_args = ["--imgsz", str(sizes["imgsz"]), "--batch", str(sizes["batch"]), "--device", device]
    train_argv = ["detector", "train", str(data_yaml), "--model", model, "--epochs", str(sizes["epochs"]),
                  *size_args, "--workers", str(workers), "--seed", str(ctx.seed), "-o", str(run_dir / "train")]  # fmt: skip
    eval_argv = [
        "detector",
        "eval",
        str(run_dir / "train" / "weights" / "best.pt"),
        str(data_yaml),
        *size_args,
        "--json",
    ]
    line = ctx.log(train_argv)
    eval_line = ctx.log(eval_argv)
    if str(run_dir) in ctx.finished_runs:
        return ctx.finished_runs[str(run_dir)]
    result = _read(run_dir / "result.json")
    if not (ctx.resume and result):
        run_command(train_argv, line)
        result = run_command(eval_argv, eval_line)
        result.update(model=model, **sizes)
        _done(run_dir / "result.json", result)
    out = RunResult(run_dir, line, result)
    ctx.finished_runs[str(run_dir)] = out
    return out


# ------------------------------------------------------------------------------------------------
# numbers


def summary_metric(summary: dict[str, Any], metric: str) -> float | None:
    """One number of an eval-loso ``summary.json`` (metric names: spec.METRICS)."""
    if "." in metric and not metric.startswith("det."):
        ds, m = metric.split(".", 1)
        part = (summary.get("per_dataset") or {}).get(ds)
        return None if part is None else part.get(m)
    if metric in ("uf1", "uar", "accuracy", "auc"):
        return summary.get(metric)
    if metric == "acc%":
        return None if summary.get("accuracy") is None else 100.0 * summary["accuracy"]
    if metric == "f1":
        return summary.get("uf1")
    if metric == "recall":
        return summary.get("uar")
    if metric == "precision":
        vals = [
            c["precision"]
            for c in (summary.get("per_class") or {}).values()
            if c.get("precision") is not None
        ]
        return sum(vals) / len(vals) if vals else None
    if metric.startswith("det."):
        return summary.get(metric[4:])
    raise KeyError(metric)


def cost_metrics(ctx: Context, ref: tuple[str, str]) -> dict[str, Any]:
    """Parameters, MACs and latency of a paper-table model at the paper's input
    (:data:`mertool.models.paper_table.ROWS`)."""
    import torch

    from mertool.models.complexity import example_inputs, latency_ms, profile
    from mertool.models.paper_table import ROWS
    from mertool.models.registry import build_model, model_spec

    row = next((r for r in ROWS if (r.source, r.row) == ref), None)
    if row is None:
        raise KeyError(f"no model row {ref} in mertool.models.paper_table.ROWS")
    p = profile(row.model, row.options, row.size, row.num_classes, row.region_size)
    lat = X.LATENCY_SMOKE if ctx.smoke else X.LATENCY_REAL
    threads = 1 if ctx.smoke else (os.cpu_count() or 1)
    torch.manual_seed(ctx.seed)
    model = build_model(row.model, row.num_classes, **row.options)
    inputs = example_inputs(
        model_spec(row.model).input_names(row.options), row.size, region_size=row.region_size
    )
    ms = latency_ms(model, inputs, repeats=lat["repeats"], warmup=lat["warmup"], threads=threads)
    size = row.size if isinstance(row.size, int) else f"{row.size[0]}x{row.size[1]}"
    return {
        "params": f"{p['params'] / 1e6:.3f}M",
        "params_m": p["params"] / 1e6,
        "flops": f"{p['macs'] / 1e9:.3f}G",
        "gflops": p["macs"] / 1e9,
        "ms": ms,
        "fps": 1000.0 / ms if ms else None,
        "_model": f"{row.model} {' '.join(f'{k}={v}' for k, v in row.options.items())} at {size}"
        + (f" (regions {row.region_size})" if row.region_size else "")
        + f", {threads} thread(s), median of {lat['repeats']} runs",
    }


# ------------------------------------------------------------------------------------------------
# one target


@dataclass
class RowOutcome:
    name: str
    values: list[Any]
    runs: dict[str, RunResult]
    cost: dict[str, Any] | None


def _row_dir(ctx: Context, target: str, row: str) -> Path:
    return ctx.results / (target + ("-smoke" if ctx.smoke else "")) / _slug(row)


def run_target(target: str, ctx: Context) -> tuple[Path, Path]:
    """Run ``target`` (smoke twin with ``ctx.smoke``); write and return the report's md and csv."""
    from mertool.console import info

    exp = get_experiment(target)
    ctx.commands = []
    roots = smoke_roots(ctx, exp) if ctx.smoke else real_roots(exp, ctx.data)
    if ctx.executor == "ray":
        run_evals_at_once(ctx, exp, roots)  # every row's folds in flight together; rows below re-use them
    outcomes: list[RowOutcome] = []
    for row in exp.rows:
        info(f"[bold]{exp.target}[/]: {row.name}")
        runs: dict[str, RunResult] = {}
        for key, run in row.runs.items():
            runs[key] = (
                run_detector(ctx, run, roots) if run.kind == "detector" else run_eval(ctx, exp, run, roots)
            )
        cost = cost_metrics(ctx, row.cost) if row.cost else None
        values = []
        for src, metric in exp.row_columns(row):
            if src == "cost":
                values.append(None if cost is None else cost[metric])
            else:
                values.append(summary_metric(runs[src].summary, metric) if src in runs else None)
        outcome = RowOutcome(row.name, values, runs, cost)
        outcomes.append(outcome)
        _done(
            _row_dir(ctx, exp.target, row.name) / "row.json",
            {
                "target": exp.target,
                "row": row.name,
                "smoke": ctx.smoke,
                "values": dict(zip([c for c in _paper(exp).columns], values)),
                "runs": {k: {"dir": str(r.run_dir), "command": r.command} for k, r in runs.items()},
                "cost": cost,
            },
        )
    return write_target_report(ctx, exp, outcomes, roots)


def _paper(exp: X.Experiment) -> X.PaperTable:
    return TABLES[exp.target]


def _status(summary: dict[str, Any]) -> str:
    if "n_folds" not in summary:
        return "done"
    s = f"{summary.get('n_folds_complete')}/{summary.get('n_folds')} folds"
    return s if summary.get("complete") else s + " (partial)"


#: extra report columns of a detector row -> key in its result (WIDER AP: easy/medium/hard)
DETECTOR_EXTRAS = {
    "mAP@0.5:0.95": "map50_95",
    "WIDER AP easy": "easy",
    "WIDER AP medium": "medium",
    "WIDER AP hard": "hard",
}


def write_target_report(
    ctx: Context, exp: X.Experiment, outcomes: list[RowOutcome], roots: dict[str, Path]
) -> tuple[Path, Path]:
    paper = _paper(exp)
    has_runs = any("n_samples" in r.summary for o in outcomes for r in o.runs.values())
    has_det = any(run.kind == "detector" for row in exp.rows for run in row.runs.values())
    extras = (["samples", "folds"] if has_runs else []) + (list(DETECTOR_EXTRAS) if has_det else [])
    ours: dict[str, OursRow] = {}
    for o in outcomes:
        summaries = [r.summary for r in o.runs.values() if "n_samples" in r.summary]
        more: dict[str, Any] = {
            "samples": " / ".join(str(s["n_samples"]) for s in summaries) or None,
            "folds": " / ".join(_status(s) for s in summaries) or None,
        }
        for r in o.runs.values():
            if "map50" in r.summary:
                wider = r.summary.get("wider_ap") or {}
                more.update(
                    {
                        col: (r.summary.get(k) if k == "map50_95" else wider.get(k))
                        for col, k in DETECTOR_EXTRAS.items()
                    }
                )
        ours[o.name] = OursRow(o.values, more)
    header, csv_rows, md_rows = paper_table(paper, ours, extras)
    stem = exp.target + ("-smoke" if ctx.smoke else "")
    title = f"{stem}: paper {paper.paper} {paper.title}"
    used = sorted({src for row in exp.rows for src, _ in exp.row_columns(row)})
    metrics = sorted({m for row in exp.rows for _, m in exp.row_columns(row)})
    runs_text = {
        "main": "one `mertool eval-loso` run",
        "2d": "one `mertool eval-loso` run per column",
        "det": "one `mertool detector train` + `detector eval` run",
        "cost": "the model measured at the paper's input",
    }
    preamble = [
        "Our numbers beside the paper's, row by row; Δ = ours − paper. Behind each row: "
        + ", ".join(runs_text[u] for u in used if u in runs_text)
        + " (commands and results directories below).",
        "Columns: " + "; ".join(f"{m} = {X.METRICS.get(m, m)}" for m in metrics) + ".",
    ]
    notes = [f"- {n}" for n in (*exp.notes, *([paper.notes] if paper.notes else ()))]
    sections: list[Section] = []
    lit = literature_section(paper)
    if lit:
        sections.append(lit)
    sections.append(_provenance(ctx, exp, outcomes, roots))
    md, csv_path = write_files(
        ctx.results, stem, header, csv_rows, title=title, smoke=ctx.smoke, preamble=preamble, md_rows=md_rows,
        notes=(["Notes:", "", *notes] if notes else []), sections=sections,
    )  # fmt: skip
    return md, csv_path


def _provenance(
    ctx: Context, exp: X.Experiment, outcomes: list[RowOutcome], roots: dict[str, Path]
) -> Section:
    has_det = any(run.kind == "detector" for row in exp.rows for run in row.runs.values())
    if ctx.smoke:
        sizes = [f"{k} {v}" if v else k for k, v in exp.smoke.items()]
        if has_det:
            sizes.append("detector " + ", ".join(f"{k} {v}" for k, v in X.DETECTOR_SMOKE.items()))
        if any(row.cost for row in exp.rows):
            sizes.append(f"latency over {X.LATENCY_SMOKE['repeats']} runs on 1 thread")
        kind = (
            "smoke twin: the real target's commands on synthetic data, with "
            + ("; ".join(sizes) or "nothing changed")
            + " instead of the real values"
        )
    else:
        kind = "real run: the presets' values (mertool train --preset NAME --help lists them)"
    lines = [
        f"- made {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} by mertool {__version__}, "
        f"python {platform.python_version()}, {platform.machine()} with {os.cpu_count()} CPU core(s), "
        f"device {ctx.device}, seed {ctx.seed}",
        f"- {kind}",
        "",
        "Data roots (fingerprint: SHA-256 of every file's relative path and size):",
        "",
    ]
    lines += markdown_table(
        ["variable", "root", "fingerprint"], [[v, f"`{r}`", f"`{root_manifest(r)[:16]}…`"] for v, r in roots.items()]
    ) if roots else ["(none: this table needs no dataset)"]  # fmt: skip
    files = sorted(
        {
            (str(r.summary["input"].get("path")), r.summary["input"].get("sha256") or "")
            for o in outcomes
            for r in o.runs.values()
            if isinstance(r.summary.get("input"), dict)
        }
    )
    if files:
        lines += ["", "Prepared inputs the runs read:", ""]
        lines += markdown_table(
            ["file", "sha256"], [[f"`{f}`", f"`{h[:16]}…`" if h else "—"] for f, h in files]
        )
    if ctx.commands:
        lines += [
            "",
            "Commands, in order (prepared inputs are cached; a finished run is not repeated):",
            "",
            "```",
        ]
        lines += ctx.commands
        lines += ["```"]
    lines += ["", "Rows:", ""]
    rows = []
    for o in outcomes:
        for k, r in o.runs.items():
            rows.append([o.name, k, f"`{r.run_dir}`", _status(r.summary)])
        if o.cost:
            rows.append([o.name, "cost", o.cost["_model"], "measured"])
    lines += markdown_table(["row", "run", "where", "status"], rows) if rows else []
    return Section("How these numbers were made", lines)


def run_evals_at_once(ctx: Context, exp: X.Experiment, roots: dict[str, Path]) -> None:
    """Every eval-loso run of ``exp`` at once on one Ray instance: each run is the same
    ``run_command`` as in the row loop, in its own thread of this process, so all rows' folds
    are Ray tasks at the same time (12 rows x 68 folds = 816 tasks, not 12 runs one after the
    other). Each run writes its own results directory; the rows then find them finished
    (``ctx.finished_runs``) and the report is written as usual. A failed run stops the target
    only after the others finished; Ctrl-C cancels every row's tasks (finished folds stay)."""
    from mertool.console import info
    from mertool.folds import ray_executor

    todo: dict[str, tuple[list[str], str]] = {}
    for row in exp.rows:
        for run in row.runs.values():
            if run.kind == "detector":
                continue
            run_dir, argv, line = eval_command(ctx, exp, run, roots)
            key = str(run_dir)
            if key in ctx.finished_runs or key in todo:
                continue
            summary = _read(run_dir / "summary.json")
            if ctx.resume and summary and summary.get("complete"):
                continue
            todo[key] = (argv, line)
    if not todo:
        return
    executor = ray_executor.RayExecutor(
        ctx.address, ctx.cpus_per_fold, ctx.gpus_per_fold, device=ctx.device
    )  # checks the cluster once, up front, in this thread
    info(f"[bold]{exp.target}[/]: {len(todo)} eval-loso run(s) at once on Ray ({executor.prepare()})")
    errors: dict[str, BaseException] = {}

    def work(key: str, argv: list[str], line: str) -> None:
        try:
            run_command(argv, line)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors[key] = exc

    threads = [
        threading.Thread(
            target=work, args=(key, argv, line), name=f"mertool run {Path(key).name}", daemon=True
        )
        for key, (argv, line) in todo.items()
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)  # a timed join: Ctrl-C reaches this thread
    except KeyboardInterrupt:
        ray_executor.request_stop()  # every run cancels its tasks and writes its partial report
        for t in threads:
            t.join()
        ray_executor.STOP.clear()
        raise
    for key, (_, line) in todo.items():
        summary = _read(Path(key) / "summary.json")
        if key not in errors and summary is not None:
            ctx.finished_runs[key] = RunResult(Path(key), line, summary)
    for key in todo:
        if key in errors:
            raise errors[key]


def run_targets(targets: Sequence[str], ctx: Context) -> list[tuple[Path, Path]]:
    out = []
    for t in targets:
        out.append(run_target(t, ctx))
    return out
