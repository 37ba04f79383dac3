"""Reading and writing mertool sample files (HDF5), with atomic writes, resume and pipes.

This module is the only place that opens HDF5 files for mertool's data (see
:mod:`mertool.store.schema` for the layout). Typical stage::

    with open_input(args.input) as src, open_output(args.output, stage="flow", params=p,
                                                   source=src) as dst:
        for rec in src.records():
            if dst.is_done(rec.id):                       # --resume
                continue
            try:
                arrays = compute(rec.array("frames"))
            except SampleError as exc:
                dst.write_failed(rec, exc.reason)
                continue
            dst.write(rec, arrays=arrays, attrs={...})  # copies rec forward, adds outputs

Writes go to a hidden ``.NAME.partial`` file beside the target, flushed after every sample, and
are renamed onto the target only when the stage finishes: an interrupted run never leaves a
half-written target, and ``--resume`` continues from the partial file. Output ``-`` (or a piped
stdout) streams the finished file to stdout; input ``-`` (or a piped stdin) is spooled to a
temporary file first, since HDF5 needs random access.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mertool.errors import MertoolError, SampleError, StoreError
from mertool.store import locks as L
from mertool.store import paths as P
from mertool.store import schema as S
from mertool.store.provenance import dumps, input_record, make_provenance, sha256_file

# ------------------------------------------------------------------------------------------------
# attribute encoding


def _to_python(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_to_python(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_attrs(attrs: h5py.AttributeManager, where: str = "") -> dict[str, Any]:
    """Attributes as Python values (``*_json`` ones decoded). An attribute h5py cannot read or
    JSON text that does not parse raises a :class:`StoreError` naming ``where``."""
    out: dict[str, Any] = {}
    try:
        items = list(attrs.items())
    except (OSError, TypeError, ValueError, KeyError) as exc:
        raise StoreError(f"{where}: attributes cannot be read ({exc}); the file is corrupt") from None
    for key, value in items:
        value = _to_python(value)
        if key.endswith("_json") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise StoreError(
                    f"{where}: attribute {key!r} is not valid JSON ({exc})",
                    hint="the file was not written by mertool, or was edited by hand: re-create it",
                ) from None
        out[key] = value
    return out


def _attr_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` cannot be an attribute of ``kind`` (:data:`schema.ATTR_KINDS`), or None."""
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31
        return None if ok else "expected an integer frame number"
    if kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
        return None if ok else "expected a finite number"
    if kind == "str":
        return None if isinstance(value, str) else "expected text"
    if kind == "strs":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "expected a list of text"
    if kind == "status":
        return (
            None
            if value in (S.STATUS_OK, S.STATUS_FAILED)
            else f"expected {S.STATUS_OK!r} or {S.STATUS_FAILED!r}"
        )
    if kind == "color":
        return None if value in ("rgb", "gray") else "expected 'rgb' or 'gray'"
    return None


_KIND_WORDS = {
    "u": "unsigned integers (uint8 pixels)",
    "f": "floats",
    "iu": "integers",
    "fiu": "numbers",
    "biu": "booleans",
    "OSU": "text",
}


def _array_problem(name: str, ds: h5py.Dataset) -> str | None:
    """Why dataset ``name`` cannot be what the schema says it is, or None (shape and dtype only:
    nothing is read)."""
    base = name.split("/", 1)[0]
    shape, kind = ds.shape, ds.dtype.kind
    if h5py.check_string_dtype(ds.dtype) is not None:
        kind = "O"
    if base == S.CROPS_GROUP:
        ok = kind == "u" and shape is not None and 3 <= len(shape) <= 5 and all(shape)
        return None if ok else "expected uint8 crops (K, S, S[, 3]) or (K, R, s, s[, 3])"
    if base == S.ROI_BOXES_GROUP:
        ok = kind in "fiu" and shape is not None and len(shape) == 3 and shape[-1] == 4
        return None if ok else "expected boxes (K, R, 4)"
    rule = S.ARRAY_RULES.get(name)
    if rule is None:
        return None
    ndims, kinds, _ = rule
    if shape is None or len(shape) not in ndims or kind not in kinds:
        what = _KIND_WORDS.get(kinds, kinds)
        return f"expected {' or '.join(str(n) for n in ndims)} dimensions of {what}"
    if name in (S.D_FRAMES, S.D_ONSET_IMAGE, S.D_APEX_IMAGE, S.D_DIFF, S.D_STRAIN, S.D_FLOW) and not all(
        shape
    ):
        return "expected a non-empty image"
    if name == S.D_FRAMES and len(shape) == 4 and shape[-1] not in (1, 3):
        return "expected 1 or 3 colour channels"
    if name in (S.D_ONSET_IMAGE, S.D_APEX_IMAGE, S.D_DIFF) and len(shape) == 3 and shape[-1] not in (1, 3):
        return "expected 1 or 3 colour channels"
    if name == S.D_FLOW and shape[-1] != 2:
        return "expected (H, W, 2)"
    if name in (S.D_LANDMARKS, S.D_LANDMARKS_ALIGNED) and (shape[-1] != 2 or shape[-2] != 68):
        return "expected (T, 68, 2): dlib's 68 landmarks per frame"
    if name == S.D_BOXES and shape[-1] != 4:
        return "expected (T, 4)"
    if name == S.D_ALIGN_MATRIX and shape[-2:] != (2, 3):
        return "expected (2, 3) or (T, 2, 3)"
    return None


