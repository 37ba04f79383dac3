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

from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.datasets.frames import gap_message, list_dir, list_frames
from mertool.datasets.labels import normalise_emotion
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
    quirks = result.quirks

    def q(path: Path, message: str, row: int | None = None) -> None:
        quirks.append(Quirk(relpath(path, root), message, row))

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
        subj, clip_cell = as_int(row.get("Subject")), row.get("Filename")
        if subj is None or clip_cell is None:
            q(
                sheet,
                f"row without Subject/Filename ({row.get('Subject')!r}, {clip_cell!r}): skipped",
                row.number,
            )
            continue
        subject, clip = f"S{subj:02d}", str(clip_cell).strip()
        if not clip.upper().startswith(subject + "-"):
            q(
                sheet,
                f"Filename {clip} does not start with {subject}- (Subject {subj}): subject kept as {subject}",
                row.number,
            )
        sid = f"{NAME}/{subject}/{clip}"
        if sid in seen:
            q(sheet, f"duplicated id {sid}: this row skipped (the first one is kept)", row.number)
            continue
        raw_emotion = row.get(emotion_col)
        emotion = normalise_emotion(raw_emotion)
        if emotion is not None and emotion not in EMOTIONS:
            q(sheet, f"unknown emotion {raw_emotion!r} for {clip}: kept as written", row.number)
        clip_dir = by_emotion.get(emotion or "", {}).get(clip.lower())
        if clip_dir is None:
            elsewhere = [(e, c[clip.lower()]) for e, c in sorted(by_emotion.items()) if clip.lower() in c]
            if not elsewhere:
                q(
                    sheet,
                    f"no frames on disk for {clip} (no folder Micro_Expression/*/{clip}): skipped",
                    row.number,
                )
                continue
            clip_dir = elsewhere[0][1]
            q(
                sheet,
                f"{clip} is under {elsewhere[0][0]}/, the sheet says {emotion}: read from there",
                row.number,
            )
        used.add(clip_dir)
        frames, numbers, strays = list_frames(clip_dir)
        for s in strays:
            q(s, "not a frame image: ignored")
        if not frames:
            q(sheet, f"no frame images in {relpath(clip_dir, root)}: skipped", row.number)
            continue
        onset, apex, offset = (as_int(row.get(c)) for c in ("OnsetFrame", "ApexFrame", "OffsetFrame"))
        gap = gap_message(numbers, onset, offset)
        if gap:
            q(sheet, f"{relpath(clip_dir, root)}: {gap}", row.number)
        au_raw = row.get(au_col)
        seen.add(sid)
        result.samples.append(
            Sample(
                id=sid,
                dataset=NAME,
                subject=subject,
                clip=clip,
                frames=tuple(frames),
                frame_numbers=tuple(numbers),
                fps=FPS,
                emotion=emotion,
                labels={"native": emotion},
                onset=onset,
                apex=apex,
                offset=offset,
                aus=tuple(side_prefix(t) for t in parse_aus(au_raw)),
                aus_raw=None if au_raw is None else str(au_raw),
                extra={"remarks": row.get("remarks"), "row": row.number},
            )
        )
    for folder in [clips_root, *list_dir(clips_root)[0]]:
        for f in list_dir(folder)[1]:
            q(f, "stray file (not a clip folder): ignored")
    for clips in by_emotion.values():
        for clip_dir in sorted(clips.values()):
            if clip_dir not in used:
                q(clip_dir, f"clip folder has no row in {sheet.name}: not read")
    return result
