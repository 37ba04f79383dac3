"""CASME (I): ``Section A`` / ``Section B`` folders, each with its ``.xls`` sheet (DATASETS.md §5).

Layout read (the root is the folder holding ``CASME_A`` and ``CASME_B``, e.g. ``CASME/RAW``)::

    CASME_A/Section A/Section A.xls             sheet "Sheet1": Subject, Filename, OnsetF, ApexF1, ...
    CASME_A/Section A/sub01/EP01_5/EP01_5-1.jpg ...   (or img1.jpg ...)
    CASME_B/Section B/Section B.xls
    CASME_B/Section B/sub08/EP02_1/img1.jpg ...

Each section's sheet describes the clips of that section's ``subNN`` folders. Columns are found
by header text (``Subject``, ``Filename``, ``OnsetF``, ``ApexF1``, ``ApexF2``, ``OffsetF``, the AU
column, ``Emotion``); only when no ``Emotion`` header exists is the emotion taken from the 12th
column (idx 11), as the public loaders do, and that fallback is reported as a quirk. Frames are
numbered by the last integer of the file name (``EP01_5-1.jpg`` is frame 1, ``img12.jpg`` 12).

Quirks reported: a clip folder with no sheet row (not read: it has no emotion or frame numbers),
a sheet row with no frames on disk (skipped), frames missing inside onset..offset, ``.DS_Store``
and other stray files (ignored), duplicated ids (the later row skipped), unknown emotions.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, register
from mertool.datasets.frames import list_dir
from mertool.datasets.rows import QuirkLog, aus_fields, checked_emotion, clip_sample, read_clip_span
from mertool.datasets.tables import Table, as_int, read_rows, sheet_names, subject_number

NAME = "casme"
FPS = 60.0  # [V: P-FPS]
EMOTIONS = frozenset(
    {"happiness", "surprise", "disgust", "repression", "tense", "fear", "sadness", "contempt"}
)
EMOTION_FALLBACK_IDX = 11  # the 12th column, where public loaders read the emotion
_AU_HEADERS = ("AU", "AUs", "Action Units", "Action Unit")
_DESCEND = re.compile(r"casme|raw|section", re.IGNORECASE)
_DIGITS = re.compile(r"(\d+)")


def find_sections(root: Path, depth: int = 3) -> list[tuple[str, Path, Path | None]]:
    """``(letter, section folder, sheet or None)`` for every ``Section X`` folder near ``root``.

    Only folders whose names look like the distribution's (``CASME*``, ``RAW``, ``Section *``)
    are entered below the root, so detection stays cheap on other datasets' trees.
    """
    found: list[tuple[str, Path, Path | None]] = []
    level = [root]
    for d in range(depth + 1):
        nxt: list[Path] = []
        for folder in level:
            m = re.fullmatch(r"section\s*([a-z0-9]+)", folder.name.strip(), re.IGNORECASE)
            if m:
                _, files = list_dir(folder)
                sheets = [f for f in files if f.suffix.lower() in (".xls", ".xlsx")]
                own = [
                    f
                    for f in sheets
                    if f.stem.lower().replace(" ", "") == folder.name.lower().replace(" ", "")
                ]
                found.append((m.group(1).upper(), folder, (own or sheets or [None])[0]))
                continue
            if d < depth:
                dirs, _ = list_dir(folder)
                nxt.extend(p for p in dirs if _DESCEND.search(p.name))
        level = nxt
    return sorted(found, key=lambda t: (t[0], str(t[1])))


def detect(root: Path) -> bool:
    return any(sheet is not None for _, _, sheet in find_sections(root))


def _children(folder: Path) -> dict[str, Path]:
    dirs, _ = list_dir(folder)
    return {p.name.lower(): p for p in dirs}


@register(
    NAME,
    "CASME (I): Section A/B folders with Section A.xls / Section B.xls (sheet Sheet1), 60 fps",
    detect,
    aliases=("casme1", "casme-i"),
    title="CASME",
)
def read(root: Path) -> DatasetRead:
    root = Path(root)
    result = DatasetRead(NAME, root, [])
    q = QuirkLog(root, result.quirks)
    seen: set[str] = set()
    for letter, section, sheet in find_sections(root):
        if sheet is None:
            q(section, "no Section sheet (.xls) in this folder: its clips are not read")
            continue
        result.annotation_files.append(sheet)
        table = _read_sheet(sheet, q)
        emotion_by_name = table.has_column("Emotion")
        if not emotion_by_name:
            q(sheet, f"no 'Emotion' header: emotion read from column {EMOTION_FALLBACK_IDX + 1} (idx 11)")
        au_col = next((h for h in _AU_HEADERS if table.has_column(h)), None)
        apex_col = "ApexF1" if table.has_column("ApexF1") else "ApexF"
        subjects = _children(section)
        used: set[Path] = set()
        for row in table:
            note = q.at(sheet, row.number)
            subj_cell, clip_cell = row.get("Subject"), row.get("Filename")
            subj_num = subject_number(subj_cell, _DIGITS)
            if subj_num is None or clip_cell is None:
                note(f"row without Subject/Filename ({subj_cell!r}, {clip_cell!r}): skipped")
                continue
            subject = f"sub{subj_num:02d}"
            clip = str(clip_cell).strip()
            sid = f"{NAME}/{subject}/{clip}"
            if sid in seen:
                note(f"duplicated id {sid}: this row skipped (the first one is kept)")
                continue
            raw_emotion = (
                row.get("Emotion")
                if emotion_by_name
                else (row.cells[EMOTION_FALLBACK_IDX] if len(row.cells) > EMOTION_FALLBACK_IDX else None)
            )
            emotion = checked_emotion(raw_emotion, EMOTIONS, note, f" for {subject}/{clip}: kept as written")
            subj_dir = subjects.get(subject)
            clip_dir = _children(subj_dir).get(clip.lower()) if subj_dir else None
            if clip_dir is None:
                note(f"no frames on disk for {subject}/{clip} (no folder {subject}/{clip}): skipped")
                continue
            used.add(clip_dir)
            marks = tuple(as_int(row.get(c)) for c in ("OnsetF", apex_col, "OffsetF"))
            frames = read_clip_span(
                clip_dir, marks, q, note, lambda s: _stray_message(s, "not a frame image")
            )
            if not frames[0]:
                continue
            aus = aus_fields(row.get(au_col) if au_col else None)
            seen.add(sid)
            extra = {"section": letter, "apex2": as_int(row.get("ApexF2")), "row": row.number}
            result.samples.append(
                clip_sample(NAME, subject, clip, frames, FPS, emotion, marks, extra=extra, **aus)
            )
        _report_unlisted(section, sheet, subjects, used, q)
    return result


def _read_sheet(sheet: Path, q) -> Table:
    """The section's table: sheet ``Sheet1`` as distributed, else the first sheet (a quirk)."""
    names = sheet_names(sheet)
    if "Sheet1" in names:
        return Table(sheet, read_rows(sheet, "Sheet1"), ["Subject", "Filename"])
    q(sheet, f"no sheet 'Sheet1' (sheets: {', '.join(names)}): read the first sheet")
    return Table(sheet, read_rows(sheet, 0), ["Subject", "Filename"])


def _report_unlisted(section: Path, sheet: Path, subjects: dict[str, Path], used: set[Path], q) -> None:
    """Clip folders the sheet does not describe, and stray files next to the subject folders."""
    _, files = list_dir(section)
    for f in files:
        if f != sheet:
            q(f, _stray_message(f, "not the section's sheet"))
    for name, subj_dir in sorted(subjects.items()):
        if not re.fullmatch(r"sub\d+", name):
            q(subj_dir, "folder is not a subject folder (subNN): ignored")
            continue
        clips, files = list_dir(subj_dir)
        for f in files:
            q(f, _stray_message(f, "not a clip folder"))
        for clip_dir in clips:
            if clip_dir not in used:
                q(clip_dir, f"clip folder has no row in {sheet.name}: not read (no emotion or frame numbers)")


def _stray_message(path: Path, what: str) -> str:
    if path.name == ".DS_Store":
        return ".DS_Store (macOS folder metadata): ignored"
    return f"stray file ({what}): ignored"