def check_sample(group: h5py.Group, attrs: dict[str, Any], file_name: str, sample_id: str) -> None:
    """Raise a :class:`StoreError` naming the file, the sample and the attribute or array when a
    sample's attributes or arrays are not what :mod:`mertool.store.schema` says (a file that
    claims to be a mertool file but was written by something else, or edited)."""

    def bad(what: str, found: str, why: str) -> StoreError:
        return StoreError(
            f"{file_name}: sample {sample_id}: {what} is {found}; {why}",
            hint="the file was not written by mertool, or was edited by hand: re-create it with the stage that wrote it",
        )

    for key, kind in S.ATTR_KINDS.items():
        if key in attrs and attrs[key] is not None:
            why = _attr_problem(kind, attrs[key])
            if why:
                raise bad(f"attribute {key!r}", _short(attrs[key]), why)
    counts: dict[str, int] = {}
    crops: dict[str, int] = {}
    for name in _walk_arrays(group):
        try:
            ds = group[name]
            why = _array_problem(name, ds)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise bad(f"array {name!r}", "unreadable", str(exc)) from None
        if why:
            raise bad(f"array {name!r}", f"{ds.dtype} {ds.shape}", why)
        rule = S.ARRAY_RULES.get(name)
        if rule is not None and rule[2] is not None:
            counts[name] = ds.shape[rule[2]]
        if name.split("/", 1)[0] in (S.CROPS_GROUP, S.ROI_BOXES_GROUP) or name == S.D_CROP_FRAME_NUMBERS:
            crops[name] = ds.shape[0]
    for what, found_counts in (("the frame count", counts), ("the count of cut frames", crops)):
        if len(set(found_counts.values())) > 1:
            found = ", ".join(f"{n} {c}" for n, c in found_counts.items())
            raise bad(what, f"not the same in every array ({found})", "each array holds one entry per frame")


def _root_problem(attrs: dict[str, Any]) -> str | None:
    """What is wrong with a sample file's provenance attributes, or None."""
    if not isinstance(attrs.get("stage", "?"), str):
        return f"root attribute 'stage' is {_short(attrs['stage'])}, not a stage name"
    history = attrs.get("history_json", [])
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("stage", "?"), str) for h in history
    ):
        return f"root attribute 'history_json' is {_short(history)}, not a list of earlier stages"
    for key, kind in (("params_json", dict), ("inputs_json", list)):
        if key in attrs and not isinstance(attrs[key], kind):
            return f"root attribute {key!r} is {_short(attrs[key])}, not a JSON {kind.__name__}"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def encode_attr(attrs: h5py.AttributeManager, key: str, value: Any) -> None:
    """Write one attribute; ``None`` deletes it (a missing value is an absent attribute)."""
    if value is None:
        if key in attrs:
            del attrs[key]
        return
    if key.endswith("_json"):
        attrs[key] = dumps(value)
        return
    if isinstance(value, dict):
        raise TypeError(f"attribute {key!r}: dicts go in attributes named '*_json'")
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            attrs[key] = np.array([], dtype=h5py.string_dtype())
        elif all(isinstance(v, str) for v in value):
            attrs[key] = np.array(list(value), dtype=h5py.string_dtype())
        else:
            attrs[key] = np.asarray(value)
        return
    attrs[key] = value


