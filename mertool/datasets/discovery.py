"""Finding the dataset below the folder a user gave: the one they unzipped into, or ``synth``'s output.

:func:`datasets_below` looks at the subfolders of a root and, under those that are not datasets
themselves, at theirs: two levels at most and at most :data:`MAX_FOLDERS` folders, so a wrong root
(a home folder, a tree of frames) costs a bounded number of directory listings. It does not say
what a dataset is: the caller passes ``recognise(folder) -> reader names`` (auto-detection, or
one named reader). :func:`several_error` and :func:`ambiguous_error` word the two ways the answer
can be unclear, naming every folder and the ``--dataset`` names to use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mertool.datasets.frames import is_image, list_dir
from mertool.errors import DatasetError

#: How far below the given root the search goes (1 = its subfolders).
MAX_DEPTH = 2
#: How many folders the search asks the readers about before it gives up.
MAX_FOLDERS = 64


@dataclass(frozen=True)
class Found:
    """A folder below the root that readers recognise, with their names (usually one)."""

    path: Path
    names: tuple[str, ...]


@dataclass(frozen=True)
class Search:
    """What :func:`datasets_below` found, and whether it stopped at :data:`MAX_FOLDERS`."""

    found: tuple[Found, ...]
    looked_at: int
    cut_short: bool


def _skipped(folder: Path) -> bool:
    """Hidden folders, macOS resource forks (``__MACOSX``), Windows' ``$RECYCLE.BIN``."""
    return folder.name.startswith((".", "__MACOSX", "$"))


def _subfolders(folder: Path) -> list[Path]:
    """The folders to search under ``folder``: none when it holds frames (a clip folder)."""
    try:
        dirs, files = list_dir(folder)
    except OSError:
        return []
    if any(is_image(f) for f in files):
        return []
    return [d for d in dirs if not _skipped(d)]


def datasets_below(
    root: Path,
    recognise: Callable[[Path], Sequence[str]],
    depth: int = MAX_DEPTH,
    limit: int = MAX_FOLDERS,
) -> Search:
    """Folders up to ``depth`` levels below ``root`` that ``recognise`` names a reader for.

    Breadth first, in name order; a recognised folder is not searched further (its own
    subfolders are parts of it). Stops after asking about ``limit`` folders (``cut_short``).
    """
    found: list[Found] = []
    looked = 0
    level = _subfolders(root)
    for lvl in range(depth):
        below: list[Path] = []
        for folder in level:
            if looked >= limit:
                return Search(tuple(found), looked, True)
            looked += 1
            names = tuple(recognise(folder))
            if names:
                found.append(Found(folder, names))
            elif lvl + 1 < depth:
                below.extend(_subfolders(folder))
        level = below
    return Search(tuple(found), looked, False)


def _named(name: str, title: Callable[[str], str]) -> str:
    t = title(name)
    return name if t == name else f"{name} ({t})"


def several_error(root: Path, found: Sequence[Found], title: Callable[[str], str]) -> DatasetError:
    """``root`` holds more than one dataset: list each folder with its reader names."""
    width = max(len(str(f.path)) for f in found)
    lines = [
        f"  {str(f.path):<{width}}  --dataset {' or '.join(_named(n, title) for n in f.names)}" for f in found
    ]
    names = [n for f in found for n in f.names]
    by_name = len(set(names)) == len(names)
    hint = "give one of those folders as the root" + (
        ", or keep this root and add its --dataset NAME" if by_name else ""
    )
    return DatasetError(
        f"{root} holds {len(found)} datasets, not one; say which to read:\n" + "\n".join(lines),
        hint=hint,
    )


def ambiguous_error(folder: Path, names: Sequence[str], title: Callable[[str], str]) -> DatasetError:
    """``folder`` (the root, or the one dataset below it) fits several readers: name one."""
    return DatasetError(
        f"{folder} matches several datasets: {', '.join(_named(n, title) for n in names)}",
        hint="pick one with " + " or ".join(f"--dataset {n}" for n in names),
    )
