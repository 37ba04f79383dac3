"""Provenance: what made a file, from what, with which parameters (root attributes).

Root attributes of every mertool sample file:

``format``, ``format_version``   identify the schema (checked on read)
``stage``                        the stage that wrote the file
``mertool_version``              the code version
``command``                      the exact command line
``params_json``                  the stage's parameters, JSON
``created``                      ISO-8601 UTC time
``inputs_json``                  ``[{"path": ..., "sha256": ...}, ...]`` the inputs read
``history_json``                 provenance of the earlier stages, oldest first
``complete``                     True once the writer committed (partial files say False)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mertool import __version__

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_manifest(paths: Iterable[str | Path], root: str | Path | None = None) -> str:
    """Digest of a file listing (relative path and size of each file), cheap for big trees.

    Used for dataset roots, where hashing every frame would cost more than the stage itself;
    annotation files are hashed in full with :func:`sha256_file`.
    """
    h = hashlib.sha256()
    root = Path(root) if root is not None else None
    for p in sorted(str(x) for x in paths):
        path = Path(p)
        rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
        size = path.stat().st_size if path.exists() else -1
        h.update(f"{rel.as_posix()}\t{size}\n".encode())
    return h.hexdigest()


def command_line(argv: Sequence[str] | None = None) -> str:
    """``argv`` as one shell-quoted line, the program by its file name (``mertool detect-faces ...``).

    The command-line layer (``mertool/cli``) calls it on ``sys.argv`` and passes the line down as
    ``command``: nothing below the CLI reads ``sys.argv``. Without ``argv`` it reads ``sys.argv``
    (for callers not yet given the line explicitly)."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def make_provenance(
    stage: str,
    params: dict[str, Any] | None = None,
    inputs: list[dict[str, str]] | None = None,
    history: list[dict[str, Any]] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """The provenance record of one stage run, as plain JSON-able values. ``command`` is the command
    line that made it, given by the caller (the CLI passes its own; a Python caller may pass its
    own or nothing: then no command is recorded)."""
    return {
        "stage": stage,
        "mertool_version": __version__,
        "command": command,
        "params": _jsonable(params or {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": _jsonable(inputs or []),
        "history": _jsonable(history or []),
    }


def input_record(path: str | Path, sha256: str | None = None, kind: str = "file") -> dict[str, str]:
    """One entry of ``inputs``: a file (hashed in full) or a dataset root (hash given)."""
    return {"path": str(path), "kind": kind, "sha256": sha256 if sha256 is not None else sha256_file(path)}


def dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), sort_keys=True)