# ------------------------------------------------------------------------------------------------
# array storage


def _dataset_options(arr: np.ndarray) -> dict[str, Any]:
    """Chunking and compression for one array.

    Stacks (T, H, W), (T, H, W, C), (K, R, h, w[, C]) are chunked one leading item (a frame) at a
    time so a stage can read single frames; a single image (H, W) or (H, W, C<=4) is one chunk.
    Float arrays are compressed with lzf (fast; flow and displacement fields shrink well).
    uint8 images are stored uncompressed: sensor noise makes them nearly incompressible (gzip
    saved ~10 % on test frames at 25x the write time, more than the face stage's per-frame budget).
    """
    if arr.dtype.kind in "OSU" or arr.nbytes < 4096 or arr.ndim == 0:
        return {}
    single_image = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] <= 4)
    chunks = arr.shape if single_image else (1, *arr.shape[1:])
    opts: dict[str, Any] = {"chunks": tuple(max(1, c) for c in chunks)}
    if arr.dtype.kind == "f":
        opts.update(compression="lzf", shuffle=True)
    return opts


def write_array(group: h5py.Group, name: str, value: Any) -> None:
    if name in group:
        del group[name]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, Path)) for v in value):
        group.create_dataset(name, data=np.array([str(v) for v in value], dtype=h5py.string_dtype()))
        return
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        arr = arr.astype(h5py.string_dtype())
    group.create_dataset(name, data=arr, **_dataset_options(arr))


def read_array(ds: h5py.Dataset) -> np.ndarray | list[str]:
    if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype) is not None:
        return [_to_python(v) for v in ds[()].tolist()] if ds.shape else _to_python(ds[()])
    return ds[()]


def _walk_arrays(group: h5py.Group, prefix: str = "") -> Iterator[str]:
    for key, item in group.items():
        if isinstance(item, h5py.Dataset):
            yield prefix + key
        elif isinstance(item, h5py.Group):
            yield from _walk_arrays(item, prefix + key + "/")


# ------------------------------------------------------------------------------------------------
# a file damaged on disk

#: What h5py raises when a file's bytes are damaged (a checksum, a cut-short heap, a bad B-tree).
H5_READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError)


@contextmanager
def reading(where: str) -> Iterator[None]:
    """Turn h5py's errors on a damaged file into one :class:`StoreError` naming ``where``.

    Wraps h5py calls only (never mertool's own logic, whose bugs must stay visible)."""
    try:
        yield
    except StoreError:
        raise
    except H5_READ_ERRORS as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise StoreError(
            f"{where}: cannot read it ({first}); the file is truncated or corrupt",
            hint="re-run the stage that wrote it",
        ) from None


# ------------------------------------------------------------------------------------------------
# records


class MissingArray(StoreError, SampleError):
    """A sample lacks an array it should hold. A :class:`StoreError` (readers such as training
    skip the sample) and a :class:`SampleError` (a stage marks that sample failed with this
    reason and goes on, instead of stopping the run)."""

    def __init__(self, file_name: str, sample_id: str, name: str, have: list[str], hint: str | None = None):
        reason = f"no array {name!r} in {file_name} (it has: {', '.join(have) or 'none'})"
        MertoolError.__init__(self, f"{file_name}: sample {sample_id}: {reason}", hint)
        self.sample_id = sample_id
        self.reason = reason


