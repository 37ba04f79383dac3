"""Long videos with their expression intervals: what the spotting readers yield.

The MEGC spotting releases ship whole recordings, not clips cut around one expression: CAS(ME)^2
``rawpic/`` with the code sheet's micro and macro intervals, SAMM long videos
(``SAMM_longvideos/`` and its xlsx), SMIC-E (HS/VIS/NIR long clips) and CAS(ME)^3 part A. A
long-video reader turns such a root, as shipped, into :class:`LongVideo` records, each with the
ground-truth :class:`Expression` intervals of that recording, in the dataset's own absolute frame
numbers (the last integer of each frame file's name).

Readers register with :func:`register_long` and are found by :func:`open_long_videos`, which
auto-detects the release below a root the way :func:`mertool.datasets.base.open_dataset` does for
clip datasets. Clip readers (``mertool datasets``) and long-video readers are separate
registries: the same CAS(ME)^2 tree is 357 clips to the recognition stages and 87 videos to
``mertool spot``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool.datasets.base import Quirk
from mertool.errors import DatasetError

KINDS = ("micro", "macro")


@dataclass(frozen=True)
class Expression:
    """One annotated expression of a long video: frames ``onset..offset`` inclusive.

    ``apex`` is ``None`` where the annotation has none; ``offset`` is never ``None`` (readers
    apply the dataset's documented rule, e.g. CAS(ME)^2's "offset 0 -> use apex", and note it as a
    quirk). ``label`` is the native emotion (lower-cased) where the annotation gives one.
    """

    onset: int
    offset: int
    kind: str  # "micro" | "macro"
    apex: int | None = None
    label: str | None = None
    aus: str | None = None
    name: str | None = None  # the annotation's own id of the expression ("006_1_2", "anger1_1")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"expression kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.offset < self.onset:
            raise ValueError(
                f"expression {self.name or ''} ends ({self.offset}) before it starts ({self.onset})"
            )


@dataclass(frozen=True)
class LongVideo:
    """One recording: its frame files in order and its ground-truth expressions.

    ``frames`` are ordered by ``frame_numbers`` (the dataset's absolute numbers); a video file
    (``.mp4``/``.avi``) is given as ``frames=(path,)`` with ``frame_numbers=()``, read by
    :mod:`mertool.face.sources`.
    """

    id: str  # "<dataset>/<subject>/<video>"
    dataset: str
    subject: str
    video: str
    frames: tuple[Path, ...]
    frame_numbers: tuple[int, ...]
    fps: float
    expressions: tuple[Expression, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: sum(e.kind == k for e in self.expressions) for k in KINDS}


@dataclass
class LongRead:
    """The result of reading one long-video root."""

    name: str
    root: Path
    videos: list[LongVideo]
    quirks: list[Quirk] = field(default_factory=list)
    annotation_files: list[Path] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "root": str(self.root),
            "videos": len(self.videos),
            "subjects": len({v.subject for v in self.videos}),
            "frames": sum(len(v.frame_numbers) for v in self.videos),
            "micro": sum(v.counts()["micro"] for v in self.videos),
            "macro": sum(v.counts()["macro"] for v in self.videos),
            "annotation_files": [str(p) for p in self.annotation_files],
            "warnings": [str(q) for q in self.quirks],
        }


@dataclass(frozen=True)
class LongReaderSpec:
    name: str
    title: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[[Path], LongRead]


_LONG: dict[str, LongReaderSpec] = {}


def register_long(name: str, title: str, description: str, detect: Callable[[Path], bool]):
    """Decorator registering ``read(root) -> LongRead`` as the long-video reader ``name``."""

    def deco(read: Callable[[Path], LongRead]) -> Callable[[Path], LongRead]:
        _LONG[name] = LongReaderSpec(name, title, description, detect, read)
        return read

    return deco


def long_readers() -> dict[str, LongReaderSpec]:
    import mertool.datasets  # noqa: F401  (importing the package registers every reader)

    return dict(_LONG)


def _detect(root: Path) -> list[str]:
    found = []
    for spec in long_readers().values():
        try:
            if spec.detect(root):
                found.append(spec.name)
        except OSError:
            continue
    return found


def open_long_videos(root: str | Path, name: str | None = None) -> LongRead:
    """Read the long videos below ``root`` (the release folder or one or two levels above it)."""
    from mertool.console import info
    from mertool.datasets import discovery

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"{root}: no such folder", hint="give the folder the long videos were unpacked into"
        )
    specs = long_readers()
    if name is not None and name not in specs:
        raise DatasetError(f"unknown long-video dataset {name!r}", hint=f"one of: {', '.join(sorted(specs))}")

    def names_at(d: Path) -> tuple[str, ...]:
        found = _detect(d)
        return tuple(n for n in found if name is None or n == name)

    here = names_at(root)
    where = root
    if not here:
        search = discovery.datasets_below(root, names_at)
        if len(search.found) > 1:
            raise discovery.several_error(root, search.found, lambda n: specs[n].title)
        if not search.found:
            raise DatasetError(
                f"{root} holds no long-video release mertool reads"
                + (f" ({specs[name].title})" if name else ""),
                hint="long-video readers: "
                + ", ".join(f"{s.name} ({s.title})" for s in specs.values())
                + "; give --dataset NAME to pick one",
            )
        where, here = search.found[0].path, search.found[0].names
        info(f"found {specs[here[0]].title} at {where}; reading it")
    if len(here) > 1:
        raise discovery.ambiguous_error(where, list(here), lambda n: specs[n].title)
    result = specs[here[0]].read(where)
    if not result.videos:
        raise DatasetError(
            f"{where}: the {result.name} reader found no long videos",
            hint="; ".join(str(q) for q in result.quirks[:5]) or "check the root folder",
        )
    return result


# ------------------------------------------------------------------------------------------------
# steps every long-video reader takes (the four readers of issue 16 share them)

#: ``(onset, apex, offset)`` absolute frame numbers of one annotated interval.
Interval = tuple[int, int | None, int]


def expression_kind(raw: Any) -> str | None:
    """``micro-expression``, ``Micro - 1/2``, ``Macro`` ... -> ``"micro"``/``"macro"``; None when
    the text names neither or both (case-insensitive)."""
    text = str(raw or "").lower()
    micro, macro = "micro" in text, "macro" in text
    return "micro" if micro and not macro else "macro" if macro and not micro else None


def read_interval(
    onset_cell: Any,
    apex_cell: Any,
    offset_cell: Any,
    say: Callable[[str], None],
    zero_unknown: bool = False,
    has_apex: bool = True,
) -> Interval | None:
    """Onset, apex and offset frame numbers from three annotation cells, or None (row skipped).

    The one rule of all long-video readers: a blank, ``/``, ``-1`` or other non-number apex stays
    ``None``; an offset like that (or ``0`` where ``zero_unknown``: CAS(ME)^2's "not coded") is
    replaced by the apex; without an apex, or without an onset, or with the offset before the
    onset, the row is skipped. Each of these is told by ``say`` (the row's quirk note), and so is
    an apex outside onset..offset (kept). ``has_apex=False``: the annotation has no apex at all
    (SMIC-E), so its absence is not told.
    """
    from mertool.datasets.tables import as_int

    def number(cell: Any, zero: bool) -> tuple[int | None, str]:
        n = as_int(cell)
        if n is not None and (n < 0 or (n == 0 and zero)):
            return None, f"{cell!r} (not coded)"
        if n is None:
            return None, "blank" if cell is None else f"{cell!r} (not a frame number)"
        return n, ""

    onset, why = number(onset_cell, False)
    if onset is None:
        say(f"onset {why}: row skipped")
        return None
    apex, why = number(apex_cell, zero_unknown)
    if apex is None and (has_apex or apex_cell is not None):
        say(f"apex {why}: kept missing")
    offset, why = number(offset_cell, zero_unknown)
    if offset is None:
        if apex is None:
            say(f"offset {why} and no apex: row skipped")
            return None
        say(f"offset {why}: the apex {apex} is used as the offset")
        offset = apex
    if offset < onset:
        say(f"offset {offset} before onset {onset}: row skipped")
        return None
    if apex is not None and not onset <= apex <= offset:
        say(f"apex {apex} outside onset..offset {onset}..{offset}: kept")
    return onset, apex, offset


def long_video_frames(folder: Path, say: Callable[[str], None]) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """The frames of one long video's folder sorted by number (the last integer of each name).

    Stray files (not images, or no number in the name) and a second file with a number already
    seen (``img1.jpg`` beside ``img001.jpg``: the first in name order is kept) are told by
    ``say``, one message each kind.
    """
    from mertool.datasets.frames import list_frames

    frames, numbers, strays = list_frames(folder)
    if strays:
        names = ", ".join(s.name for s in strays[:5]) + (" ..." if len(strays) > 5 else "")
        say(f"{len(strays)} file(s) that are not frames ignored: {names}")
    keep: dict[int, Path] = {}
    doubles: list[str] = []
    for n, f in zip(numbers, frames):
        if n in keep:
            doubles.append(f.name)
        else:
            keep[n] = f
    if doubles:
        say(f"{len(doubles)} file(s) repeat a frame number and are ignored: {', '.join(doubles[:5])}")
    order = sorted(keep)
    return tuple(keep[n] for n in order), tuple(order)


def place_expressions(
    numbers: tuple[int, ...], found: list[tuple[Expression, Callable[[str], None]]], gaps: bool = True
) -> tuple[Expression, ...]:
    """The expressions of one video that its frames hold, sorted by (onset, offset, kind).

    ``numbers`` are the video's frame numbers, ascending. ``found`` pairs each expression with its row's quirk note. An expression none of whose frames
    is on disk is told and left out; frames missing inside one (frame drops, a video cut short)
    are told when ``gaps`` and the expression is kept.
    """
    from bisect import bisect_left

    from mertool.datasets.frames import gap_message

    kept = []
    for e, say in found:
        i = bisect_left(numbers, e.onset)
        if i == len(numbers) or numbers[i] > e.offset:
            say(
                f"none of the frames {e.onset}..{e.offset} of {e.name or 'the expression'} is in the video: skipped"
            )
            continue
        if gaps:
            gap = gap_message(numbers, e.onset, e.offset)
            if gap:
                say(gap)
        kept.append(e)
    return tuple(sorted(kept, key=lambda e: (e.onset, e.offset, e.kind)))


def no_videos(root: Path, title: str, quirks: list[Quirk], hint: str) -> DatasetError:
    """The error of a release that yields no video: the first quirks say why, then ``hint``."""
    why = "; ".join(str(q) for q in quirks[:5])
    return DatasetError(f"{root}: no readable {title} long video", hint=(why + "; " if why else "") + hint)
