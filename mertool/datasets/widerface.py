"""WIDER FACE (face detection benchmark), read as shipped.

Layout (DATASETS.md section 10)::

    ROOT/wider_face_split/wider_face_{train,val}_bbx_gt.txt   (or wider_face_{train,val}.mat)
    ROOT/wider_face_split/wider_face_test_filelist.txt
    ROOT/WIDER_{train,val,test}/images/<event>/<image>.jpg    event = "0--Parade", "10--People_Marching", ...
    ROOT/eval_tools/ground_truth/wider_{face,easy,medium,hard}_val.mat   (optional)

``*_bbx_gt.txt`` records: the image path relative to ``images/``, the face count ``n``, then ``n``
lines ``x1 y1 w h blur expression illumination invalid occlusion pose`` (each value followed by a
space). A record with ``n = 0`` is still followed by one all-zero box line, which is consumed
and discarded (the zero-face quirk).

One :class:`~mertool.datasets.base.Sample` per image: ``subject`` = event folder, ``clip`` =
image stem, ``frames`` = (image path,), ``frame_numbers`` = (0,), and in ``extra``:

* ``split``: ``train`` / ``val`` / ``test``;
* ``boxes``: int32 (N, 4) ``x, y, w, h`` in pixels, every box exactly as annotated, in file order
  (the easy/medium/hard ``gt_list`` indices refer to these positions); ``None`` for test images;
* ``attributes``: int8 (N, 6) in :data:`ATTRIBUTES` order (``None`` for test images);
* ``keep``: bool (N,), False for boxes a detector should not be trained on: ``w`` or ``h`` <= 0,
  or ``invalid`` = 1. Boxes reaching past the image are kept here (the reader does not open
  images); :mod:`mertool.detector.prepare` clips them to the image.

Quirks report zero-size boxes, invalid flags, malformed zero-face records, missing images and
split folders, each with the annotation file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.errors import DatasetError

DATASET = "widerface"
SPLITS = ("train", "val", "test")
#: Attribute columns of a box line after x1 y1 w h, in file order.
ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
SPLIT_DIR = "wider_face_split"
EVAL_DIR = Path("eval_tools") / "ground_truth"
SUBSETS = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Record:
    """One image of a ``*_bbx_gt.txt`` file: ``line`` is the 1-based line of its path."""

    path: str
    boxes: np.ndarray  # int32 (N, 4) x, y, w, h
    attributes: np.ndarray  # int8 (N, 6) in ATTRIBUTES order
    line: int

    @property
    def event(self) -> str:
        return self.path.split("/")[0] if "/" in self.path else ""

    @property
    def stem(self) -> str:
        return Path(self.path).stem


def _ints(text: str) -> list[int] | None:
    try:
        return [int(float(v)) for v in text.split()]
    except (ValueError, OverflowError):  # "nan", "x"; "inf", "1e400" (found by fuzzing)
        return None


def parse_bbx_gt(path: Path, quirks: list[Quirk] | None = None, root: Path | None = None) -> list[Record]:
    """Records of a ``wider_face_{train,val}_bbx_gt.txt`` file, in file order.

    Trailing spaces and blank trailing lines are tolerated. The all-zero line after a ``0`` count
    is consumed; when it is absent (a file edited by hand) a quirk says so and nothing is consumed.
    A line that cannot be a count or a box raises :class:`~mertool.errors.DatasetError` naming the line.
    """
    quirks = quirks if quirks is not None else []
    where = relpath(path, root) if root else str(path)
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    records: list[Record] = []
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name, name_line = lines[i].replace("\\", "/"), i + 1
        if i + 1 >= len(lines):
            raise DatasetError(
                f"{where}, line {name_line}: image {name} has no face-count line (file truncated?)"
            )
        count = _ints(lines[i + 1])
        if count is None or len(count) != 1 or count[0] < 0:
            raise DatasetError(
                f"{where}, line {i + 2}: expected the face count of {name}, found {lines[i + 1]!r}",
                hint="the file must alternate: image path, face count, one line per face",
            )
        n = count[0]
        i += 2
        rows: list[list[int]] = []
        if n == 0:
            nxt = _ints(lines[i]) if i < len(lines) else None
            if nxt is not None and len(nxt) >= 4 and not any(nxt):
                i += 1  # the zero-face quirk: one all-zero line follows a 0 count
            else:
                quirks.append(
                    Quirk(where, f"{name}: 0 faces without the all-zero line that should follow", i)
                )
        for _ in range(n):
            vals = _ints(lines[i]) if i < len(lines) else None
            if vals is None or len(vals) < 4:
                found = repr(lines[i]) if i < len(lines) else "end of file"
                raise DatasetError(
                    f"{where}, line {i + 1}: expected a box 'x1 y1 w h blur expression illumination "
                    f"invalid occlusion pose' of {name} ({n} faces), found {found}"
                )
            rows.append((vals + [0] * 10)[:10])
            i += 1
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 10)
        records.append(Record(name, arr[:, :4].astype(np.int32), arr[:, 4:].astype(np.int8), name_line))
    return records


def parse_filelist(path: Path) -> list[str]:
    """Relative image paths of ``wider_face_test_filelist.txt`` (one per line)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [ln.strip().replace("\\", "/") for ln in text.splitlines() if ln.strip()]