@dataclass
class SampleRecord:
    """One sample as read from a file: its attributes and lazy access to its arrays.

    Array access only works while the file is open (inside the ``with`` block). ``frame_paths``
    come back resolved (:meth:`frame_paths`): ready to open from the current folder.
    """

    id: str
    attrs: dict[str, Any]
    _group: h5py.Group | None = field(default=None, repr=False)
    #: the data-root mappings in force when the file was opened (:mod:`mertool.store.paths`)
    root_maps: tuple[P.RootMap, ...] = field(default=(), repr=False)
    #: the file the sample was read from, for messages
    file_name: str = field(default="?", repr=False)

    @property
    def ok(self) -> bool:
        return self.attrs.get(S.A_STATUS, S.STATUS_OK) == S.STATUS_OK

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def has(self, name: str) -> bool:
        if self._group is None:
            return False
        with reading(f"{self.file_name}: sample {self.id}"):
            return name in self._group and isinstance(self._group[name], h5py.Dataset)

    def array(self, name: str) -> Any:
        if not self.has(name):
            raise MissingArray(
                self.file_name,
                self.id,
                name,
                self.array_names(),
                hint="run the stage that makes it first (mertool inspect FILE shows what a file holds)",
            )
        if name == S.D_FRAME_PATHS:
            return self.frame_paths()
        with reading(f"{self.file_name}: sample {self.id}: array {name!r}"):
            return read_array(self._group[name])  # type: ignore[index]

    # -- source frames
    @property
    def data_root(self) -> str | None:
        """Where the dataset root recorded by detect-faces is now (mappings applied); None for
        files of older versions, whose frame paths are relative to the folder the stage ran in."""
        return P.resolve_root(self.attrs.get(S.A_DATA_ROOT), self.root_maps)

    def frame_paths(self) -> list[str]:
        """The source frame files to open (:func:`mertool.store.paths.resolve_frame_paths`)."""
        if not self.has(S.D_FRAME_PATHS):
            raise MissingArray(
                self.file_name,
                self.id,
                S.D_FRAME_PATHS,
                self.array_names(),
                hint="run detect-faces on the dataset root, a folder of frames or a video",
            )
        with reading(f"{self.file_name}: sample {self.id}: array {S.D_FRAME_PATHS!r}"):
            stored = read_array(self._group[S.D_FRAME_PATHS])  # type: ignore[index]
        return P.resolve_frame_paths(stored, self.attrs.get(S.A_DATA_ROOT), self.root_maps)

    def missing_frames_error(self, paths: list[str] | None = None) -> SampleError | None:
        """A :class:`SampleError` naming the first frame file that cannot be found (this file,
        this sample, and the ``--data-root`` that would fix a moved dataset), or None when
        every frame is there."""
        paths = self.frame_paths() if paths is None else paths
        missing = P.first_missing(paths)
        if missing is None:
            return None
        stored_root = self.attrs.get(S.A_DATA_ROOT)
        return SampleError(
            self.id,
            P.missing_frame_message(missing, self.file_name, stored_root, self.root_maps),
            hint=f"mertool inspect --json {self.file_name} lists the stored data_roots; "
            f"{P.CLI_OPTION} OLD=NEW or {P.ENV_DATA_ROOT}=OLD=NEW says where it is now",
        )

    def array_names(self) -> list[str]:
        if self._group is None:
            return []
        with reading(f"{self.file_name}: sample {self.id}"):
            return list(_walk_arrays(self._group))

    def load(self, names: list[str] | None = None) -> dict[str, Any]:
        return {n: self.array(n) for n in (names if names is not None else self.array_names())}


# ------------------------------------------------------------------------------------------------
# reading


def check_file(path: Path, name: str | None = None) -> None:
    """Raise a clear StoreError when ``path`` is not a readable mertool sample file; messages
    say ``name`` (``<stdin>`` for a spooled pipe, whose temporary file means nothing to a user)."""
    name = name or str(path)
    if not path.exists():
        raise StoreError(f"{name}: no such file")
    if path.is_dir():
        raise StoreError(
            f"{name} is a folder, not an HDF5 sample file", hint="give a .h5 file written by mertool"
        )
    if path.stat().st_size == 0:
        raise StoreError(
            f"{name} is empty", hint="the stage that should have written it failed; run it again"
        )
    if not h5py.is_hdf5(str(path)):
        hint = "give a .h5 file written by a mertool stage"
        if name == "<stdin>":
            hint = "pipe the output of a mertool stage into this one (or give an input FILE)"
        raise StoreError(f"{name} is not an HDF5 file", hint=hint)


