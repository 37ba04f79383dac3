"""Where mertool talks to people: a rich console on **stderr** and progress bars.

stdout is reserved for data (HDF5 in a pipe, ``--json`` output, tables a user asked for), so
everything meant for a person — progress, warnings, summaries of a run — goes to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

#: Messages for people (stderr). Width is fixed when not a terminal so logs stay readable.
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120, soft_wrap=True)
#: Output a user asked for (tables, JSON) on stdout.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 120, soft_wrap=True)

_quiet = os.environ.get("MERTOOL_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    """Silence progress bars and info messages (warnings and errors still print)."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def info(message: str) -> None:
    if not _quiet:
        err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)


def make_progress(transient: bool = False) -> Progress:
    """A progress display on stderr with count, rate-free ETA and elapsed time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
        disable=_quiet,
    )


@contextmanager
def progress_task(description: str, total: int | None) -> Iterator[callable]:
    """Context manager yielding ``advance(n=1, status="")`` for one progress bar."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")

        def advance(n: int = 1, status: str = "") -> None:
            progress.update(task, advance=n, status=status)

        yield advance


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar on stderr."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_task(description, total) as advance:
        for item in items:
            yield item
            advance()