def keep_mask(boxes: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """bool (N,): boxes with positive size and ``invalid`` = 0."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=bool)
    return (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (attributes[:, ATTRIBUTES.index("invalid")] == 0)


# --- .mat files (scipy.io) ----------------------------------------------------------------------


def _cells(value) -> list:
    """A MATLAB cell array loaded by scipy (object ndarray of any shape) as a flat list."""
    arr = np.asarray(value, dtype=object)
    return list(arr.reshape(-1))


def _text(value) -> str:
    arr = np.asarray(value).reshape(-1)
    return str(arr[0]) if arr.size else ""


def load_mat(path: Path) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - scipy raises several kinds for a bad file
        raise DatasetError(f"{path}: cannot be read as a MATLAB .mat file ({exc})") from exc


def mat_boxes(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """``(event, image stem) -> int32 (N, 4) x, y, w, h`` from a ``wider_face_*.mat`` file."""
    mat = load_mat(path)
    missing = [k for k in ("event_list", "file_list", "face_bbx_list") if k not in mat]
    if missing:
        raise DatasetError(
            f"{path}: no {', '.join(missing)} in this .mat file", hint="is it a WIDER FACE file?"
        )
    return {
        key: np.asarray(b, dtype=np.float64).reshape(-1, 4).astype(np.int32)
        for key, b in _per_image(mat, "face_bbx_list")
    }


def _per_image(mat: dict, key: str):
    """``((event, image stem), cell)`` for each image of a WIDER FACE .mat file, ``cell`` from the
    per-event cell array ``key`` (``face_bbx_list``, ``gt_list``) that parallels ``file_list``."""
    for event, files, cells in zip(_cells(mat["event_list"]), _cells(mat["file_list"]), _cells(mat[key])):
        ev = _text(event)
        for f, cell in zip(_cells(files), _cells(cells)):
            yield (ev, Path(_text(f)).stem), cell


def mat_attributes(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """``(event, stem) -> int8 (N, 6)`` attributes from a ``wider_face_*.mat`` file (zeros if absent)."""
    mat = load_mat(path)
    events = [_text(e) for e in _cells(mat["event_list"])]
    files = [[Path(_text(f)).stem for f in _cells(fl)] for fl in _cells(mat["file_list"])]
    out: dict[tuple[str, str], np.ndarray] = {}
    columns = []
    for name in ATTRIBUTES:
        key = f"{name}_label_list"
        columns.append([_cells(v) for v in _cells(mat[key])] if key in mat else None)
    boxes = mat_boxes(path)
    for e, ev in enumerate(events):
        for j, stem in enumerate(files[e]):
            n = len(boxes[(ev, stem)])
            cols = [
                np.asarray(c[e][j], dtype=np.int64).reshape(-1)[:n]
                if c is not None
                else np.zeros(n, np.int64)
                for c in columns
            ]
            cols = [np.pad(c, (0, n - len(c))) for c in cols]
            out[(ev, stem)] = np.stack(cols, axis=1).astype(np.int8) if n else np.zeros((0, 6), np.int8)
    return out


def mat_subset(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """``(event, stem) -> int64 0-based indices`` of the faces that count for an easy/medium/hard
    subset, from ``wider_{easy,medium,hard}_val.mat`` (whose ``gt_list`` holds 1-based MATLAB indices)."""
    mat = load_mat(path)
    if "gt_list" not in mat:
        raise DatasetError(
            f"{path}: no gt_list in this .mat file", hint="use eval_tools/ground_truth/wider_*_val.mat"
        )
    return {key: np.asarray(k, dtype=np.int64).reshape(-1) - 1 for key, k in _per_image(mat, "gt_list")}


def eval_ground_truth(root: Path) -> Path | None:
    """``ROOT/eval_tools/ground_truth`` when it holds wider_face_val.mat and the three subset files."""
    folder = Path(root) / EVAL_DIR
    names = ["wider_face_val.mat"] + [f"wider_{s}_val.mat" for s in SUBSETS]
    return folder if all((folder / n).is_file() for n in names) else None


# --- the reader ---------------------------------------------------------------------------------


def annotation_file(root: Path, split: str) -> Path | None:
    """The split's annotation: ``*_bbx_gt.txt`` (or ``_filelist.txt`` for test), else the ``.mat``."""
    folder = Path(root) / SPLIT_DIR
    txt = folder / (
        f"wider_face_{split}_filelist.txt" if split == "test" else f"wider_face_{split}_bbx_gt.txt"
    )
    if txt.is_file():
        return txt
    mat = folder / f"wider_face_{split}.mat"
    return mat if mat.is_file() else None


def images_dir(root: Path, split: str) -> Path:
    return Path(root) / f"WIDER_{split}" / "images"


def detect(root: Path) -> bool:
    return any(annotation_file(root, s) is not None for s in SPLITS)


def _records_from_mat(path: Path) -> list[Record]:
    boxes = mat_boxes(path)
    attrs = mat_attributes(path)
    return [Record(f"{ev}/{stem}.jpg", b, attrs[(ev, stem)], 0) for (ev, stem), b in boxes.items()]


def _split_records(root: Path, split: str, quirks: list[Quirk]) -> tuple[Path, list[Record]] | None:
    path = annotation_file(root, split)
    if path is None:
        return None
    if split == "test" and path.suffix == ".txt":
        return path, [
            Record(p, np.zeros((0, 4), np.int32), np.zeros((0, 6), np.int8), n + 1)
            for n, p in enumerate(parse_filelist(path))
        ]
    if path.suffix == ".mat":
        quirks.append(
            Quirk(relpath(path, root), f"no wider_face_{split}_bbx_gt.txt; boxes read from this .mat")
        )
        return path, _records_from_mat(path)
    return path, parse_bbx_gt(path, quirks, root)


def _box_quirks(where: str, records: list[Record], quirks: list[Quirk]) -> None:
    """One quirk per kind (zero-size, invalid), with a count and the first line, not one per box."""
    inv = ATTRIBUTES.index("invalid")
    kinds = (
        ("with w or h <= 0", lambda r: (r.boxes[:, 2] <= 0) | (r.boxes[:, 3] <= 0)),
        ("flagged invalid", lambda r: r.attributes[:, inv] == 1),
    )
    for what, flagged in kinds:
        hits = [(r, int(flagged(r).sum())) for r in records if len(r.boxes)]
        hits = [(r, k) for r, k in hits if k]
        if hits:
            n, first = sum(k for _, k in hits), hits[0][0]
            message = f"{n} box(es) {what} in {len(hits)} image(s), first in {first.path}; kept in boxes, marked keep=False"
            quirks.append(Quirk(where, message, first.line or None))


@register(
    "widerface",
    "WIDER FACE face detection: wider_face_split/*_bbx_gt.txt + WIDER_{train,val,test}/images/<event>/*.jpg",
    detect,
    title="WIDER FACE",
)
def read_widerface(root: Path) -> DatasetRead:
    root = Path(root)
    quirks: list[Quirk] = []
    samples: list[Sample] = []
    files: list[Path] = []
    seen: dict[str, str] = {}
    for split in SPLITS:
        found = _split_records(root, split, quirks)
        if found is None:
            continue
        path, records = found
        files.append(path)
        where = relpath(path, root)
        _box_quirks(where, records, quirks)
        img_dir = images_dir(root, split)
        if not img_dir.is_dir():
            quirks.append(
                Quirk(
                    relpath(img_dir, root),
                    f"folder missing: the {len(records)} {split} image(s) of {where} skipped",
                )
            )
            continue
        missing = []
        for rec in records:
            image = img_dir / rec.path
            if not image.is_file():
                missing.append(rec)
                continue
            event = rec.event or "-"
            sid = f"{DATASET}/{event}/{rec.stem}"
            if sid in seen:
                quirks.append(
                    Quirk(where, f"{sid} already read from the {seen[sid]} split; skipped", rec.line or None)
                )
                continue
            seen[sid] = split
            annotated = split != "test"
            samples.append(
                Sample(
                    id=sid,
                    dataset=DATASET,
                    subject=event,
                    clip=rec.stem,
                    frames=(image,),
                    frame_numbers=(0,),
                    fps=None,
                    emotion=None,
                    extra={
                        "split": split,
                        "boxes": rec.boxes if annotated else None,
                        "attributes": rec.attributes if annotated else None,
                        "keep": keep_mask(rec.boxes, rec.attributes) if annotated else None,
                        "annotation": where,
                        "line": rec.line,
                    },
                )
            )
        for rec in missing[:20]:
            quirks.append(
                Quirk(where, f"image {relpath(img_dir / rec.path, root)} missing; skipped", rec.line or None)
            )
        if len(missing) > 20:
            quirks.append(Quirk(where, f"... {len(missing) - 20} more missing image(s) skipped"))
    if not files:
        raise DatasetError(
            f"{root}: no WIDER FACE annotation ({SPLIT_DIR}/wider_face_train_bbx_gt.txt, ..._val_..., "
            "wider_face_test_filelist.txt)",
            hint="give the folder that holds wider_face_split/ and WIDER_train/, WIDER_val/",
        )
    return DatasetRead(DATASET, root, samples, quirks, annotation_files=files, default_label_map="native")


def iter_split(read: DatasetRead, split: str) -> Iterator[Sample]:
    """The samples of one split, in file order."""
    return (s for s in read.samples if s.extra.get("split") == split)
