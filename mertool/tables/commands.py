"""The commands of a table target, run as Python calls.

A table's report lists every command a user can paste (``mertool crop-rois … -o rois.h5``,
``mertool eval-loso …``); the runner keeps each as its argument list and :func:`run_command` runs
it here by calling the function behind that command (a pipeline stage, ``train``,
``eval-loso``, the detector's ``synth``/``prepare``/``train``/``eval``, ``tables
frames-as-samples``) with the options as keyword arguments (:func:`keyword_args`) and the command
line for its provenance. No command-line parser runs and ``sys.argv`` is never read: what ran is
the line the report prints, by construction.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from mertool.errors import MertoolError

#: short options the table commands use -> their long names
SHORT = {"-o": "output", "-j": "workers", "-m": "model", "-d": "dataset"}
#: options that may be given several times (a list of values)
REPEATABLE = {"opt", "loss_opt", "data_root"}


def _value(raw: str) -> Any:
    """An option value as the command line types it: integers and decimals as numbers."""
    if re.fullmatch(r"[-+]?\d+", raw):
        return int(raw)
    return float(raw) if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?", raw) else raw


def keyword_args(args: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """A command's arguments -> ``(positionals, options)``, options by keyword name.

    ``["in.h5", "--input-size", "32", "--opt", "a=1", "--no-plots", "-o", "r"]`` ->
    ``(["in.h5"], {"input_size": 32, "opt": ["a=1"], "no_plots": True, "output": "r"})``: an option
    followed by another option (or by nothing) is a switch (True); numbers become numbers;
    :data:`REPEATABLE` options collect a list. Positionals come first, as the tables write them.
    """
    positionals: list[str] = []
    options: dict[str, Any] = {}
    items = [str(a) for a in args]
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("-") or item == "-":
            if options:
                raise MertoolError(f"{item!r} after the options: give positionals first")
            positionals.append(item)
            i += 1
            continue
        name = SHORT.get(item) or item.lstrip("-").replace("-", "_")
        takes_value = i + 1 < len(items) and not items[i + 1].startswith("--") and items[i + 1] not in SHORT
        value: Any = (items[i + 1] if name in REPEATABLE else _value(items[i + 1])) if takes_value else True
        i += 2 if takes_value else 1
        if name in REPEATABLE:
            options.setdefault(name, []).append(value)
        else:
            options[name] = value
    return positionals, options


# ------------------------------------------------------------------------------------------------
# the commands


def _stage(name: str, inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    """``mertool STAGE INPUT [options] -o FILE``: the stages it needs first run as the command
    would run them (:func:`mertool.stages.chain.prepared_input`), then the stage."""
    from mertool.stages.chain import prepared_input, requirements, stage

    (source,) = inputs
    output = kw.pop("output")
    if name == "detect-faces":
        return stage(name).run(source, output, **kw, command=command)
    # options that only reach the stages run first (crop-rois' --workers is detect-faces')
    raw_keys = ("dataset", "label_map", "workers") if name == "crop-rois" else ("dataset", "label_map")
    raw = {k: kw.pop(k) for k in raw_keys if k in kw}
    with prepared_input(source, requirements(name), raw_options=raw, command=command) as sf:
        return stage(name).run(sf.path, output, **kw, command=command)


def _config(kw: dict[str, Any]) -> Any:
    from mertool.training import options

    return options.run_config(kw)


def _train(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    """``mertool train INPUT [options] -o MODEL``."""
    import torch

    from mertool.training import options
    from mertool.training.device import resolve_device
    from mertool.training.prepare import prepared_samples
    from mertool.training.trainer import load_samples, train_file

    (source,) = inputs
    cfg = _config(kw)
    device = resolve_device(str(kw.get("device", "auto")))[0]
    if kw.get("threads"):
        torch.set_num_threads(int(kw["threads"]))  # as the command does, for the rest of the process
    with prepared_samples(source, options.input_stage(cfg), dataset=kw.get("dataset"), command=command) as sf:
        table = load_samples(sf, cfg)
    trained, _ = train_file(None, cfg, kw["output"], device, table=table, command=command)
    return trained


def _eval_loso(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    """``mertool eval-loso INPUT [options] -o RESULTS_DIR`` (one seed, all folds)."""
    from mertool.console import err, is_quiet
    from mertool.folds.report import console_table
    from mertool.folds.run import run_evaluation
    from mertool.training import options
    from mertool.training.prepare import prepared_samples

    (source,) = inputs
    cfg = _config(kw)
    executor: Any = str(kw.get("executor", "local"))
    if executor == "ray":
        from mertool.folds.ray_executor import RayExecutor

        executor = RayExecutor(
            str(kw["address"]) if kw.get("address") else None, float(kw.get("cpus_per_fold", 1.0)),
            float(kw.get("gpus_per_fold", 0.0)), int(kw.get("threads", 0)),
            device=str(kw.get("device", "auto")),
        )  # fmt: skip
    with prepared_samples(source, options.input_stage(cfg), dataset=kw.get("dataset"), command=command) as sf:
        outcome = run_evaluation(
            sf, cfg, kw["output"], resume=bool(kw.get("resume")), workers=int(kw.get("workers", 0)),
            threads=int(kw.get("threads", 0)), device=str(kw.get("device", "auto")),
            plots=not kw.get("no_plots"), command=command, executor=executor,
            progress=threading.current_thread() is threading.main_thread(),  # rows in threads: no live bars
        )  # fmt: skip
    if not is_quiet():
        err.print(console_table(outcome.summary))
    if outcome.failed:
        name, reason = outcome.failed[0]
        raise MertoolError(f"`{command}`: fold {name} failed: {reason}")
    return outcome


def _frames_as_samples(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    from mertool.tables.frames import expand_frames

    (source,) = inputs
    return expand_frames(source, kw["output"], command=command)


def _detector_synth(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    from mertool.detector.synthetic import make_synthetic_wider

    return make_synthetic_wider(kw["output"], n_train=kw.get("train", 16), n_val=kw.get("val", 8),
                                n_test=kw.get("test", 0), seed=kw.get("seed", 0))  # fmt: skip


def _detector_prepare(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    from mertool.detector.prepare import prepare_widerface

    (root,) = inputs
    return prepare_widerface(root, kw["output"])


def _detector_train(inputs: list[str], kw: dict[str, Any], command: str) -> Any:
    from mertool.detector.train import train

    (data,) = inputs
    return train(data, kw["output"], **{k: kw[k] for k in kw if k != "output"})


def _detector_eval(inputs: list[str], kw: dict[str, Any], command: str) -> dict[str, Any]:
    """``mertool detector eval WEIGHTS DATA [options] --json``: what it prints, as a dict."""
    from mertool.detector.evaluate import evaluate

    weights, data = inputs
    result = evaluate(weights, data, **{k: kw[k] for k in kw if k != "json"})
    return json.loads(json.dumps(result.as_dict(), default=str))


_STAGES = ("detect-faces", "spot-apex", "crop-rois", "flow")
COMMANDS: dict[str, Callable[[list[str], dict[str, Any], str], Any]] = {
    "train": _train,
    "eval-loso": _eval_loso,
    "tables frames-as-samples": _frames_as_samples,
    "detector synth": _detector_synth,
    "detector prepare": _detector_prepare,
    "detector train": _detector_train,
    "detector eval": _detector_eval,
}


def run_command(argv: Sequence[str], command: str) -> Any:
    """Run ``mertool ARGV`` (``["eval-loso", "in.h5", "--preset", …]``) as the Python call behind
    it, recording ``command`` (its line in the report) where the output keeps provenance; returns
    what the call returns."""
    argv = [str(a) for a in argv]
    if argv[0] in _STAGES:
        inputs, kw = keyword_args(argv[1:])
        return _stage(argv[0], inputs, kw, command)
    name = " ".join(argv[:2]) if argv[0] in ("detector", "tables") else argv[0]
    if name not in COMMANDS:
        raise MertoolError(f"a table ran `mertool {name}`, which it cannot run as a Python call")
    inputs, kw = keyword_args(argv[len(name.split()) :])
    return COMMANDS[name](inputs, kw, command)