class SampleFile:
    """A mertool sample file opened for reading. Use as a context manager.

    ``data_roots`` are the ``OLD=NEW`` mappings its records resolve frame paths with; None:
    those in force (``--data-root`` of the running command, then ``MERTOOL_DATA_ROOT``).
    """

    def __init__(
        self,
        path: str | Path,
        display_name: str | None = None,
        data_roots: tuple[P.RootMap, ...] | None = None,
    ):
        self.path = Path(path)
        self.name = display_name or str(path)
        self.root_maps = P.active_root_maps() if data_roots is None else tuple(data_roots)
        check_file(self.path, self.name)
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise StoreError(
                f"{self.name}: cannot open HDF5 file ({exc}); it is truncated or corrupt",
                hint="re-run the stage that wrote it",
            ) from exc
        try:
            with reading(self.name):
                attrs = decode_attrs(self._h5.attrs, self.name)
        except StoreError:
            self._h5.close()
            raise
        fmt = attrs.get("format")
        if fmt != S.FORMAT_NAME:
            self._h5.close()
            raise StoreError(
                f"{self.name} is an HDF5 file but not a mertool sample file (format attribute: {fmt!r})",
                hint="mertool stages read files written by mertool stages; start from a dataset root instead",
            )
        version = attrs.get("format_version")
        if version not in S.READABLE_VERSIONS:
            self._h5.close()
            raise StoreError(
                f"{self.name} has format version {version}; this mertool ({attrs.get('mertool_version', '?')} "
                f"wrote it) reads versions {list(S.READABLE_VERSIONS)}",
                hint="re-create the file with this version of mertool",
            )
        problem = _root_problem(attrs)
        if problem:
            self._h5.close()
            raise StoreError(
                f"{self.name}: {problem}",
                hint="the file was not written by mertool, or was edited by hand: re-create it",
            )
        self.attrs = attrs
        self._ids: list[str] | None = None

    # -- provenance
    @property
    def stage(self) -> str:
        return self.attrs.get("stage", "?")

    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete", False))

    @property
    def provenance(self) -> dict[str, Any]:
        keys = ("stage", "mertool_version", "command", "created")
        prov = {k: self.attrs.get(k) for k in keys}
        prov["params"] = self.attrs.get("params_json", {})
        prov["inputs"] = self.attrs.get("inputs_json", [])
        return prov

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.attrs.get("history_json", []))

    @property
    def stages_done(self) -> list[str]:
        return [h.get("stage", "?") for h in self.history] + [self.stage]

    # -- samples
    def ids(self) -> list[str]:
        if self._ids is None:
            ids: list[str] = []
            with reading(self.name):
                root = self._h5.get(S.SAMPLES_GROUP)
            if root is not None:
                stack = [root]
                while stack:
                    group = stack.pop()
                    with reading(f"{self.name}: group {group.name}"):
                        items = [group[key] for key in sorted(group.keys(), reverse=True)]
                        items = [
                            (item, S.A_ID in item.attrs) for item in items if isinstance(item, h5py.Group)
                        ]
                    for item, is_sample in items:
                        if is_sample:
                            ids.append(self._sample_id(item))
                        else:
                            stack.append(item)
            self._ids = sorted(ids)
        return list(self._ids)

    def _sample_id(self, group: h5py.Group) -> str:
        """The ``id`` attribute of a sample group, checked against where the group is."""
        with reading(f"{self.name}: group {group.name}"):
            value = _to_python(group.attrs[S.A_ID])
        where = group.name[len(S.SAMPLES_GROUP) + 2 :]
        if value != where:
            raise StoreError(
                f"{self.name}: group {group.name} holds a sample whose id attribute is {_short(value)} "
                f"(a sample's id is its place: {where!r})",
                hint="the file was not written by mertool, or was edited by hand: re-create it",
            )
        return value

    def __len__(self) -> int:
        return len(self.ids())

    def __contains__(self, sample_id: str) -> bool:
        with reading(self.name):
            return f"{S.SAMPLES_GROUP}/{sample_id}" in self._h5

    def group(self, sample_id: str) -> h5py.Group:
        if sample_id not in self:
            raise StoreError(
                f"{self.name}: no sample {sample_id!r}", hint="mertool inspect FILE lists the samples"
            )
        with reading(f"{self.name}: sample {sample_id}"):
            return self._h5[f"{S.SAMPLES_GROUP}/{sample_id}"]

    def record(self, sample_id: str) -> SampleRecord:
        """One sample, checked against the schema (:func:`check_sample`)."""
        group = self.group(sample_id)
        with reading(f"{self.name}: sample {sample_id}"):
            attrs = decode_attrs(group.attrs, f"{self.name}: sample {sample_id}")
            check_sample(group, attrs, self.name, sample_id)
        return SampleRecord(sample_id, attrs, group, self.root_maps, self.name)

    def records(self, ok_only: bool = False) -> Iterator[SampleRecord]:
        for sid in self.ids():
            rec = self.record(sid)
            if ok_only and not rec.ok:
                continue
            yield rec

    def close(self) -> None:
        try:
            self._h5.close()
        except Exception:  # noqa: BLE001 - closing twice is harmless
            pass

    def __enter__(self) -> SampleFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------
