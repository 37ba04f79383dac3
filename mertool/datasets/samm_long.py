"""SAMM long videos (SAMM-LV, the MEGC spotting release): whole recordings with micro and macro intervals.

Layout read (DATASETS.md section 2.6)::

    SAMM_longvideos/                              the root (also SAMMLV/, SAMM_MEGC/: any name)
    ├── SAMM_LongVideos_V3_Release.xlsx           also _V1_, _V2_, .xls; or in a labels/ folder
    └── SAMM_longvideos/006_1/006_1_0001.jpg ...  video folders; or directly in the root

The workbook is found by name (``SAMM*Long*Video*``) in the root or a ``label(s)``/``annotation(s)``
folder beside the videos; where several versions sit there the highest ``V`` number is read and the
others are reported. About ten note rows sit above the table; the header row is found by its text
(``Subject``, ``Filename``, ``Onset``, ``Offset``; ``Onset Frame`` ... also accepted). A copy
without a header row is read by position (``Subject, Filename, Inducement Code, Onset, Apex,
Offset, Duration, Type, Action Units, Notes``), with a quirk.

Each ``Filename`` (``006_1_2``) is one expression; its video is the ``Filename`` up to the second
``_`` (``006_1``), matched to the folders by number (``6_1`` finds ``006_1``). ``Type`` says micro or
macro (``Micro - 1/2``, ``Macro``: matched case-insensitively); a row naming neither is skipped with
a quirk. ``Apex``/``Offset`` cells that are blank or ``-1`` are missing; a missing offset takes the
apex (a quirk), and a row with neither is skipped (a quirk). The release has no emotion column, so
``label`` is ``None``, unless the sheet has an ``Estimated Emotion`` (or ``Emotion``) column, as
``mertool synth --layout samm-long`` writes.

One :class:`~mertool.datasets.long_videos.LongVideo` per video folder (id ``samm-lv/006/006_1``,
subject ``%03d``), all its frames sorted by the last integer of their names, 200 fps. Video folders
no row names are read with no expression (a quirk says so); a ``cropped_*`` copy beside the raw
folder is not read (a quirk says so).
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import relpath
from mertool.datasets.frames import list_dir
from mertool.datasets.labels import normalise_emotion
from mertool.datasets.long_videos import (
    KINDS,
    Expression,
    LongRead,
    LongVideo,
    expression_kind,
    long_video_frames,
    no_videos,
    place_expressions,
    read_interval,
    register_long,
)
from mertool.datasets.rows import QuirkLog
from mertool.datasets.tables import Cell, Row, Table, as_int, as_text, norm_header, read_rows
from mertool.errors import DatasetError

NAME = "samm-long"
DATASET = "samm-lv"
FPS = 200.0
#: The columns in the order the release has them (for a copy without a header row).
COLUMNS = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
)
_SHEET_RE = re.compile(r"^samm.*long.*video.*\.(xlsx|xlsm|xls|csv)$", re.IGNORECASE)
_VERSION_RE = re.compile(r"_v(\d+)", re.IGNORECASE)
_ANNOTATION_DIRS = ("label", "labels", "annotation", "annotations")
_VIDEO_RE = re.compile(r"^(\d+)_(\d+)$")
_FILENAME_RE = re.compile(r"^(\d+)_(\d+)(?:_|$)")
_HEADERS = (
    ("Subject", "Filename", "Onset", "Offset"),
    ("Subject", "Filename", "Onset Frame", "Offset Frame"),
)
_HINT = "give the SAMM long-video folder holding SAMM_LongVideos_V*_Release.xlsx and the 006_1/ ... folders"


def find_sheets(root: Path) -> list[Path]:
    """``SAMM_LongVideos_V*_Release.xlsx`` in ``root`` or its ``labels/`` folder, newest version first."""
    dirs, files = list_dir(root)
    for d in dirs:
        if d.name.lower() in _ANNOTATION_DIRS:
            files += list_dir(d)[1]
    found = [f for f in files if _SHEET_RE.match(f.name) and not f.name.startswith("~$")]

    def order(p: Path) -> tuple:
        m = _VERSION_RE.search(p.stem)
        return (-(int(m.group(1)) if m else 0), p.suffix.lower() == ".csv", p.name)

    return sorted(found, key=order)


def _video_key(name: str) -> tuple[int, int] | None:
    m = _VIDEO_RE.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _has_videos(folder: Path) -> bool:
    return any(_video_key(d.name) for d in list_dir(folder)[0])


def find_video_dirs(root: Path) -> list[Path]:
    """Folders holding the ``006_1/`` video folders: ``root`` or its subfolders, raw before cropped."""
    if _has_videos(root):
        return [root]
    found = [d for d in list_dir(root)[0] if _has_videos(d)]
    return sorted(found, key=lambda d: ("crop" in d.name.lower(), "samm" not in d.name.lower(), d.name))


def detect(root: Path) -> bool:
    return bool(find_sheets(root))


def _table(sheet: Path, q: QuirkLog) -> list[Row]:
    """The data rows of the workbook's first sheet, columns by header text (by position without one)."""
    rows = read_rows(sheet, 0)
    for header in _HEADERS:
        try:
            return list(Table(sheet, rows, header))
        except DatasetError:
            continue
    q(
        sheet,
        "no header row (Subject, Filename, Onset, ...) found: columns read by position: "
        + ", ".join(COLUMNS),
    )
    columns = {norm_header(n): j for j, n in enumerate(COLUMNS)}
    return [Row(i, r, columns) for i, r in enumerate(rows, start=1) if any(c is not None for c in r)]


