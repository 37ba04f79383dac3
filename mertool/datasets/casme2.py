"""CASME II, raw frames (``casme2``) or the cropped faces (``casme2-cropped``), read as shipped.

Layout (DATASETS.md section 1)::

    ROOT/CASME2-coding-20140508.xlsx          any coding-sheet version, found by name pattern
    ROOT/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...       (a.k.a. CASME2-RAW, CASME2_RAW)
    ROOT/Cropped/sub01/EP02_01f/reg_img46.jpg ...               (a.k.a. Cropped-updated/Cropped)

The coding sheet is found in ROOT by its name (``CASME2-coding-*.xlsx``, ``CASME2_label_Ver_2.xls``,
``CASME2-coding-updated.xlsx``, csv exports named alike); its columns are found by header text, so
versions that move the header row or a column still read. Frames are located by the number in
their file name, never by list position: ``CASME2_RAW_selected`` holds onset..offset only while
``CASME2-RAW`` copies hold whole clips from ``img1``.

Auto-detection stays unambiguous: ``casme2`` is detected when ROOT has a coding sheet and a raw
frames folder; ``casme2-cropped`` is detected only when ROOT has a coding sheet and a cropped
folder but **no** raw folder. Where both exist, ``--dataset casme2-cropped`` picks the crops.
Both yield the same sample ids (``casme2/sub01/EP02_01f``), with ``variant`` ``raw``/``cropped``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets import rows
from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.datasets.frames import list_dir
from mertool.datasets.labels import casme2_5_label, megc2019_label
from mertool.datasets.tables import as_text, subject_number
from mertool.errors import DatasetError

DATASET = "casme2"
FPS = 200.0
#: The emotions the CASME II coding sheets use (DATASETS.md 1.3); anything else is reported.
EMOTIONS = frozenset({"happiness", "surprise", "disgust", "repression", "fear", "sadness", "others"})
LABEL_MAPS = ("native", "megc2019", "casme2-5")

_SHEET_RE = re.compile(r"^casme\s*2[\s_-]*(coding|label).*\.(xlsx|xlsm|xls|csv)$", re.IGNORECASE)
_SUBJECT_RE = re.compile(r"^sub[\s_-]*0*(\d+)$", re.IGNORECASE)
_RAW_NAMES = ("casme2_raw_selected", "casme2-raw", "casme2_raw", "casme2-raw-selected")
_CROP_NAMES = ("cropped", "cropped-updated", "cropped_original", "cropped-original")

#: Header texts of the coding sheet (matched ignoring case, spaces and punctuation).
COL_SUBJECT, COL_FILENAME = "Subject", "Filename"
COL_ONSET, COL_APEX, COL_OFFSET = "OnsetFrame", "ApexFrame", "OffsetFrame"
_FRAME_COLUMNS = (COL_ONSET, COL_APEX, COL_OFFSET)
COL_AUS, COL_EMOTION = "Action Units", "Estimated Emotion"
#: What the reader does with an emotion that is not in :data:`EMOTIONS`.
_UNKNOWN = "; kept as native, no label under other maps"


def casme2_labels(subject: str, clip: str, emotion: str | None) -> dict[str, str | None]:
    """Labels of one CASME II sample under every map it supports (native, megc2019, casme2-5)."""
    return {
        "native": emotion,
        "megc2019": megc2019_label(DATASET, emotion, subject, clip),
        "casme2-5": casme2_5_label(emotion),
    }


def subject_id(value: object) -> str | None:
    """``Subject`` cell (``1``, ``"01"``, ``"sub01"``) -> the LOSO key ``sub01``; None if not a number."""
    n = subject_number(value, _SUBJECT_RE)
    return None if n is None else f"sub{n:02d}"


# --- locating the parts of a root -------------------------------------------------------------


def find_sheets(root: Path) -> list[Path]:
    """Coding sheets in ``root`` (not below it), newest-looking name first."""
    return rows.sheets_in(root, _SHEET_RE)


def _norm(name: str) -> str:
    return name.lower().replace(" ", "")


def _has_subjects(folder: Path) -> bool:
    dirs, _ = list_dir(folder)
    return any(_SUBJECT_RE.match(d.name) for d in dirs)


def find_frames_dirs(root: Path, cropped: bool) -> list[Path]:
    """Frame folders holding ``subNN/`` folders: raw (``CASME2_RAW_selected``, ``CASME2-RAW``...)
    or cropped (``Cropped``, ``Cropped-updated/Cropped``...), at most one folder level below ``root``.
    Best-known name first."""
    known = _CROP_NAMES if cropped else _RAW_NAMES

    def wanted(name: str) -> bool:
        n = _norm(name)
        return "crop" in n if cropped else ("raw" in n and "crop" not in n)

    found: list[Path] = []
    dirs, _ = list_dir(root)
    for d in dirs:
        if not wanted(d.name):
            continue
        if _has_subjects(d):
            found.append(d)
            continue
        inner, _ = list_dir(d)  # e.g. Cropped-updated/Cropped, CASME2-RAW/CASME2-RAW
        found.extend(i for i in inner if (wanted(i.name) or len(inner) == 1) and _has_subjects(i))
    if not found and wanted(root.name) and _has_subjects(root):
        found.append(root)  # the sheet was put into the frames folder itself
    rank = {n: i for i, n in enumerate(known)}
    return sorted(found, key=lambda p: (rank.get(_norm(p.name), len(rank)), str(p)))


def detect_raw(root: Path) -> bool:
    return bool(find_sheets(root)) and bool(find_frames_dirs(root, cropped=False))


def detect_cropped(root: Path) -> bool:
    return (
        bool(find_sheets(root))
        and bool(find_frames_dirs(root, cropped=True))
        and not find_frames_dirs(root, cropped=False)
    )


# --- reading ------------------------------------------------------------------------------------


@register(
    "casme2",
    "CASME II raw frames (CASME2_RAW_selected/ or CASME2-RAW/) + CASME2-coding-*.xlsx; 200 fps",
    detect_raw,
    label_maps=LABEL_MAPS,
    aliases=("casme2-raw",),
    title="CASME II",
)
def read_casme2(root: Path) -> DatasetRead:
    return read(Path(root), cropped=False)


@register(
    "casme2-cropped",
    "CASME II cropped faces (Cropped/subNN/<clip>/reg_imgN.jpg) + coding sheet; "
    "auto-detected only when the root has no raw folder",
    detect_cropped,
    label_maps=LABEL_MAPS,
    title="CASME II (cropped)",
    accepts=lambda root: bool(find_sheets(root)) and bool(find_frames_dirs(root, cropped=True)),
)
def read_casme2_cropped(root: Path) -> DatasetRead:
    return read(Path(root), cropped=True)


def read(root: Path, cropped: bool = False) -> DatasetRead:
    """Read a CASME II root: the coding sheet's rows joined with the clip folders on disk."""
    name = "casme2-cropped" if cropped else "casme2"
    variant = "cropped" if cropped else "raw"
    sheets = find_sheets(root)
    if not sheets:
        raise DatasetError(
            f"{root}: no CASME II coding sheet (CASME2-coding-*.xlsx, CASME2_label_Ver_2.xls) in this folder",
            hint="give the folder that holds the coding sheet next to CASME2_RAW_selected/ or Cropped/",
        )
    frames_dirs = find_frames_dirs(root, cropped)
    if not frames_dirs:
        other = find_frames_dirs(root, not cropped)
        what = "cropped (Cropped/subNN/...)" if cropped else "raw (CASME2_RAW_selected/subNN/...)"
        hint = (
            f"this copy has {relpath(other[0], root)}/: use --dataset {'casme2' if cropped else 'casme2-cropped'}"
            if other
            else "unpack the frames next to the coding sheet"
        )
        raise DatasetError(f"{root}: no {what} frames folder", hint=hint)

    sheet, frames_root = sheets[0], frames_dirs[0]
    quirks: list[Quirk] = []
    for extra in sheets[1:]:
        quirks.append(Quirk(relpath(extra, root), f"another coding sheet; {sheet.name} was read instead"))
    for extra in frames_dirs[1:]:
        quirks.append(Quirk(relpath(extra, root), f"another {variant} frames folder; not read"))

    subjects, clips = rows.scan_subject_tree(
        root, frames_root, quirks, subject_id, "folder is not a subject folder (subNN); not read"
    )
    required = [COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION]
    table, sheet_rel = rows.read_coding_sheet(sheet, root, quirks, required, COL_AUS)

    samples: list[Sample] = []
    seen: dict[str, int] = {}
    used: set[tuple[str, str]] = set()
    prefix = "reg_" if cropped else None
    log = rows.QuirkLog(root, quirks)
    for row in table:
        note = log.at(sheet, row.number)
        subject = subject_id(row.get(COL_SUBJECT))
        clip_cell = row.get(COL_FILENAME)
        if subject is None or clip_cell is None:
            note(
                f"no {'Subject' if subject is None else 'Filename'} (Subject={row.get(COL_SUBJECT)!r}); row skipped"
            )
            continue
        clip = as_text(clip_cell)
        sid = f"{DATASET}/{subject}/{clip}"
        coded = rows.coded_row(row, sid, seen, log, sheet, _FRAME_COLUMNS, COL_EMOTION, EMOTIONS, _UNKNOWN)
        if coded is None:
            continue
        say, marks, emotion = coded
        folder = rows.clip_folder(clips, subject, clip)
        if folder is None:
            where = f"{relpath(frames_root, root)}/{subjects.get(subject, Path(subject)).name}/{clip}"
            say(f"no frames folder {where} on disk; sample skipped")
            continue
        used.add((subject, folder.name))
        frames = rows.read_clip(folder, root, quirks, say, marks, prefix)
        if frames[0]:
            extra = {"variant": variant, "row": row.number, "annotation": sheet_rel}
            labels = casme2_labels(subject, clip, emotion)
            aus = rows.aus_fields(row.get(COL_AUS), as_text)
            samples.append(
                rows.clip_sample(
                    DATASET, subject, clip, frames, FPS, emotion, marks, labels=labels, extra=extra, **aus
                )
            )

    for (subject, key), folder in sorted(clips.items(), key=lambda kv: str(kv[1])):
        if key == folder.name and (subject, folder.name) not in used:
            quirks.append(
                Quirk(relpath(folder, root), "clip folder with no row in the coding sheet; not read")
            )
    return DatasetRead(name, root, samples, quirks, annotation_files=[sheet], default_label_map="native")