# writing


def _partial_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


#: Free space kept in reserve on the output's device: HDF5 writes its metadata (the group tree,
#: attribute heaps) when a sample is flushed and when the file is closed.
SPACE_RESERVE = 8 * 2**20


def _space_needed(sample: Any, arrays: Mapping[str, Any] | None) -> int:
    """Bytes one sample's write may add: its new arrays and the arrays copied forward."""
    total = 64 * 1024
    for value in (arrays or {}).values():
        total += int(getattr(value, "nbytes", 0) or 0) or 4096
    if isinstance(sample, SampleRecord) and sample._group is not None:
        for name in sample.array_names():
            try:
                total += int(sample._group[name].id.get_storage_size())
            except Exception:  # noqa: BLE001 - an estimate only
                total += 4096
    return total


def _why(exc: OSError) -> str:
    text = str(exc)
    if exc.errno == errno.ENOSPC or "No space left" in text:
        return "no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return "permission denied"
    if exc.errno == errno.EROFS or "Read-only file system" in text:
        return "the file system is read-only"
    if exc.strerror:
        return exc.strerror
    return text.splitlines()[0] if text else exc.__class__.__name__


class SampleWriter:
    """Writes one sample file atomically; see the module docstring.

    ``target`` is a path, or ``None`` for stdout. ``source`` is the file the samples come from
    (its provenance becomes this file's history); ``inputs`` lists other inputs read.
    ``retry_failed`` (with ``resume``): samples the resumed file holds as failed are not done,
    so the stage processes them again.

    A sample's ``data_root`` attribute is stored absolute, and ``frame_paths`` written with it
    are stored relative to it (:mod:`mertool.store.paths`).
    """

    def __init__(
        self,
        target: Path | None,
        stage: str,
        params: Mapping[str, Any] | None = None,
        source: SampleFile | None = None,
        inputs: list[dict[str, str]] | None = None,
        resume: bool = False,
        command: str | None = None,
        retry_failed: bool = False,
    ):
        self.target = target
        self.stage = stage
        self.retry_failed = retry_failed
        resume = resume or retry_failed
        self._committed = False
        history = []
        if source is not None:
            history = source.history + [source.provenance]
            inputs = [
                input_record(source.name, source.attrs.get("_sha256") or sha256_file(source.path))
            ] + list(inputs or [])
        prov = make_provenance(stage, dict(params or {}), inputs, history, command)

        #: the lock that keeps a second run off this output (None for stdout)
        self._lock: L.OutputLock | None = None
        if target is None:
            try:
                fd, tmp = tempfile.mkstemp(prefix="mertool-", suffix=".h5")
            except OSError as exc:
                raise L.cannot_write_error(Path(tempfile.gettempdir()), exc, "a temporary file") from exc
            os.close(fd)
            self.partial = Path(tmp)
            mode = "w"
        else:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise L.cannot_write_error(target.parent, exc, str(target)) from exc
            self._lock = L.acquire(
                L.lock_path_for(target),
                str(target),
                hint="wait for that run to finish, or give this one another -o FILE",
            )
            self.partial = _partial_path(target)
            mode = "w"
        try:
            if target is not None and resume:
                if not self.partial.exists() and target.exists():
                    try:
                        shutil.copyfile(target, self.partial)
                    except OSError as exc:
                        self.partial.unlink(missing_ok=True)
                        raise L.cannot_write_error(target.parent, exc, str(self.partial)) from exc
                if self.partial.exists():
                    mode = "a"
            self._open(mode)
            self.resumed = mode == "a" and S.SAMPLES_GROUP in self._h5
            if self.resumed and self._h5.attrs.get("stage") not in (None, stage):
                self._h5.close()
                raise StoreError(
                    f"cannot resume: {self.partial} was written by stage {self._h5.attrs.get('stage')!r}, not {stage!r}",
                    hint="drop --resume or remove the file",
                )
        except BaseException:
            self._release()
            raise
        try:
            self._start(prov)
        except BaseException as exc:
            try:
                self._h5.close()
            except Exception:  # noqa: BLE001
                pass
            self._release()
            if isinstance(exc, OSError):
                raise self._write_error(exc, None) from exc
            raise

    def _open(self, mode: str) -> None:
        try:
            self._h5 = h5py.File(self.partial, mode, track_order=True)
        except OSError as exc:
            if mode != "a" or isinstance(exc, PermissionError):
                raise L.cannot_write_error(
                    self.partial.parent, exc, str(self.target or self.partial)
                ) from exc
            # an interrupted write can leave the partial file unreadable: start over
            from mertool.console import warn

            warn(f"{self.partial} could not be reopened to resume; starting this stage afresh")
            try:
                self._h5 = h5py.File(self.partial, "w", track_order=True)
            except OSError as exc2:
                raise L.cannot_write_error(self.partial.parent, exc2, str(self.target)) from exc2

    def _start(self, prov: dict[str, Any]) -> None:
        attrs = self._h5.attrs
        encode_attr(attrs, "format", S.FORMAT_NAME)
        encode_attr(attrs, "format_version", S.FORMAT_VERSION)
        encode_attr(attrs, "stage", prov["stage"])
        encode_attr(attrs, "mertool_version", prov["mertool_version"])
        encode_attr(attrs, "command", prov["command"])
        encode_attr(attrs, "created", prov["created"])
        encode_attr(attrs, "params_json", prov["params"])
        encode_attr(attrs, "inputs_json", prov["inputs"])
        encode_attr(attrs, "history_json", prov["history"])
        encode_attr(attrs, "complete", False)
        self._samples = self._h5.require_group(S.SAMPLES_GROUP)
        self.n_written = 0
        self.n_failed = 0
        #: failed samples the resumed file held (kept as they are unless ``retry_failed``)
        self.resumed_failed = self._failed_ids() if self.resumed else []

    # -- queries
    def is_done(self, sample_id: str) -> bool:
        """True when a resumed file already holds this sample: ok, or failed unless
        ``retry_failed`` (then a failed sample is done again; the one place ``--retry-failed``
        acts, for every stage)."""
        if sample_id not in self._samples:
            return False
        attrs = self._samples[sample_id].attrs
        if S.A_ID not in attrs:
            return False
        return not (self.retry_failed and _to_python(attrs.get(S.A_STATUS)) == S.STATUS_FAILED)

    def _failed_ids(self) -> list[str]:
        out: list[str] = []
        self._samples.visititems(
            lambda name, obj: (
                out.append(_to_python(obj.attrs[S.A_ID]))
                if isinstance(obj, h5py.Group)
                and S.A_ID in obj.attrs
                and _to_python(obj.attrs.get(S.A_STATUS)) == S.STATUS_FAILED
                else None
            )
        )
        return out

    def done_ids(self) -> list[str]:
        out: list[str] = []
        self._samples.visititems(
            lambda name, obj: (
                out.append(_to_python(obj.attrs[S.A_ID]))
                if isinstance(obj, h5py.Group) and S.A_ID in obj.attrs
                else None
            )
        )
        return out

    # -- writes
    def _fresh_group(self, sample_id: str) -> h5py.Group:
        if sample_id in self._samples:
            del self._samples[sample_id]
        return self._samples.create_group(sample_id, track_order=True)

    def write(
        self,
        sample: SampleRecord | str,
        arrays: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> None:
        """Write one sample. A :class:`SampleRecord` is copied forward (attributes and arrays,
        minus ``drop``), then ``attrs`` and ``arrays`` are added or replaced.

        The ``id`` attribute, which makes the group a sample (and, on ``--resume``, a finished
        one), is written last, just before the flush: a run killed in the middle of a sample
        leaves a group without it, which the resumed run writes again. A device about to run
        full stops the stage with a clear error before HDF5 meets the full disk (the HDF5
        library does not survive that: h5py 3.16 crashes the process with a segmentation fault).
        """
        sample_id = sample.id if isinstance(sample, SampleRecord) else sample
        self._check_space(sample_id, _space_needed(sample, arrays))
        try:
            self._write(sample, sample_id, arrays, attrs, drop)
        except OSError as exc:
            raise self._write_error(exc, sample_id) from exc

    def _write(
        self,
        sample: SampleRecord | str,
        sample_id: str,
        arrays: Mapping[str, Any] | None,
        attrs: Mapping[str, Any] | None,
        drop: tuple[str, ...],
    ) -> None:
        group = self._fresh_group(sample_id)
        if isinstance(sample, SampleRecord):
            for key, value in sample.attrs.items():
                if key != S.A_ID:
                    encode_attr(group.attrs, key, value)
            if sample._group is not None:
                for name in sample.array_names():
                    if name in drop or any(name.startswith(d + "/") for d in drop):
                        continue
                    parent = name.rsplit("/", 1)[0] if "/" in name else ""
                    dest = group.require_group(parent) if parent else group
                    sample._group.copy(sample._group[name], dest, name=name.rsplit("/", 1)[-1])
        for key, value in (attrs or {}).items():
            if key != S.A_ID:
                encode_attr(group.attrs, key, value)
        if S.A_STATUS not in group.attrs:
            encode_attr(group.attrs, S.A_STATUS, S.STATUS_OK)
        root = _to_python(group.attrs.get(S.A_DATA_ROOT))
        if root is not None:
            root = P.absolute_root(root)
            encode_attr(group.attrs, S.A_DATA_ROOT, root)
        for name, value in (arrays or {}).items():
            if name == S.D_FRAME_PATHS and root is not None:
                value = P.relative_frame_paths(value, root)
            write_array(group, name, value)
        encode_attr(group.attrs, S.A_ID, sample_id)
        self._h5.flush()
        if group.attrs[S.A_STATUS] == S.STATUS_FAILED:
            self.n_failed += 1
        else:
            self.n_written += 1

    def _check_space(self, sample_id: str | None, needed: int) -> None:
        try:
            free = shutil.disk_usage(self.partial.parent).free
        except OSError:
            return
        if free < needed + SPACE_RESERVE:
            raise self._write_error(OSError(errno.ENOSPC, "No space left on device"), sample_id)

    def _write_error(self, exc: OSError, sample_id: str | None) -> StoreError:
        """The clear message for a write that failed (a full disk, a read-only folder...)."""
        where = self.target if self.target is not None else "the output stream"
        at = f" at sample {sample_id}" if sample_id else ""
        kept = (
            f"; the samples finished before it are kept in {self.partial}"
            if self.target is not None and sample_id
            else ""
        )
        hint = (
            "free some space (or write elsewhere with -o), then re-run with --resume"
            if self.target is not None
            else "free some space in the temporary folder (TMPDIR), then run again"
        )
        return StoreError(f"cannot write {where}{at}: {_why(exc)}{kept}", hint=hint)

    def write_failed(
        self, sample: SampleRecord | str, reason: str, attrs: Mapping[str, Any] | None = None
    ) -> None:
        """Record that a sample failed at this stage, keeping what earlier stages wrote."""
        merged = dict(attrs or {})
        merged[S.A_STATUS] = S.STATUS_FAILED
        merged[S.A_ERROR] = reason
        self.write(sample, attrs=merged)

    # -- finishing
    def commit(self) -> Path | None:
        """Finish: rename the partial file onto the target, or stream it to stdout."""
        try:
            self._check_space(None, 64 * 1024)
            encode_attr(self._h5.attrs, "complete", True)
            encode_attr(self._h5.attrs, "n_samples", len(self.done_ids()))
            self._h5.close()
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise self._write_error(exc, None) from exc
            raise
        self._committed = True
        try:
            if self.target is None:
                try:
                    with open(self.partial, "rb") as fh:
                        shutil.copyfileobj(fh, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
                finally:
                    self.partial.unlink(missing_ok=True)
                return None
            try:
                with open(self.partial, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(self.partial, self.target)
            except OSError as exc:
                raise self._write_error(exc, None) from exc
            return self.target
        finally:
            self._release()

    def abort(self) -> None:
        """Stop without committing: the partial file stays for ``--resume`` (stdout temp is removed)."""
        try:
            self._h5.close()
        except Exception:  # noqa: BLE001
            pass
        if self.target is None:
            self.partial.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and not self._committed:
            self.commit()
        elif not self._committed:
            self.abort()
