"""What a run computes: the protocol's folds, the subset this call runs (``--folds``,
``--shard``, ``--resume``), the check that a results directory holds folds of the same run
(``config.json``), and the per-fold locks that keep two runs from computing one fold at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool import __version__
from mertool.errors import MertoolError
from mertool.evaluation.protocols import (
    Fold,
    check_folds,
    make_folds,
    parse_protocol,
    sample_groups,
    select_folds,
)
from mertool.folds.results import CONFIG, FOLDS_DIR, fold_dir, is_finished
from mertool.store.json_files import read_json, write_json_atomic
from mertool.training.config import RunConfig
from mertool.training.data import SampleTable


def data_fingerprint(table: SampleTable) -> str:
    """SHA-256 over sample ids, labels, classes and every input array: "the same data"."""
    h = hashlib.sha256()
    h.update(json.dumps([table.ids, table.classes, table.datasets, table.subjects]).encode())
    h.update(np.ascontiguousarray(table.labels).tobytes())
    for name in sorted(table.inputs):
        h.update(name.encode())
        h.update(np.ascontiguousarray(table.inputs[name]).tobytes())
    return h.hexdigest()


@dataclass
class RunPlan:
    table: SampleTable
    groups: list[str]
    folds: list[Fold]  # every fold of the protocol
    todo: list[Fold]  # folds this run computes
    skipped: list[Fold]  # selected but already finished (resume)
    out_dir: Path
    cfg: RunConfig
    identity: dict[str, Any] = field(default_factory=dict)


def plan_run(
    table: SampleTable,
    cfg: RunConfig,
    out_dir: Path,
    fold_names: list[str] | None = None,
    shard: str | None = None,
    resume: bool = False,
) -> RunPlan:
    """Folds of the protocol, the subset to run, and the config check against ``out_dir``."""
    protocol = parse_protocol(cfg.protocol)
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    folds = make_folds(protocol, groups, table.labels, table.splits, cfg.seed)
    check_folds(folds, groups, len(table), require_cover=protocol.name != "split")
    identity = {
        "config": cfg.identity(),
        "data": data_fingerprint(table),
        "classes": table.classes,
        "label_map": table.label_map,
        "folds": [f.name for f in folds],
    }
    cfg_path = out_dir / CONFIG
    if cfg_path.is_file():
        old = read_json(cfg_path)
        if old.get("identity") != identity:
            diff = [k for k in identity if old.get("identity", {}).get(k) != identity[k]]
            if "config" in diff:
                a, b = old.get("identity", {}).get("config", {}), identity["config"]
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                diff = [f"config ({', '.join(keys)})" if k == "config" else k for k in diff]
            raise MertoolError(
                f"{out_dir} holds folds of a different run (differs in: {', '.join(diff)})",
                hint="use another -o RESULTS_DIR, or repeat that run's options exactly",
            )
    selected = select_folds(folds, fold_names, shard)
    finished = [f for f in selected if is_finished(out_dir, f)]
    todo = [f for f in selected if not (resume and f in finished)]
    return RunPlan(table, groups, folds, todo, finished if resume else [], out_dir, cfg, identity)


def write_config(plan: RunPlan, source: dict[str, Any], command: str | None) -> None:
    """``config.json`` of a new results directory (an existing one was checked by :func:`plan_run`)."""
    path = plan.out_dir / CONFIG
    if path.is_file():
        return
    write_json_atomic(
        path,
        {
            "identity": plan.identity,
            "input": source,
            "n_samples": len(plan.table),
            "skipped_samples": [list(s) for s in plan.table.skipped],
            "command": command,
            "mertool_version": __version__,
        },
    )


def lock_folds(plan: RunPlan) -> list[Any]:
    """Lock every fold this run computes (``folds/<fold>/.lock``, :mod:`mertool.store.locks`):
    a second run computing one of them into the same RESULTS_DIR at the same time refuses with
    a clear message, while runs of other folds (``--folds``, ``--shard``, other machines) go on
    side by side. A lock goes away with its process, however it ended (the file a killed run
    leaves is removed here once free); the list returned holds them, and dropping it releases them."""
    from mertool.errors import StoreError
    from mertool.store.locks import acquire, cannot_write_error

    todo = {fold_dir(plan.out_dir, f) for f in plan.todo}
    for stale in (plan.out_dir / FOLDS_DIR).glob("*/.lock"):
        if stale.parent not in todo:
            try:
                acquire(stale, "", "").release()
            except (StoreError, OSError):
                pass  # held by a run of other folds, or not ours to remove
    held: list[Any] = []
    try:
        for fold in plan.todo:
            d = fold_dir(plan.out_dir, fold)
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise cannot_write_error(d.parent, exc, f"fold {fold.name}") from exc
            held.append(
                acquire(
                    d / ".lock",
                    f"{plan.out_dir}: fold {fold.name}",
                    hint="wait for that run to finish (then --resume), or give this one another "
                    "-o RESULTS_DIR or other --folds/--shard",
                )
            )
    except BaseException:
        for lock in held:
            lock.release()
        raise
    return held
