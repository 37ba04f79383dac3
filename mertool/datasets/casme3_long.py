"""CAS(ME)^3 part A full videos for spotting, with the annotated micro- and macro-expression intervals.

Layout read (DATASETS.md section 7; the root is the ``part_A`` folder, as for the clip reader ``casme3``)::

    annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx            sheet "label": micro-expressions
    annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx   first sheet: macro-expressions
    data/part_A_split/part_A/spNO.1/j/color/28.jpg ...               (depth/ is not read)

Both sheets number frames by the JPG index of ``color/`` (their names say ``JpgIndex``). The ME
sheet is read by header text as :mod:`mertool.datasets.casme3` reads it (``Subject``, ``Filename``,
``Onset``, ``Apex``, ``Offset``, ``AU``, ``emotion``); the MaE sheet has the same columns or, as
shipped, ``sub, seq, onset, apex, offset, emotion``. ``CAS(ME)3_part_A_v2.xls`` (ME and MaE with an
``Expression type`` column) is not read: its frame numbers are not said to be JPG indices.

One :class:`~mertool.datasets.long_videos.LongVideo` per video the sheets name (id
``casme3/spNO.1/j``: the sheet's subject, the ``Filename`` letter lower-cased), all frames of its
``color/`` folder sorted by number, 30 fps, with every interval of that video: ``micro`` from the ME
sheet, ``macro`` from the MaE sheet; ``name`` ``j_28`` (letter and onset, the clip reader's id),
``label`` the emotion (``Others`` -> ``others``). Video folders no row names are not read (one
quirk counts them): part A annotates only some of its videos. Without the MaE sheet every video
carries micro-expressions only, ``extra["annotated"]`` is ``("micro",)`` and a quirk says so.

Quirks: an unreadable sheet, rows without Subject/Filename, onset/offset problems (see
:func:`~mertool.datasets.long_videos.read_interval`), repeated rows, unknown emotions, a row whose
video has no ``color/`` folder (the per-ME clip release ``Part_A_ME_clip`` is not a long video),
frames missing inside an interval (the dataset's frame drops), stray files.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import relpath
from mertool.datasets.casme3 import (
    _VIDEO_BASES,
    EMOTIONS,
    FPS,
    _ci,
    _read_table,
    _resolve,
    detect,
    find_sheet,
)
from mertool.datasets.frames import list_dir
from mertool.datasets.long_videos import (
    KINDS,
    Expression,
    LongRead,
    LongVideo,
    long_video_frames,
    no_videos,
    place_expressions,
    read_interval,
    register_long,
)
from mertool.datasets.rows import QuirkLog, checked_emotion
from mertool.datasets.tables import Cell, Row, Table, as_text, read_rows
from mertool.errors import DatasetError

NAME = "casme3-long"
DATASET = "casme3"
_MAE_RE = re.compile(r"mae_label.*jpgindex.*\.xlsx$", re.IGNORECASE)
_MAE_HEADERS = (("Subject", "Filename", "Onset"), ("sub", "seq", "onset"))
_HINT = "give the part_A folder that holds annotation/ and data/part_A_split/part_A/<subject>/<video>/color/"


def find_mae_sheet(root: Path) -> Path | None:
    """``annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2*.xlsx`` (a ``v2`` one first), or None."""
    ann = _ci(root, "annotation")
    if ann is None or not ann.is_dir():
        return None
    hits = [f for f in list_dir(ann)[1] if _MAE_RE.search(f.name) and not f.name.startswith("~$")]
    return sorted(hits, key=lambda f: ("v2" not in f.name.lower(), f.name))[0] if hits else None


def _mae_table(sheet: Path) -> Table:
    rows = read_rows(sheet, 0)
    for header in _MAE_HEADERS:
        try:
            return Table(sheet, rows, header)
        except DatasetError:
            continue
    raise DatasetError(f"{sheet}: no header row with Subject, Filename, Onset (or sub, seq, onset)")


def _cell(row: Row, *names: str) -> Cell:
    for n in names:
        if row.has_column(n):
            return row.get(n)
    return None


def _subject_order(subject: str) -> tuple[int, str]:
    m = re.search(r"(\d+)$", subject)
    return (int(m.group(1)) if m else -1, subject.lower())


@register_long(
    NAME,
    "CAS(ME)^3 part A",
    "CAS(ME)^3 part A full videos: annotation/*ME_label_JpgIndex* (+ *MaE_label_JpgIndex*) + "
    "data/part_A_split/part_A/spNO.N/<video>/color/N.jpg; 30 fps",
    detect,
)
def read(root: Path) -> LongRead:
    """Read the annotated full videos of CAS(ME)^3 part A with their intervals (JPG indices)."""
    root = Path(root)
    result = LongRead(NAME, root, [])
    q = QuirkLog(root, result.quirks)
    me_sheet = find_sheet(root)
    if me_sheet is None:
        raise DatasetError(f"{root}: no annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", hint=_HINT)
    groups: dict[tuple[str, str], dict] = {}
    seen: set[tuple] = set()

    def collect(sheet: Path, table, kind: str) -> None:
        for row in table:
            subject, video = as_text(_cell(row, "Subject", "sub")), as_text(_cell(row, "Filename", "seq"))
            if subject is None or video is None:
                q(sheet, f"row without Subject/Filename ({subject!r}, {video!r}): skipped", row.number)
                continue
            video = video.lower()  # copies differ in its case (one reader lower-cases it)
            say = q.at(sheet, row.number, f"{subject}/{video}: ")
            marks = read_interval(row.get("Onset"), row.get("Apex"), row.get("Offset"), say)
            if marks is None:
                continue
            onset, apex, offset = marks
            key = (subject.lower(), video)
            if (key, kind, onset, offset) in seen:
                say(f"repeats an earlier {kind} row {onset}..{offset}: this row skipped")
                continue
            seen.add((key, kind, onset, offset))
            label = checked_emotion(row.get("emotion"), EMOTIONS, say, ": kept as written")
            name = f"{video}_{onset}"
            expr = Expression(onset, offset, kind, apex, label, as_text(row.get("AU")), name)
            group = groups.setdefault(key, {"subject": subject, "video": video, "items": [], "rows": {}})
            group["items"].append((expr, say))
            group["rows"][f"{kind} {name}"] = (relpath(sheet, root), row.number)

    try:
        collect(me_sheet, _read_table(me_sheet, q), "micro")
        result.annotation_files.append(me_sheet)
    except DatasetError as exc:
        q(me_sheet, f"cannot read this ME sheet ({exc.message}); micro-expressions not read")
    annotated = KINDS
    mae_sheet = find_mae_sheet(root)
    if mae_sheet is None:
        annotated = ("micro",)
        q(me_sheet.parent, "no MaE sheet (*MaE_label_JpgIndex*.xlsx): macro-expressions not annotated")
    else:
        try:
            collect(mae_sheet, _mae_table(mae_sheet), "macro")
            result.annotation_files.append(mae_sheet)
        except DatasetError as exc:
            annotated = ("micro",)
            q(mae_sheet, f"cannot read this MaE sheet ({exc.message}); macro-expressions not read")
    if not result.annotation_files:
        raise no_videos(root, "CAS(ME)^3 part A", result.quirks, "re-copy the annotation files")

    base = next((b for b in (_resolve(root, r) for r in _VIDEO_BASES) if b and b.is_dir()), None)
    if base is None:
        q(root, "no full videos (data/part_A_split/part_A/<subject>/<video>/color/); the per-ME clip "
          "release is not read as long videos")  # fmt: skip
        raise no_videos(root, "CAS(ME)^3 part A", result.quirks, _HINT)
    subject_dirs = {d.name.lower(): d for d in list_dir(base)[0]}
    used: set[Path] = set()
    for key in sorted(groups, key=lambda k: (_subject_order(k[0]), k[1])):
        group = groups[key]
        subject, video, items = group["subject"], group["video"], group["items"]
        sdir = subject_dirs.get(key[0])
        vdir = next((d for d in list_dir(sdir)[0] if d.name.lower() == video), None) if sdir else None
        color = _ci(vdir, "color") if vdir is not None else None
        if color is None or not color.is_dir():
            for _, say in items:
                say(f"no folder {relpath(base, root)}/{subject}/{video}/color on disk: expression not read")
            continue
        used.add(vdir)
        note = q.at(color, None)
        frames, numbers = long_video_frames(color, note)
        if not frames:
            note(f"no frame images: video not read; its {len(items)} expression(s) not read")
            continue
        expressions = place_expressions(numbers, items)
        if not expressions:
            continue  # each expression was told
        result.videos.append(
            LongVideo(
                id=f"{DATASET}/{subject}/{video}",
                dataset=DATASET,
                subject=subject,
                video=video,
                frames=frames,
                frame_numbers=numbers,
                fps=FPS,
                expressions=expressions,
                extra={"folder": color, "annotated": annotated, "rows": group["rows"]},
            )
        )
    unread = [
        f"{s.name}/{v.name}" for s in sorted(subject_dirs.values()) for v in list_dir(s)[0] if v not in used
    ]
    if unread:
        shown = ", ".join(unread[:5]) + (" ..." if len(unread) > 5 else "")
        q(base, f"{len(unread)} video folder(s) with no annotated expression not read: {shown}")
    if not result.videos:
        raise no_videos(root, "CAS(ME)^3 part A", result.quirks, _HINT)
    return result