def _cell(row: Row, *names: str) -> Cell:
    for n in names:
        if row.has_column(n):
            return row.get(n)
    return None


@register_long(
    NAME,
    "SAMM long videos",
    "SAMM-LV: SAMM_LongVideos_V*_Release.xlsx + SAMM_longvideos/006_1/006_1_0001.jpg; micro and macro; 200 fps",
    detect,
)
def read(root: Path) -> LongRead:
    """Read every SAMM long video below ``root`` with its expressions (frame numbers absolute)."""
    root = Path(root)
    result = LongRead(NAME, root, [])
    q = QuirkLog(root, result.quirks)
    sheets = find_sheets(root)
    if not sheets:
        raise DatasetError(f"{root}: no SAMM_LongVideos_V*_Release.xlsx", hint=_HINT)
    table: list[Row] | None = None
    sheet = sheets[0]
    for sheet in sheets:
        try:
            table = _table(sheet, q)
            break
        except DatasetError as exc:
            q(sheet, f"cannot read this annotation file ({exc.message}); not used")
    if table is None:
        raise no_videos(root, "SAMM", result.quirks, "re-copy the annotation file from the dataset")
    result.annotation_files.append(sheet)
    for other in sheets[sheets.index(sheet) + 1 :]:
        q(other, f"another annotation file; {sheet.name} was read")
    sheet_rel = relpath(sheet, root)

    # --- the annotation: expressions by video (subject number, inducement code)
    found: dict[tuple[int, int], list] = {}
    rows_of: dict[tuple[int, int], dict[str, int]] = {}
    seen: set[tuple] = set()
    for row in table:
        subject_cell, filename = row.get("Subject"), as_text(row.get("Filename"))
        if subject_cell is None and filename is None:
            continue  # a note row
        note = q.at(sheet, row.number)
        m = _FILENAME_RE.match(filename or "")
        if m is None:
            note(f"Filename {filename!r} is not <subject>_<inducement>_<n>: row skipped")
            continue
        key = (int(m.group(1)), int(m.group(2)))
        subject_number = as_int(subject_cell)
        if subject_number is not None and subject_number != key[0]:
            note(f"Subject {subject_cell!r} but Filename {filename}: the Filename's video is used")
        say = q.at(sheet, row.number, f"{filename}: ")
        type_cell = _cell(row, "Type", "Micro")
        kind = expression_kind(type_cell)
        if kind is None:
            say(f"Type {type_cell!r} says neither micro nor macro: row skipped")
            continue
        marks = read_interval(
            _cell(row, "Onset", "Onset Frame"),
            _cell(row, "Apex", "Apex Frame"),
            _cell(row, "Offset", "Offset Frame"),
            say,
        )
        if marks is None:
            continue
        onset, apex, offset = marks
        if (key, kind, onset, offset) in seen:
            say(f"repeats an earlier {kind} row {onset}..{offset}: this row skipped")
            continue
        seen.add((key, kind, onset, offset))
        label = normalise_emotion(_cell(row, "Estimated Emotion", "Emotion"))
        expr = Expression(onset, offset, kind, apex, label, as_text(row.get("Action Units")), filename)
        found.setdefault(key, []).append((expr, say))
        rows_of.setdefault(key, {})[filename] = row.number

    # --- the video folders
    bases = find_video_dirs(root)
    if not bases:
        for items in found.values():
            for _, say in items:
                say("no video folder on disk: expression not read")
        raise no_videos(root, "SAMM", result.quirks, _HINT)
    base = bases[0]
    for other in bases[1:]:
        q(other, f"another folder of videos (a processed copy?); {relpath(base, root)} was read")
    folders: dict[tuple[int, int], Path] = {}
    dirs, files = list_dir(base)
    for f in files:
        if base != root:
            q(f, "stray file among the video folders: ignored")
    for d in dirs:
        key = _video_key(d.name)
        if key is None:
            if base != root or d.name.lower() not in _ANNOTATION_DIRS:
                q(d, "not a video folder (<subject>_<inducement>): not read")
            continue
        if key in folders:
            q(d, f"a second folder for video {key[0]:03d}_{key[1]}: not read")
            continue
        folders[key] = d

    for key, items in found.items():
        if key not in folders:
            where = relpath(base / f"{key[0]:03d}_{key[1]}", root)
            for _, say in items:
                say(f"no video folder {where} on disk: expression not read")

    for key in sorted(folders):
        vdir = folders[key]
        note = q.at(vdir, None)
        items = found.get(key, [])
        frames, numbers = long_video_frames(vdir, note)
        if not frames:
            lost = f"; its {len(items)} expression(s) not read" if items else ""
            note(f"no frame images: video not read{lost}")
            continue
        if not items:
            note(f"no row of {sheet.name} names this video: read with no expression")
        subject = f"{key[0]:03d}"
        result.videos.append(
            LongVideo(
                id=f"{DATASET}/{subject}/{vdir.name}",
                dataset=DATASET,
                subject=subject,
                video=vdir.name,
                frames=frames,
                frame_numbers=numbers,
                fps=FPS,
                expressions=place_expressions(numbers, items),
                extra={
                    "folder": vdir,
                    "annotation": sheet_rel,
                    "annotated": KINDS,
                    "rows": rows_of.get(key, {}),
                },
            )
        )
    if not result.videos:
        raise no_videos(root, "SAMM", result.quirks, _HINT)
    return result
