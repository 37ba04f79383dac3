"""CAS(ME)^3 part A: long colour videos and the ``JpgIndex`` ME sheet (DATASETS.md §7).

Layout read (the root is the ``part_A`` folder)::

    annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx     sheet "label"
    data/part_A_split/part_A/spNO.1/j/color/28.jpg ...        (depth/ is not read)
    Part_A_ME_clip/frame/spNo.1_j_28/28.jpg ...               (optional per-ME clip release)

Columns are found by header text: ``Subject``, ``Filename``, ``Onset``, ``Apex``, ``Offset``,
``AU``, ``Objective class``, ``emotion``. Several MEs come from one video, so (Subject, Filename)
repeats; every sample id is therefore ``casme3/<Subject>/<filename>_<Onset>`` (the clip release's
own folder naming; the single-letter Filename lower-cased, since copies differ in its case), which
is unique and stays stable when rows are added. Frame files are named
by the JPG index the sheet uses; a sample keeps the video's frames onset..offset (onset..apex when
the offset is blank), and indices missing inside that range (frame drops, which the dataset has)
are reported. Where the full video is absent, the clip release folder
``<Subject>_<Filename>_<Onset>`` is read instead; folder names are matched case-insensitively
(``spNo.1`` vs the sheet's ``spNO.1``). Emotions are normalised (``Others`` -> ``others``).
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, register, relpath
from mertool.datasets.frames import gap_message, list_dir
from mertool.datasets.rows import (
    QuirkLog,
    aus_fields,
    checked_emotion,
    clip_sample,
    listed_frames,
    video_frames,
)
from mertool.datasets.tables import Table, as_int, read_rows, sheet_names

NAME = "casme3"
FPS = 30.0  # [V: X-CARF]
EMOTIONS = frozenset({"happy", "disgust", "fear", "anger", "sad", "surprise", "others"})
SHEET = "label"
_LABEL_RE = re.compile(r"me_label.*jpgindex.*\.xlsx$", re.IGNORECASE)
_VIDEO_BASES = ("data/part_A_split/part_A", "data/part_A", "part_A_split/part_A", "data")
_CLIP_BASES = ("Part_A_ME_clip/frame", "data/Part_A_ME_clip/frame", "Part_A_ME_clip")
_STRAY = "not a frame image: ignored"


def _ci(folder: Path, name: str) -> Path | None:
    """The child ``name`` of ``folder``, matched case-insensitively."""
    exact = folder / name
    if exact.exists():
        return exact
    low = name.lower()
    dirs, files = list_dir(folder)
    return next((p for p in dirs + files if p.name.lower() == low), None)


def _resolve(root: Path, rel: str) -> Path | None:
    cur: Path | None = root
    for part in rel.split("/"):
        cur = _ci(cur, part) if cur is not None else None
    return cur


def find_sheet(root: Path) -> Path | None:
    ann = _ci(root, "annotation")
    if ann is None or not ann.is_dir():
        return None
    _, files = list_dir(ann)
    hits = [f for f in files if _LABEL_RE.search(f.name) and not f.name.startswith("~$")]
    return sorted(hits, key=lambda f: ("v2" not in f.name.lower(), f.name))[0] if hits else None


def detect(root: Path) -> bool:
    return find_sheet(root) is not None


@register(
    NAME,
    "CAS(ME)^3 part A micro-expressions: annotation/*ME_label_JpgIndex*.xlsx + data/part_A_split, 30 fps",
    detect,
    aliases=("casme3a", "cas(me)^3"),
    title="CAS(ME)^3 part A",
)
def read(root: Path) -> DatasetRead:
    root = Path(root)
    sheet = find_sheet(root)
    result = DatasetRead(NAME, root, [])
    q = QuirkLog(root, result.quirks)
    if sheet is None:
        from mertool.errors import DatasetError

        raise DatasetError(
            f"{root}: no annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
            hint="give the part_A folder that holds annotation/ and data/",
        )
    result.annotation_files.append(sheet)
    table = _read_table(sheet, q)
    video_base = next((b for b in (_resolve(root, r) for r in _VIDEO_BASES) if b and b.is_dir()), None)
    clip_base = next((b for b in (_resolve(root, r) for r in _CLIP_BASES) if b and b.is_dir()), None)
    clip_dirs = {p.name.lower(): p for p in list_dir(clip_base)[0]} if clip_base else {}
    if video_base is None and not clip_dirs:
        q(root, "no frames folder (data/part_A_split/part_A or Part_A_ME_clip/frame)")
    subject_dirs = {p.name.lower(): p for p in list_dir(video_base)[0]} if video_base else {}
    video_cache: dict[Path, tuple[list[Path], list[int]]] = {}
    seen: set[str] = set()

    for row in table:
        note = q.at(sheet, row.number)
        subject_cell, clip_cell = row.get("Subject"), row.get("Filename")
        if subject_cell is None or clip_cell is None:
            note(f"row without Subject/Filename ({subject_cell!r}, {clip_cell!r}): skipped")
            continue
        subject, video = str(subject_cell).strip(), str(clip_cell).strip()
        onset, apex, offset = as_int(row.get("Onset")), as_int(row.get("Apex")), as_int(row.get("Offset"))
        if onset is None:
            note(f"{subject}/{video}: no Onset (the sample id needs it): skipped")
            continue
        clip = f"{video.lower()}_{onset}"  # Filename case varies between copies (a reader lower-cases it)
        sid = f"{NAME}/{subject}/{clip}"
        if sid in seen:
            note(f"duplicated id {sid} (same Subject, Filename, Onset): this row skipped")
            continue
        emotion = checked_emotion(
            row.get("emotion"), EMOTIONS, note, f" for {subject}/{clip}: kept as written"
        )
        last = offset if offset is not None else apex
        frames, numbers, layout, folder = _frames_for(
            subject, video, onset, last, subject_dirs, clip_dirs, video_cache, q
        )
        if folder is None:
            where = f"no folder {subject}/{video}/color nor clip folder {subject}_{video}_{onset}"
            note(f"no frames on disk for {subject}/{clip} ({where}): skipped")
            continue
        if last is not None:
            gap = gap_message(numbers, onset, last)
            if gap:
                note(f"{relpath(folder, root)}: {gap} (frame drop)")
        if not frames:
            note(f"no frames {onset}..{last} in {relpath(folder, root)}: skipped")
            continue
        seen.add(sid)
        extra = {
            "video": video,
            "objective_class": row.get("Objective class"),
            "layout": layout,
            "frames_dir": folder,
            "row": row.number,
        }
        aus = aus_fields(row.get("AU"))
        marks = (onset, apex, offset)
        result.samples.append(
            clip_sample(NAME, subject, clip, (frames, numbers), FPS, emotion, marks, extra=extra, **aus)
        )
    return result


def _read_table(sheet: Path, q) -> Table:
    required = ["Subject", "Filename", "Onset"]
    names = sheet_names(sheet)
    if SHEET in names:
        return Table(sheet, read_rows(sheet, SHEET), required)
    q(sheet, f"no sheet {SHEET!r} (sheets: {', '.join(names)}): read the first sheet")
    return Table(sheet, read_rows(sheet, 0), required)


def _frames_for(subject, video, onset, last, subject_dirs, clip_dirs, cache, q):
    """``(frames, numbers, layout, folder)`` of one ME: the video's frames onset..last, or the clip's."""
    subj_dir = subject_dirs.get(subject.lower())
    video_dir = (
        next((p for p in list_dir(subj_dir)[0] if p.name.lower() == video.lower()), None)
        if subj_dir
        else None
    )
    color = _ci(video_dir, "color") if video_dir else None
    if color is not None and color.is_dir():
        frames, numbers = video_frames(cache, color, q, onset, last if last is not None else onset)
        return frames, numbers, "video", color
    clip_dir = clip_dirs.get(f"{subject}_{video}_{onset}".lower())
    if clip_dir is not None:
        frames, numbers = listed_frames(clip_dir, q, _STRAY)
        return frames, numbers, "clip", clip_dir
    return [], [], None, None
