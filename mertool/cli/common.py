"""Options shared by the stage commands, so every stage spells them the same way.

Use them as defaults in a typer command::

    def flow(input: str = INPUT, output: str = OUTPUT, on_error: OnError = ON_ERROR, ...):

and call :func:`print_summary` at the end of a stage.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import typer

INPUT = typer.Argument(
    None,
    metavar="[INPUT]",
    help="HDF5 file from an earlier stage, a dataset root (earlier stages run with defaults), or '-'/omitted for stdin.",
    show_default=False,
)
OUTPUT = typer.Option(
    None,
    "--output",
    "-o",
    metavar="FILE",
    help="Output HDF5 file (written atomically); '-' or omitted while piped: stdout.",
    show_default=False,
)
DATASET = typer.Option(
    None,
    "--dataset",
    "-d",
    metavar="NAME",
    help="Dataset reader to use instead of auto-detection (mertool datasets list).",
)
LABEL_MAP = typer.Option(
    None,
    "--label-map",
    metavar="NAME",
    help="Label map (native, megc2019, casme2-5, ...); default: the dataset's own.",
)
RESUME = typer.Option(
    False, "--resume", help="Continue an interrupted run: keep samples already written to -o FILE."
)
RETRY_FAILED = typer.Option(
    False,
    "--retry-failed",
    help="With --resume (implied): process again the samples -o FILE holds as failed, e.g. once "
    "unreadable frames are restored or --data-root is given.",
)
DATA_ROOT = typer.Option(
    None,
    "--data-root",
    metavar="OLD=NEW",
    help="The dataset read at OLD is at NEW here (repeatable); frame files are looked up under NEW. "
    "Also MERTOOL_DATA_ROOT='OLD=NEW;OLD2=NEW2'. mertool inspect --json FILE lists the stored data_roots.",
    show_default=False,
)
WORKERS = typer.Option(
    0, "--workers", "-j", min=0, help="Worker processes; 0 = one per CPU core.", show_default="0 (all cores)"
)
JSON = typer.Option(False, "--json", help="Print a JSON object on stdout instead of tables.")
SEED = typer.Option(0, "--seed", help="Random seed (recorded in the output; same seed, same result).")


#: Where folds run (eval-loso, tables run): the local executor or Ray tasks (docs/cluster.md).
EXECUTOR = typer.Option(
    "local",
    "--executor",
    metavar="local|ray",
    help="Where folds run: local (processes on this machine) or ray (one Ray task per fold, every fold "
    "at once, on a local Ray instance or, with --address, a cluster; docs/cluster.md).",
    rich_help_panel="Run",
)
ADDRESS = typer.Option(
    None,
    "--address",
    envvar="RAY_ADDRESS",
    metavar="ADDR",
    help="Ray cluster to join with --executor ray: auto, HOST:PORT or ray://HOST:PORT (default: "
    "RAY_ADDRESS, else a new local instance).",
    rich_help_panel="Run",
)
CPUS_PER_FOLD = typer.Option(
    1.0, "--cpus-per-fold", min=0.01, metavar="N", help="CPUs of one fold's Ray task.", rich_help_panel="Run"
)
GPUS_PER_FOLD = typer.Option(
    0.0,
    "--gpus-per-fold",
    min=0.0,
    metavar="F",
    help="GPUs of one fold's Ray task; fractions share a GPU (0.25: four folds per GPU).",
    rich_help_panel="Run",
)


def choices(name: str, values: tuple[str, ...]) -> Any:
    """A str Enum of ``values`` for a typer option with fixed choices (member ``dc_rois`` for value
    ``dc-rois``; a Python keyword gets ``_``)."""
    import keyword

    def member(v: str) -> str:
        n = v.replace("-", "_")
        return f"{n}_" if keyword.iskeyword(n) else n

    return Enum(name, {member(v): v for v in values}, type=str)


OnError = choices("OnError", ("skip", "fail"))


ON_ERROR = typer.Option(
    OnError.skip,
    "--on-error",
    help="What to do when a sample fails (no face, corrupt frame, ...): skip it and report it at the end, or stop.",
    case_sensitive=False,
)


def resolve_workers(workers: int) -> int:
    """:func:`mertool.stages.engine.resolve_workers` (the stage engine plans the workers)."""
    from mertool.stages.engine import resolve_workers

    return resolve_workers(workers)


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def print_summary(stage: str, done: int, failed: list[tuple[str, str]], skipped: int = 0) -> None:
    """:func:`mertool.stages.engine.print_summary`: the end-of-stage summary on stderr."""
    from mertool.stages.engine import print_summary

    print_summary(stage, done, failed, skipped)


def call_by_name(func: Any, given: dict[str, Any], *args: Any, **explicit: Any) -> Any:
    """``func(*args, **kwargs)`` where ``kwargs`` are the entries of ``given`` (a command's
    ``locals()``: its options) named like ``func``'s keyword parameters, an Enum as its value,
    and then ``explicit``. A command whose options are named as the function's parameters (or a
    dataclass's fields) hands them on in one line instead of a ``name=name`` list."""
    import inspect

    params = list(inspect.signature(func).parameters.values())[len(args) :]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    kwargs = {
        p.name: (lambda v: v.value if isinstance(v, Enum) else v)(given[p.name])
        for p in params
        if p.kind in kinds and p.name in given
    }
    return func(*args, **{**kwargs, **explicit})


def help_text(text: str) -> str:
    """Reflow a help string for rich: each prose paragraph becomes one line (the terminal wraps
    it); indented example lines stay as they are."""
    paragraphs = []
    for para in text.strip().split("\n\n"):
        lines = para.splitlines()
        if all(line.startswith("  ") for line in lines):
            paragraphs.append("\n".join(lines))
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)
