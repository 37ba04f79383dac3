"""Where a stage's HDF5 comes from and goes to: files, stdin and stdout.

Rules (the same for every stage, as gzip does it):

* input ``-`` or omitted: read HDF5 from stdin (an error if stdin is a terminal);
* output ``-``, or omitted while stdout is piped: write HDF5 to stdout;
* output omitted while stdout is a terminal: refuse, and say to use ``-o FILE`` or a pipe;
* ``-o FILE``: write atomically (see :class:`~mertool.store.samplefile.SampleWriter`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mertool.errors import StoreError
from mertool.store.paths import RootMap
from mertool.store.samplefile import SampleFile, SampleWriter

STDIO = "-"


def is_stdio(arg: str | Path | None) -> bool:
    return arg is None or str(arg) == STDIO


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is None or sys.stdin.isatty()
    except (AttributeError, ValueError):
        return True


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def spool_stdin() -> Path:
    """Copy stdin to a temporary file (HDF5 needs random access) and return its path."""
    if stdin_is_terminal():
        raise StoreError(
            "no input given and stdin is a terminal",
            hint="give an input FILE or dataset root, or pipe a mertool stage into this one",
        )
    fd, tmp = tempfile.mkstemp(prefix="mertool-stdin-", suffix=".h5")
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh)
    if os.path.getsize(tmp) == 0:
        os.unlink(tmp)
        raise StoreError(
            "stdin was empty: the stage before this one in the pipe wrote nothing",
            hint="look at the error the previous stage printed above",
        )
    return Path(tmp)


@contextmanager
def open_input(arg: str | Path | None, data_roots: tuple[RootMap, ...] | None = None) -> Iterator[SampleFile]:
    """Open a sample file from a path, or from stdin for ``-``/None (``data_roots``: see
    :class:`SampleFile`)."""
    if is_stdio(arg):
        tmp = spool_stdin()
        try:
            with SampleFile(tmp, display_name="<stdin>", data_roots=data_roots) as sf:
                yield sf
        finally:
            tmp.unlink(missing_ok=True)
    else:
        with SampleFile(Path(arg), data_roots=data_roots) as sf:  # type: ignore[arg-type]
            yield sf


def output_target(arg: str | Path | None) -> Path | None:
    """Resolve ``-o``: a Path, or None meaning stdout. Refuses to write HDF5 to a terminal."""
    if arg is not None and str(arg) != STDIO:
        return Path(arg)
    if stdout_is_terminal():
        raise StoreError(
            "refusing to write binary HDF5 to a terminal",
            hint="use -o FILE.h5, or pipe into the next stage (… | mertool spot-apex | …)",
        )
    return None


@contextmanager
def open_output(
    arg: str | Path | None,
    stage: str,
    params: Mapping[str, Any] | None = None,
    source: SampleFile | None = None,
    inputs: list[dict[str, str]] | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    command: str | None = None,
) -> Iterator[SampleWriter]:
    """A :class:`SampleWriter` for ``-o`` (file, ``-`` or omitted), committed on success.
    ``retry_failed`` resumes too, and processes the samples that failed again; ``command`` is the
    command line recorded in the file's provenance."""
    target = output_target(arg)
    if (resume or retry_failed) and target is None:
        flag = "--retry-failed" if retry_failed else "--resume"
        raise StoreError(f"{flag} needs -o FILE (a stream on stdout cannot be resumed)")
    writer = SampleWriter(
        target,
        stage,
        params,
        source=source,
        inputs=inputs,
        resume=resume,
        command=command,
        retry_failed=retry_failed,
    )
    try:
        yield writer
    except BaseException:
        writer.abort()
        if target is not None and writer.partial.exists():
            from mertool.console import warn

            warn(f"stopped; samples finished so far are kept in {writer.partial} (re-run with --resume)")
        raise
    else:
        writer.commit()
        if writer.resumed_failed and not retry_failed:
            from mertool.console import info

            info(
                f"{len(writer.resumed_failed)} sample(s) had failed before this --resume and were kept "
                "as they are; add --retry-failed to process them again"
            )
