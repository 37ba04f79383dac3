"""SAMM (micro-expression release), read as shipped.

Layout (DATASETS.md section 2)::

    ROOT/SAMM_Micro_FACS_Codes_v2.xlsx        (or SAMM_20181215_Micro_FACS_Codes_v2.xlsx)
    ROOT/006/006_1_2/006_05562.jpg ...        subject folder = Subject as %03d, clip = Filename

The sheet's header row is found by its column names wherever it sits: variant A has a 13-row
notes block (header on row 14), variant B the header on row 1. Frame numbers are the last integer
of the file name (4 digits, or 5 for clips past frame 9999). ``Other``/``Others`` become
``others``; a blank ``Apex Frame`` stays missing; AU strings (``R12 + R15``, ``R14A or 17A``)
are split into tokens with their side and intensity letters kept, and kept verbatim in ``aus_raw``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets import rows
from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.datasets.frames import list_dir
from mertool.datasets.labels import megc2019_label
from mertool.datasets.tables import as_int, as_text
from mertool.errors import DatasetError

DATASET = "samm"
FPS = 200.0
EMOTIONS = frozenset({"anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise", "others"})
LABEL_MAPS = ("native", "megc2019")

_SHEET_RE = re.compile(r"^samm.*facs.*codes.*\.(xlsx|xlsm|xls|csv)$", re.IGNORECASE)
_SUBJECT_DIR_RE = re.compile(r"^\d{1,4}$")

COL_SUBJECT, COL_FILENAME = "Subject", "Filename"
COL_ONSET, COL_APEX, COL_OFFSET = "Onset Frame", "Apex Frame", "Offset Frame"
_FRAME_COLUMNS = (COL_ONSET, COL_APEX, COL_OFFSET)
COL_AUS, COL_EMOTION = "Action Units", "Estimated Emotion"
#: What the reader does with an emotion that is not in :data:`EMOTIONS`.
_UNKNOWN = "; kept as native, no MEGC2019 label"


def samm_labels(emotion: str | None) -> dict[str, str | None]:
    """Labels of one SAMM sample under every map it supports (native, megc2019)."""
    return {"native": emotion, "megc2019": megc2019_label(DATASET, emotion)}


def subject_id(value: object) -> str | None:
    """``Subject`` cell (``6``, ``"006"``) -> the LOSO key ``006``; None if not a number."""
    n = as_int(value)
    return None if n is None else f"{n:03d}"


def find_sheets(root: Path) -> list[Path]:
    """SAMM FACS-code sheets in ``root`` (not below it); workbooks before csv exports."""
    return rows.sheets_in(root, _SHEET_RE)


def _subject_folder(name: str) -> str | None:
    """A subject folder's name (``006``) -> its key ``006``; None for any other folder."""
    return f"{int(name):03d}" if _SUBJECT_DIR_RE.match(name) else None


def _has_subjects(folder: Path) -> bool:
    dirs, _ = list_dir(folder)
    return any(_SUBJECT_DIR_RE.match(d.name) for d in dirs)


def find_frames_root(root: Path) -> Path | None:
    """The folder holding the ``006/``-style subject folders: ``root`` or one folder below it."""
    if _has_subjects(root):
        return root
    dirs, _ = list_dir(root)
    candidates = [d for d in dirs if _has_subjects(d)]
    candidates.sort(key=lambda d: ("samm" not in d.name.lower(), d.name))
    return candidates[0] if candidates else None


def detect(root: Path) -> bool:
    return bool(find_sheets(root)) and find_frames_root(root) is not None


@register(
    "samm",
    "SAMM micro-expressions: SAMM_Micro_FACS_Codes_v2.xlsx + <sss>/<clip>/<sss>_<NNNN>.jpg; 200 fps",
    detect,
    label_maps=LABEL_MAPS,
    title="SAMM",
)
def read_samm(root: Path) -> DatasetRead:
    root = Path(root)
    sheets = find_sheets(root)
    if not sheets:
        raise DatasetError(
            f"{root}: no SAMM sheet (SAMM_Micro_FACS_Codes_v2.xlsx) in this folder",
            hint="give the folder that holds the FACS-codes sheet next to the 006/, 007/, ... folders",
        )
    frames_root = find_frames_root(root)
    if frames_root is None:
        raise DatasetError(
            f"{root}: no SAMM subject folders (006/, 007/, ...)", hint="unpack the frames next to the sheet"
        )
    sheet = sheets[0]
    quirks: list[Quirk] = [
        Quirk(relpath(p, root), f"another SAMM sheet; {sheet.name} was read instead") for p in sheets[1:]
    ]
    _, clips = rows.scan_subject_tree(
        root, frames_root, quirks, _subject_folder, "folder is not a subject folder (006, 007, ...); not read"
    )
    required = [COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION]
    table, sheet_rel = rows.read_coding_sheet(sheet, root, quirks, required, COL_AUS)

    samples: list[Sample] = []
    seen: dict[str, int] = {}
    used: set[Path] = set()
    log = rows.QuirkLog(root, quirks)
    for row in table:
        note = log.at(sheet, row.number)
        raw_subject, clip_cell = row.get(COL_SUBJECT), row.get(COL_FILENAME)
        subject = subject_id(raw_subject)
        if subject is None:
            if clip_cell is not None:  # a row with neither is a note, not a sample
                note(f"Subject {raw_subject!r} is not a number; row skipped")
            continue
        if clip_cell is None:
            note("no Filename; row skipped")
            continue
        clip = as_text(clip_cell)
        sid = f"{DATASET}/{subject}/{clip}"
        coded = rows.coded_row(row, sid, seen, log, sheet, _FRAME_COLUMNS, COL_EMOTION, EMOTIONS, _UNKNOWN)
        if coded is None:
            continue
        say, marks, emotion = coded
        folder = rows.clip_folder(clips, subject, clip)
        if folder is None:
            say(f"no frames folder {relpath(frames_root / subject / clip, root)} on disk; sample skipped")
            continue
        used.add(folder)
        frames = rows.read_clip(folder, root, quirks, say, marks)
        if frames[0]:
            extra = {"row": row.number, "annotation": sheet_rel}
            aus = rows.aus_fields(row.get(COL_AUS), as_text)
            samples.append(
                rows.clip_sample(
                    DATASET,
                    subject,
                    clip,
                    frames,
                    FPS,
                    emotion,
                    marks,
                    labels=samm_labels(emotion),
                    extra=extra,
                    **aus,
                )
            )

    for folder in sorted({p for p in clips.values()} - used):
        quirks.append(Quirk(relpath(folder, root), "clip folder with no row in the sheet; not read"))
    return DatasetRead("samm", root, samples, quirks, annotation_files=[sheet], default_label_map="native")
