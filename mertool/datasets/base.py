"""What every dataset reader yields, and the registry that finds the reader for a root.

A reader turns a dataset root *exactly as its owners ship it* into :class:`Sample` records and a
list of :class:`Quirk` warnings. Readers register themselves with :func:`register`; the CLI and
the stages call :func:`open_dataset`, which auto-detects the dataset from the root unless a name
is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool.errors import DatasetError
from mertool.store import schema as S


@dataclass(frozen=True)
class Quirk:
    """A non-fatal oddity a reader met: names the file (and row) so a user can look."""

    file: str
    message: str
    row: int | None = None  # 1-based row in the annotation sheet, as a spreadsheet shows it

    def __str__(self) -> str:
        where = f"{self.file}" + (f", row {self.row}" if self.row is not None else "")
        return f"{where}: {self.message}"


def relpath(path: str | Path, root: str | Path) -> str:
    """``path`` relative to ``root`` (posix style) for quirk messages; the full path when outside it."""
    path, root = Path(path), Path(root)
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Sample:
    """One clip (or one still image, for RAF-DB / WIDER FACE), as shipped.

    ``frames`` are ordered by ``frame_numbers``, the dataset's own absolute numbers (the last
    integer in each file name). ``onset``/``apex``/``offset`` use those numbers and are ``None``
    when the annotation has no value (an apex written ``/``, SMIC's absent apex): never guessed.
    """

    id: str  # stable: "<dataset>/<subject>/<clip>"
    dataset: str
    subject: str  # the LOSO key, normalised per DATASETS.md section 12
    clip: str
    frames: tuple[Path, ...]
    frame_numbers: tuple[int, ...]
    fps: float | None
    emotion: str | None  # native emotion, lower-cased and stripped
    labels: dict[str, str | None] = field(default_factory=dict)  # label map -> label (None: excluded)
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    aus: tuple[str, ...] = ()
    aus_raw: str | None = None
    # reader-specific; "split" (RAF-DB train/test) and "variant" (raw/cropped, HS/VIS/NIR) are
    # written to the sample file as attributes, the rest stays in memory (boxes, landmark files...)
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self, label_map: str) -> str | None:
        return self.labels.get(label_map)

    def to_attrs(self, label_map: str) -> dict[str, Any]:
        """Sample attributes for the HDF5 store (see :mod:`mertool.store.schema`)."""
        return {
            S.A_ID: self.id,
            S.A_DATASET: self.dataset,
            S.A_SUBJECT: self.subject,
            S.A_CLIP: self.clip,
            S.A_EMOTION: self.emotion,
            S.A_LABEL_MAP: label_map,
            S.A_LABEL: self.labels.get(label_map),
            S.A_LABELS_JSON: self.labels,
            S.A_ONSET: self.onset,
            S.A_APEX: self.apex,
            S.A_OFFSET: self.offset,
            S.A_FPS: self.fps,
            S.A_AUS: list(self.aus),
            S.A_AUS_RAW: self.aus_raw,
            S.A_SPLIT: self.extra.get("split"),
            S.A_VARIANT: self.extra.get("variant"),
        }

    def to_arrays(self) -> dict[str, Any]:
        import numpy as np

        return {
            S.D_FRAME_NUMBERS: np.asarray(self.frame_numbers, dtype=np.int32),
            S.D_FRAME_PATHS: [str(p) for p in self.frames],
        }


@dataclass
class DatasetRead:
    """The result of reading one root: samples, the quirks met, and the files that were read."""

    name: str
    root: Path
    samples: list[Sample]
    quirks: list[Quirk] = field(default_factory=list)
    annotation_files: list[Path] = field(default_factory=list)
    default_label_map: str = "native"

    @property
    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.samples})

    def class_counts(self, label_map: str | None = None) -> dict[str, int]:
        """Label -> count under ``label_map`` (default: the dataset's); excluded samples not counted."""
        lm = label_map or self.default_label_map
        counts = Counter(s.labels.get(lm) for s in self.samples)
        counts.pop(None, None)
        return dict(sorted(counts.items()))

    def label_maps(self) -> list[str]:
        maps: set[str] = set()
        for s in self.samples:
            maps.update(s.labels)
        return sorted(maps)

    def info(self) -> dict[str, Any]:
        """The summary ``mertool datasets info --json`` prints."""
        return {
            "dataset": self.name,
            "root": str(self.root),
            "samples": len(self.samples),
            "subjects": len(self.subjects),
            "subject_ids": self.subjects,
            "label_map": self.default_label_map,
            "classes": self.class_counts(),
            "classes_by_label_map": {lm: self.class_counts(lm) for lm in self.label_maps()},
            "annotation_files": [str(p) for p in self.annotation_files],
            "warnings": [str(q) for q in self.quirks],
        }


@dataclass(frozen=True)
class ReaderSpec:
    """One registered reader.

    ``detect(root)`` says whether auto-detection picks this reader for ``root`` (variants such as
    a cropped release step aside when the main reader applies); ``accepts(root)`` whether the
    reader can read ``root`` at all (defaults to ``detect``), which is what finds the root below a
    given folder when ``--dataset`` names the reader. ``title`` is the name people know
    (``CASME II``), for messages.
    """

    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[[Path], DatasetRead]
    label_maps: tuple[str, ...] = ("native",)
    default_label_map: str = "native"
    aliases: tuple[str, ...] = ()
    title: str = ""
    accepts: Callable[[Path], bool] | None = None

    def can_read(self, root: Path) -> bool:
        """``accepts(root)`` (``detect`` when the reader has none); an unreadable folder is False."""
        try:
            return bool((self.accepts or self.detect)(root))
        except OSError:
            return False


_REGISTRY: dict[str, ReaderSpec] = {}


def register(
    name: str,
    description: str,
    detect: Callable[[Path], bool],
    label_maps: Iterable[str] = ("native",),
    default_label_map: str = "native",
    aliases: Iterable[str] = (),
    title: str | None = None,
    accepts: Callable[[Path], bool] | None = None,
) -> Callable[[Callable[[Path], DatasetRead]], Callable[[Path], DatasetRead]]:
    """Decorator registering a reader function ``read(root) -> DatasetRead``.

    ``title`` is the dataset's usual name for messages (default: ``name``); ``accepts`` is given
    by readers whose ``detect`` deliberately says no to roots they can read (see :class:`ReaderSpec`).
    """

    def deco(read: Callable[[Path], DatasetRead]) -> Callable[[Path], DatasetRead]:
        spec = ReaderSpec(
            name,
            description,
            detect,
            read,
            tuple(label_maps),
            default_label_map,
            tuple(aliases),
            title or name,
            accepts,
        )
        _REGISTRY[name] = spec
        return read

    return deco


def _load_readers() -> None:
    # importing the package imports every reader module, each of which registers itself
    import mertool.datasets  # noqa: F401


def readers() -> dict[str, ReaderSpec]:
    _load_readers()
    return dict(_REGISTRY)


def get_reader(name: str) -> ReaderSpec:
    specs = readers()
    for spec in specs.values():
        if name == spec.name or name in spec.aliases:
            return spec
    raise DatasetError(
        f"unknown dataset {name!r}", hint=f"one of: {', '.join(sorted(specs))} (mertool datasets list)"
    )


def detect_dataset(root: Path) -> list[str]:
    """Names of the readers that recognise ``root``."""
    return [spec.name for spec in readers().values() if _safe_detect(spec, root)]


def _safe_detect(spec: ReaderSpec, root: Path) -> bool:
    try:
        return bool(spec.detect(root))
    except OSError:
        return False


def title(name: str) -> str:
    """The dataset's usual name (``CASME II``) for a reader name; the name itself when unknown."""
    spec = readers().get(name)
    return spec.title if spec is not None else name


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise DatasetError(f"{root}: no such folder", hint="give the folder the dataset was unpacked into")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder", hint="give the dataset's root folder")


def resolve_root(root: str | Path, name: str | None = None) -> tuple[ReaderSpec, Path]:
    """The reader for ``root`` and the folder it reads: ``root`` itself, or the one dataset below it.

    Without ``name`` the dataset is auto-detected; when nothing recognises ``root`` itself, its
    subfolders are searched (two levels, :mod:`mertool.datasets.discovery`) so the folder a
    dataset was unzipped into (``~/data`` holding ``SMIC/``) or ``mertool synth``'s output
    (holding ``CASME2/``) works too. With ``name`` the same search looks for a folder that reader
    can read. Several datasets below, or a folder that fits several readers, raise a
    :class:`DatasetError` listing the folders and ``--dataset`` names to use.
    """
    from mertool.datasets import discovery

    root = Path(root)
    _check_folder(root)
    if name:
        spec = get_reader(name)
        if spec.can_read(root):
            return spec, root
        search = discovery.datasets_below(root, lambda d: (spec.name,) if spec.can_read(d) else ())
        if len(search.found) > 1:
            raise discovery.several_error(root, search.found, title)
        # nothing below: the reader reads ``root`` and says what it misses there
        return spec, search.found[0].path if search.found else root
    found = detect_dataset(root)
    if len(found) > 1:
        raise discovery.ambiguous_error(root, found, title)
    if found:
        return get_reader(found[0]), root
    search = discovery.datasets_below(root, detect_dataset)
    if len(search.found) > 1:
        raise discovery.several_error(root, search.found, title)
    if search.found:
        (below,) = search.found
        if len(below.names) > 1:
            raise discovery.ambiguous_error(below.path, below.names, title)
        return get_reader(below.names[0]), below.path
    if not any(root.iterdir()):
        raise DatasetError(f"{root} is empty", hint="give the folder the dataset was unpacked into")
    searched = (
        f"the first {search.looked_at} of its subfolders"
        if search.cut_short
        else f"its subfolders ({discovery.MAX_DEPTH} levels)"
    )
    raise DatasetError(
        f"{root} does not look like any supported dataset, nor does any of {searched}",
        hint="check the root (mertool datasets list shows the layouts) or name it with --dataset",
    )


def open_dataset(root: str | Path, name: str | None = None) -> DatasetRead:
    """Read a dataset root, auto-detecting which dataset it is unless ``name`` is given.

    The root may also be the folder holding the dataset (see :func:`resolve_root`); the message
    ``found CASME II at .../CASME2; reading it`` then says which folder is read.
    """
    from mertool.console import info

    spec, where = resolve_root(root, name)
    if where != Path(root):
        info(f"found {spec.title} at {where}; reading it")
    try:
        result = spec.read(where)
    except PermissionError as exc:
        raise DatasetError(
            f"{exc.filename or where}: permission denied while reading the {spec.name} dataset",
            hint=f"make the tree readable, e.g. chmod -R u+rX {where}",
        ) from exc
    if not result.samples:
        raise DatasetError(
            f"{where}: the {spec.name} reader found no samples",
            hint="; ".join(str(q) for q in result.quirks[:5]) or "check the root folder",
        )
    return result
