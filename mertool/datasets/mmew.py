"""MMEW: ``Micro_Expression/<emotion>/<Filename>/`` clips and ``MMEW_Micro_Exp.xlsx`` (DATASETS.md §8).

Layout read (the root is ``MMEW_Final``)::

    MMEW_Micro_Exp.xlsx                                  Subject, Filename, OnsetFrame, ApexFrame,
                                                         OffsetFrame, Action Units, Estimated Emotion, remarks
    Micro_Expression/happiness/S01-01-001/1.jpg ...
    Macro_Expression/...                                 (stills; not read)

Columns are found by header text. A clip folder is looked up under the emotion the sheet gives;
if it sits under another emotion folder it is still read, with a quirk. The subject (LOSO key)
is ``S%02d`` of the ``Subject`` integer, the same spelling as the ``Filename`` prefix
(``S01-01-001``). AU side letters come as prefix or suffix (``R4``, ``4R``, ``12L``); ``aus`` writes
them as prefix (``R4``, ``L12``) so one AU has one spelling, and ``aus_raw`` keeps the cell.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, register
from mertool.datasets.frames import list_dir
from mertool.datasets.rows import QuirkLog, checked_emotion, clip_sample, read_clip_span
from mertool.datasets.tables import Table, as_int, parse_aus

NAME = "mmew"
FPS = 90.0  # [V: X-MMEW]
EMOTIONS = frozenset({"happiness", "surprise", "disgust", "fear", "sadness", "anger", "others"})
SHEET_NAME = "mmew_micro_exp.xlsx"
CLIPS_DIR = "micro_expression"


def _find(root: Path) -> tuple[Path | None, Path | None]:
    dirs, files = list_dir(root)
    sheet = next((f for f in files if f.name.lower() == SHEET_NAME), None)
    clips = next((d for d in dirs if d.name.lower() == CLIPS_DIR), None)
    return sheet, clips


def detect(root: Path) -> bool:
    sheet, clips = _find(root)
    return sheet is not None and clips is not None


def side_prefix(token: str) -> str:
    """``12L`` -> ``L12``, ``4R`` -> ``R4``; other tokens unchanged."""
    m = re.fullmatch(r"(\d+)\s*([LRlr])", token)
    return f"{m.group(2).upper()}{m.group(1)}" if m else token


@register(
    NAME,
    "MMEW micro-expressions: MMEW_Micro_Exp.xlsx + Micro_Expression/<emotion>/<clip>/, 90 fps",
    detect,
    label_maps=("native",),
    title="MMEW",
)
def read(root: Path) -> DatasetRead:
    from mertool.errors import DatasetError

    root = Path(root)
    sheet, clips_root = _find(root)
    if sheet is None or clips_root is None:
        raise DatasetError(
            f"{root}: no MMEW_Micro_Exp.xlsx and Micro_Expression/ here",
            hint="give the MMEW_Final folder that holds both",
        )
    result = DatasetRead(NAME, root, [], annotation_files=[sheet], default_label_map="native")
    q = QuirkLog(root, result.quirks)
    table = Table.read(sheet, ["Subject", "Filename"])
    emotion_col = "Estimated Emotion" if table.has_column("Estimated Emotion") else "Emotion"
    au_col = "Action Units" if table.has_column("Action Units") else "AU"
    # emotion folder (lower) -> {clip folder (lower) -> path}
    by_emotion = {
        d.name.lower(): {c.name.lower(): c for c in list_dir(d)[0]} for d in list_dir(clips_root)[0]
    }
    used: set[Path] = set()
    seen: set[str] = set()

    for row in table:
        note = q.at(sheet, row.number)
        subj, clip_cell = as_int(row.get("Subject")), row.get("Filename")
        if subj is None or clip_cell is None:
            note(f"row without Subject/Filename ({row.get('Subject')!r}, {clip_cell!r}): skipped")
            continue
        subject, clip = f"S{subj:02d}", str(clip_cell).strip()
        if not clip.upper().startswith(subject + "-"):
            note(
                f"Filename {clip} does not start with {subject}- (Subject {subj}): subject kept as {subject}"
            )
        sid = f"{NAME}/{subject}/{clip}"
        if sid in seen:
            note(f"duplicated id {sid}: this row skipped (the first one is kept)")
            continue
        emotion = checked_emotion(row.get(emotion_col), EMOTIONS, note, f" for {clip}: kept as written")
        clip_dir = by_emotion.get(emotion or "", {}).get(clip.lower())
        if clip_dir is None:
            elsewhere = [(e, c[clip.lower()]) for e, c in sorted(by_emotion.items()) if clip.lower() in c]
            if not elsewhere:
                note(f"no frames on disk for {clip} (no folder Micro_Expression/*/{clip}): skipped")
                continue
            clip_dir = elsewhere[0][1]
            note(f"{clip} is under {elsewhere[0][0]}/, the sheet says {emotion}: read from there")
        used.add(clip_dir)
        marks = tuple(as_int(row.get(c)) for c in ("OnsetFrame", "ApexFrame", "OffsetFrame"))
        frames = read_clip_span(clip_dir, marks, q, note, "not a frame image: ignored")
        if not frames[0]:
            continue
        au_raw = row.get(au_col)
        seen.add(sid)
        aus = tuple(side_prefix(t) for t in parse_aus(au_raw))
        extra = {"remarks": row.get("remarks"), "row": row.number}
        raw = None if au_raw is None else str(au_raw)
        result.samples.append(
            clip_sample(NAME, subject, clip, frames, FPS, emotion, marks, aus=aus, aus_raw=raw, extra=extra)
        )
    for folder in [clips_root, *list_dir(clips_root)[0]]:
        for f in list_dir(folder)[1]:
            q(f, "stray file (not a clip folder): ignored")
    for clips in by_emotion.values():
        for clip_dir in sorted(clips.values()):
            if clip_dir not in used:
                q(clip_dir, f"clip folder has no row in {sheet.name}: not read")
    return result
