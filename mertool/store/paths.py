"""Where a sample's frame files are, wherever the sample file is read (docs/schema.md).

A sample stores its dataset root **absolutely** (attribute ``data_root``) and its
``frame_paths`` **relative to that root**, so the same file works from any folder, on another
machine or on a cluster worker. When the data lives somewhere else there, the root is remapped:

* ``--data-root OLD=NEW`` on the commands that open source frames (repeatable), then
* the environment variable ``MERTOOL_DATA_ROOT="OLD=NEW;OLD2=NEW2"`` (mappings separated by
  ``;`` on every system, so a Windows drive colon needs no escaping; OLD cannot contain ``=``).

The first mapping whose OLD is the path or one of its parent folders wins (command-line ones
before the environment's). OLD may also name a folder below the root.

:func:`resolve_frame_paths` is the one rule every reader goes through
(:meth:`~mertool.store.samplefile.SampleRecord.frame_paths`):

1. a sample with ``data_root``: each stored path joined to the root (an absolute stored path, a
   frame outside the root, stays as it is);
2. a sample without it (files from older mertool versions): the stored path as it is, absolute
   or relative to the current folder, as those versions read it;
3. then the first matching mapping is applied.

Video frames are stored as ``VIDEO#N`` and follow the same rule (the video file is the path).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mertool.errors import MertoolError

ENV_DATA_ROOT = "MERTOOL_DATA_ROOT"
#: Separates mappings in MERTOOL_DATA_ROOT.
ENV_SEPARATOR = ";"
CLI_OPTION = "--data-root"


@dataclass(frozen=True)
class RootMap:
    """Frames recorded under ``old`` are now under ``new``; ``origin`` says who asked for it."""

    old: str
    new: str
    origin: str = CLI_OPTION

    def __str__(self) -> str:
        return f"{self.old}={self.new}"


def _norm(path: str) -> str:
    return os.path.normpath(os.path.expanduser(path))


def _rest_under(path: str, prefix: str) -> str | None:
    """``path`` relative to ``prefix`` when ``prefix`` is the path or a parent folder of it
    (whole path components only), else None."""
    if path == prefix:
        return ""
    head = prefix if prefix.endswith(os.sep) else prefix + os.sep
    return path[len(head) :] if path.startswith(head) else None


def parse_root_map(text: str, origin: str = CLI_OPTION) -> RootMap:
    """``OLD=NEW`` -> :class:`RootMap` (NEW made absolute); a clear error for anything else."""
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise MertoolError(
            f"{origin} {text!r}: expected OLD=NEW (the folder the data was read from, then where it is now)",
            hint=f"e.g. {CLI_OPTION} /data/CASME2=/mnt/datasets/CASME2; mertool inspect --json FILE lists the stored data_roots",
        )
    return RootMap(_norm(old.strip()), os.path.abspath(_norm(new.strip())), origin)


def parse_root_maps(values: Iterable[str] | None, origin: str = CLI_OPTION) -> tuple[RootMap, ...]:
    return tuple(parse_root_map(v, origin) for v in values or ())


def env_root_maps(environ: Mapping[str, str] | None = None) -> tuple[RootMap, ...]:
    """The mappings in ``MERTOOL_DATA_ROOT`` (``;``-separated ``OLD=NEW``; empty items ignored)."""
    text = (os.environ if environ is None else environ).get(ENV_DATA_ROOT, "")
    items = [t.strip() for t in text.split(ENV_SEPARATOR) if t.strip()]
    return parse_root_maps(items, origin=ENV_DATA_ROOT)


def remap(path: str, maps: Sequence[RootMap]) -> str:
    """``path`` with the first matching mapping applied (unchanged when none matches).

    A relative path or OLD (files of older versions) is matched as written and as an absolute
    path from the current folder."""
    if not maps:
        return path
    candidates = [_norm(path)]
    if not os.path.isabs(candidates[0]):
        candidates.append(os.path.abspath(candidates[0]))
    for m in maps:
        olds = [m.old] if os.path.isabs(m.old) else [m.old, os.path.abspath(m.old)]
        for cand in candidates:
            for old in olds:
                rest = _rest_under(cand, old)
                if rest is not None:
                    return os.path.join(m.new, rest) if rest else m.new
    return path


def resolve_frame_paths(
    stored: Sequence[str], data_root: str | None, maps: Sequence[RootMap] = ()
) -> list[str]:
    """The paths to open for a sample's stored ``frame_paths`` (see the module docstring)."""
    out = []
    for p in stored:
        p = str(p)
        full = os.path.join(data_root, p) if data_root and not os.path.isabs(p) else p
        out.append(remap(full, maps))
    return out


