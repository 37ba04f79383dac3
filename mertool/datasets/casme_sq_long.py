"""CAS(ME)^2 long videos for spotting: every ``rawpic/`` video with its micro and macro intervals.

Layout read (DATASETS.md section 6; the same tree the clip readers ``casme2sq`` read)::

    CASME_sq/CAS(ME)^2code_final.xlsx      (also code_final.xlsx, CAS(ME)^2code_final(Updated).xlsx)
    CASME_sq/rawpic/s15/15_0101disgustingteeth/img001.jpg ...

One :class:`~mertool.datasets.long_videos.LongVideo` per video folder ``rawpic/<subject>/NN_<code>...``
(id ``casme2sq/s15/15_0101disgustingteeth``: the folder names as on disk), all its frames
(``img001.jpg`` -> 1, sorted by number), 30 fps, and every expression the code sheet gives for it,
micro and macro. The workbook is parsed as the clip reader does (:mod:`mertool.datasets.casme_sq`:
header-less sheets read by position; naming rule 1 maps the participant to the subject folder,
naming rule 2 the video name ``disgust1`` to its code ``0101``, which finds the folder whatever
typos its words carry). An expression's ``label`` is the sheet's emotion category
(``positive``/``negative``/``surprise``/``others``, as the clip reader's native emotion), ``name``
the sheet's ``disgust1_1``, ``aus`` the AU cell; the self-report (``happyiness`` read as
``happiness``) is in ``video.extra["self_reports"][name]``.

Unlike the clip reader, an offset ``0`` (not coded) takes the apex, as the public spotting loaders
and MEGC's evaluation do: an interval needs an end. Every such row is a quirk. Other quirks: an
unreadable workbook (the next one found is tried), rows the naming rules do not resolve, a row
whose video folder is absent, onset/offset problems (see
:func:`~mertool.datasets.long_videos.read_interval`), frames missing inside an expression, video
folders no row names (read, with no expression), stray files.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import relpath
from mertool.datasets.casme_sq import EMOTIONS, FPS, _check_video_dir, _naming_rules, detect, find_sheet
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
from mertool.datasets.rows import QuirkLog, checked_emotion
from mertool.datasets.tables import Cell, as_int, as_text, read_rows
from mertool.errors import DatasetError

NAME = "casme2sq-long"
DATASET = "casme2sq"
#: A video folder: the subject's number, ``_``, the 4-digit video code, then words (``15_0101disgustingteeth``).
_VIDEO_DIR_RE = re.compile(r"^(\d+)_(\d{4})")
_HINT = "give the CASME_sq folder that holds rawpic/ and CAS(ME)^2code_final.xlsx"


def _read_book(root: Path, q: QuirkLog) -> tuple[Path, dict[int, str], dict[str, str], list[list[Cell]]]:
    """The first readable code sheet: its path, naming rules 1 and 2, and the rows of sheet 0.

    A workbook that cannot be read is a quirk and the next one (:func:`find_sheet` order) is tried;
    none readable raises :class:`DatasetError`."""
    books = find_sheet(root)
    if not books:
        raise DatasetError(f"{root}: no CAS(ME)^2code_final*.xlsx", hint=_HINT)
    failed: list[Path] = []
    for book in books:
        try:
            subjects, videos = _naming_rules(book, q)
            rows = read_rows(book, 0)
        except DatasetError as exc:
            q(book, f"cannot read this code sheet ({exc.message}); not used")
            failed.append(book)
            continue
        for other in books:
            if other != book and other not in failed:
                q(other, f"another code sheet; {book.name} was read")
        return book, subjects, videos, rows
    raise no_videos(root, "CAS(ME)^2", q.quirks, "re-copy the code sheet from the dataset")


@register_long(
    NAME,
    "CAS(ME)^2",
    "CAS(ME)^2 rawpic/sNN/NN_CCCCname/img*.jpg + CAS(ME)^2code_final*.xlsx; micro and macro; 30 fps",
    detect,
)
def read(root: Path) -> LongRead:
    """Read every ``rawpic`` video of a CAS(ME)^2 root with its expressions (frame numbers absolute)."""
    root = Path(root)
    result = LongRead(NAME, root, [])
    q = QuirkLog(root, result.quirks)
    book, subjects, videos, rows = _read_book(root, q)
    result.annotation_files.append(book)
    book_rel = relpath(book, root)
    names = {code: name for name, code in videos.items()}

    # --- the code sheet: expressions by (subject folder, video code)
    found: dict[tuple[str, str], list] = {}
    self_reports: dict[tuple[str, str], dict[str, str | None]] = {}
    row_numbers: dict[tuple[str, str], dict[str, int]] = {}
    seen: set[tuple[int, str]] = set()
    for i, row in enumerate(rows, start=1):
        c = list(row) + [None] * 9
        if all(x is None for x in c[:9]):
            continue
        say = q.at(book, i, "expressions sheet: ")
        participant = as_int(c[0])
        if participant is None:
            say(
                ("looks like a header row" if i == 1 else f"participant {c[0]!r} is not a number")
                + ": skipped"
            )
            continue
        kind = expression_kind(c[7])
        if kind is None:
            say(f"expression type {c[7]!r} is neither micro- nor macro-expression: skipped")
            continue
        name = as_text(c[1]) or ""
        subject = subjects.get(participant)
        if subject is None:
            say(f"participant {participant} is not in the naming rule 1 sheet: skipped")
            continue
        code = videos.get(name.split("_")[0].lower())
        if code is None:
            say(f"video {name!r} is not in the naming rule 2 sheet: skipped")
            continue
        if (participant, name.lower()) in seen:
            say(f"{subject}/{name} repeats an earlier row: this row skipped")
            continue
        say = q.at(book, i, f"{subject}/{name}: ")
        marks = read_interval(c[2], c[3], c[4], say, zero_unknown=True)
        if marks is None:
            continue
        seen.add((participant, name.lower()))
        label = checked_emotion(c[6], EMOTIONS, say, ": kept as written", what="emotion category")
        onset, apex, offset = marks
        aus = as_text(c[5])
        expr = Expression(onset, offset, kind, apex, label, aus, name)
        key = (subject.lower(), code)
        found.setdefault(key, []).append((expr, say))
        self_reports.setdefault(key, {})[name] = normalise_emotion(c[8])
        row_numbers.setdefault(key, {})[name] = i

    # --- the video folders
    rawpic = root / "rawpic"
    subject_dirs, files = list_dir(rawpic)
    for f in files:
        q(f, "stray file among the subject folders: ignored")
    folders: dict[tuple[str, str], tuple[str, Path]] = {}
    for sdir in subject_dirs:
        vdirs, sfiles = list_dir(sdir)
        for f in sfiles:
            q(f, "stray file among the video folders: ignored")
        for vdir in vdirs:
            m = _VIDEO_DIR_RE.match(vdir.name)
            if m is None:
                q(vdir, "not a video folder (NN_<4-digit code><words>): not read")
                continue
            key = (sdir.name.lower(), m.group(2))
            if key in folders:
                q(vdir, f"a second folder with code {m.group(2)} in {sdir.name}: not read")
                continue
            folders[key] = (sdir.name, vdir)

    for key, items in found.items():
        if key not in folders:
            for _, say in items:
                say(f"no video folder rawpic/{key[0]}/*_{key[1]}* on disk: expression not read")

    for key in sorted(folders, key=lambda k: (folders[k][0], folders[k][1].name)):
        subject, vdir = folders[key]
        _check_video_dir(vdir, subject, q)
        note = q.at(vdir, None)
        items = found.get(key, [])
        frames, numbers = long_video_frames(vdir, note)
        if not frames:
            lost = f"; its {len(items)} expression(s) not read" if items else ""
            note(f"no frame images: video not read{lost}")
            continue
        if not items:
            note(f"no row of {book.name} names this video: read with no expression")
        extra = {
            "folder": vdir,
            "video_code": key[1],
            "video_name": names.get(key[1]),
            "annotation": book_rel,
            "annotated": KINDS,
            "self_reports": self_reports.get(key, {}),
            "rows": row_numbers.get(key, {}),
        }
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
                extra=extra,
            )
        )
    if not result.videos:
        raise no_videos(root, "CAS(ME)^2", result.quirks, _HINT)
    return result