def resolve_root(data_root: str | None, maps: Sequence[RootMap] = ()) -> str | None:
    """Where the stored ``data_root`` is now (after the mappings); None for older files."""
    return remap(data_root, maps) if data_root else None


def absolute_root(path: str | os.PathLike[str]) -> str:
    """A dataset root as stored: absolute and normalised (symbolic links kept, so a mount
    point that differs between machines stays visible and can be remapped)."""
    return os.path.abspath(_norm(os.fspath(path)))


def relative_frame_paths(paths: Iterable[str | os.PathLike[str]], data_root: str) -> list[str]:
    """Frame paths as stored under ``data_root``: relative to it ('/'-separated), or absolute
    for a frame outside it. Relative inputs are taken from the current folder."""
    root = absolute_root(data_root)
    out = []
    for p in paths:
        full = os.path.abspath(_norm(os.fspath(p)))
        rest = _rest_under(full, root)
        out.append(rest.replace(os.sep, "/") if rest else full)
    return out


def first_missing(paths: Sequence[str]) -> str | None:
    """The first path that is not a readable file (for ``VIDEO#N``: the video file), or None."""
    for p in paths:
        head, sep, tail = p.rpartition("#")
        target = head if sep and tail.isdigit() and not os.path.isfile(p) else p
        if not os.path.isfile(target):
            return p
    return None


def missing_frame_message(
    path: str, file_name: str, data_root: str | None, maps: Sequence[RootMap] = ()
) -> str:
    """Why a frame cannot be opened and what to do, for a sample's error (one line: it is also
    stored in the failed sample's ``error`` attribute)."""
    if data_root:
        now = resolve_root(data_root, maps)
        where = f"data root {data_root}" + (f", mapped to {now}" if now != data_root else "")
        fix = f"if the dataset moved, give {CLI_OPTION} {data_root}=NEW_PATH or set {ENV_DATA_ROOT}={data_root}=NEW_PATH"
    else:
        where = "path stored relative to the folder the stage ran in (an older mertool)"
        fix = f"run from that folder, or map it: {CLI_OPTION} OLD=NEW or {ENV_DATA_ROOT}=OLD=NEW"
    return f"source frame files are not readable: {path} not found (in {file_name}, {where}); {fix}"


# ------------------------------------------------------------------------------------------------
# the command line's mappings, for every sample file opened while a command runs

_CLI_MAPS: ContextVar[tuple[RootMap, ...]] = ContextVar("mertool_data_roots", default=())


def active_root_maps(environ: Mapping[str, str] | None = None) -> tuple[RootMap, ...]:
    """The mappings in force: those of :func:`data_roots` (``--data-root``), then the environment's."""
    return _CLI_MAPS.get() + env_root_maps(environ)


@contextmanager
def data_roots(values: Iterable[str] | None) -> Iterator[tuple[RootMap, ...]]:
    """Apply ``--data-root OLD=NEW`` values to every sample file opened inside the block
    (through chained stages too). Each NEW must be an existing folder."""
    maps = parse_root_maps(values)
    for m in maps:
        if not os.path.isdir(m.new):
            raise MertoolError(
                f"{CLI_OPTION} {m}: {m.new} is not a folder",
                hint="NEW is where the dataset root (or a folder of it) is now on this machine",
            )
    token = _CLI_MAPS.set(_CLI_MAPS.get() + maps)
    try:
        yield maps
    finally:
        _CLI_MAPS.reset(token)
