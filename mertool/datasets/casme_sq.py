"""CAS(ME)^2: long videos in ``rawpic/`` and the ``CAS(ME)^2code_final*.xlsx`` sheets (DATASETS.md §6).

Layout read::

    CASME_sq/CAS(ME)^2code_final.xlsx      (also code_final.xlsx, CAS(ME)^2code_final(Updated).xlsx)
    CASME_sq/rawpic/s15/15_0101disgustingteeth/img001.jpg ...

The workbook has three header-less sheets, so this is the one reader that reads columns **by
position** (the file has no header text to find them by):

* sheet 0, one row per expression: participant (1-22), ``anger1_1`` (video name + expression
  index), onset, apex, offset (``0`` = not coded), AUs, emotion category
  (positive/negative/surprise/others), expression type (micro/macro), self-reported emotion;
* sheet 1 maps participant -> folder number and subject folder (``15, s15, 1``);
* sheet 2 maps the 4-digit video code (text, ``'0101'``) -> video name (``disgust1``).

A video folder is found as ``rawpic/<subject>/<NN>_<code><words>`` by its code (the digits after
``_``), never by its words, which carry typos (``15_0503unnyfarting``). Each sample keeps the
video's frames onset..offset. An offset of ``0`` means *not coded*: public loaders silently take
the apex instead; mertool keeps ``offset`` unknown (``None``), reports a quirk, and keeps frames
onset..apex, so that nothing is guessed.

``casme2sq`` reads the micro-expressions only (the MER task); ``casme2sq-all`` reads micro- and
macro-expressions and writes the type to the sample file as attribute ``variant``
(``micro``/``macro``). The expression type is in ``extra["expression_type"]`` either way; the
self-report (typo ``happyiness`` normalised) in ``extra["self_report"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, register, relpath
from mertool.datasets.frames import gap_message, list_dir
from mertool.datasets.labels import normalise_emotion
from mertool.datasets.rows import (
    QuirkLog,
    aus_fields,
    checked_emotion,
    clip_sample,
    video_frames,
)
from mertool.datasets.tables import as_int, read_rows, sheet_names
from mertool.errors import DatasetError

NAME = "casme2sq"
FPS = 30.0  # [V: P-FPS; X-C2CFG]
EMOTIONS = frozenset({"positive", "negative", "surprise", "others"})
_SHEET_RE = re.compile(r"code_final.*\.xlsx?$", re.IGNORECASE)


def find_sheet(root: Path) -> list[Path]:
    """The ``*code_final*.xlsx`` workbooks in ``root`` (the ``(Updated)`` one first)."""
    _, files = list_dir(root)
    found = [f for f in files if _SHEET_RE.search(f.name) and not f.name.startswith("~$")]
    return sorted(found, key=lambda f: ("updated" not in f.name.lower(), f.name))


def detect(root: Path) -> bool:
    return (root / "rawpic").is_dir() and bool(find_sheet(root))


def _read_all(root: Path) -> DatasetRead:
    return _read(root, ("micro", "macro"), NAME + "-all")


@register(
    NAME,
    "CAS(ME)^2 micro-expressions: rawpic/ + CAS(ME)^2code_final*.xlsx (header-less sheets), 30 fps",
    detect,
    label_maps=("native",),
    aliases=("casme^2", "casme_sq", "casme2-sq"),
    title="CAS(ME)^2",
)
def read(root: Path) -> DatasetRead:
    return _read(Path(root), ("micro",), NAME)


# micro- and macro-expressions; only by name (--dataset casme2sq-all), never auto-detected
register(
    NAME + "-all",
    "CAS(ME)^2 micro- and macro-expressions (attribute variant = micro/macro); by --dataset only",
    lambda root: False,
    label_maps=("native",),
    title="CAS(ME)^2 (micro and macro)",
    accepts=detect,
)(_read_all)


def _naming_rules(book: Path, q) -> tuple[dict[int, str], dict[str, str]]:
    """Sheet 1: participant -> subject folder (``s15``); sheet 2: video name -> 4-digit code."""
    names = sheet_names(book)
    if len(names) < 3:
        raise DatasetError(
            f"{book}: {len(names)} sheet(s) ({', '.join(names)}); CAS(ME)^2 needs 3 "
            "(expressions, naming rule 1, naming rule 2)",
            hint="use the workbook as distributed with the dataset",
        )
    subjects: dict[int, str] = {}
    for i, row in enumerate(read_rows(book, 1), start=1):
        cells = list(row) + [None] * 3
        if all(c is None for c in cells[:3]):
            continue
        participant, code = as_int(cells[2]), cells[1]
        if participant is None or code is None:
            q(book, f"naming rule 1 sheet: row not 'number, sNN, participant': {row[:3]!r}: skipped", i)
            continue
        subjects[participant] = str(code).strip()
    videos: dict[str, str] = {}
    for i, row in enumerate(read_rows(book, 2), start=1):
        cells = list(row) + [None] * 2
        if all(c is None for c in cells[:2]):
            continue
        code, name = cells[0], cells[1]
        code_text = (
            f"{code:04d}" if isinstance(code, int) else (str(code).strip() if code is not None else "")
        )
        if not re.fullmatch(r"\d{4}", code_text) or name is None:
            q(book, f"naming rule 2 sheet: row not 'code, video name': {row[:2]!r}: skipped", i)
            continue
        videos[str(name).strip().lower()] = code_text
    return subjects, videos


def _read(root: Path, types: tuple[str, ...], reader_name: str) -> DatasetRead:
    root = Path(root)
    books = find_sheet(root)
    if not books:
        raise DatasetError(
            f"{root}: no CAS(ME)^2code_final*.xlsx", hint="give the CASME_sq folder that holds the workbook"
        )
    book = books[0]
    result = DatasetRead(reader_name, root, [], annotation_files=[book], default_label_map="native")
    q = QuirkLog(root, result.quirks)
    if len(books) > 1:
        q(book, f"several workbooks ({', '.join(b.name for b in books)}): this one is read")
    subjects, videos = _naming_rules(book, q)
    rawpic = root / "rawpic"
    subject_dirs = {p.name.lower(): p for p in list_dir(rawpic)[0]}
    frame_cache: dict[Path, tuple[list[Path], list[int]]] = {}
    seen: set[str] = set()
    all_types = len(types) > 1

    for i, row in enumerate(read_rows(book, 0), start=1):
        c = list(row) + [None] * 9
        say = q.at(book, i, "expressions sheet: ")
        if all(x is None for x in c[:9]):
            continue
        participant = as_int(c[0])
        if participant is None:
            what = "looks like a header row" if i == 1 else f"participant {c[0]!r} is not a number"
            say(f"{what}: skipped")
            continue
        kind = str(c[7] or "").strip().lower()
        etype = "micro" if kind.startswith("micro") else "macro" if kind.startswith("macro") else None
        if etype is None:
            say(f"expression type {c[7]!r} is neither micro- nor macro-expression: skipped")
            continue
        if etype not in types:
            continue
        video = str(c[1] or "").strip()
        subject = subjects.get(participant)
        if subject is None:
            say(f"participant {participant} is not in the naming rule 1 sheet: skipped")
            continue
        code = videos.get(video.split("_")[0].lower())
        if code is None:
            say(f"video {video!r} is not in the naming rule 2 sheet: skipped")
            continue
        sid = f"{NAME}/{subject}/{video}"
        if sid in seen:
            say(f"duplicated id {sid}: this row skipped (the first one is kept)")
            continue
        emotion = checked_emotion(c[6], EMOTIONS, say, ": kept as written", what="emotion category")
        onset, apex, offset = as_int(c[2]), as_int(c[3]), as_int(c[4])
        if apex == 0:
            apex = None
        if offset == 0:
            say(f"{video}: offset 0 (not coded): offset kept unknown, frames read onset..apex")
            offset = None
        last = offset if offset is not None else apex
        if onset is None or last is None:
            say(f"{video}: no onset, or neither apex nor offset: skipped")
            continue
        subj_dir = subject_dirs.get(subject.lower())
        video_dir = _find_video(subj_dir, code) if subj_dir else None
        if video_dir is None:
            where = f"rawpic/{subject}/*_{code}*"
            say(f"no frames on disk for {subject}/{video} (no folder {where}): skipped")
            continue
        if video_dir not in frame_cache:
            _check_video_dir(video_dir, subject, q)
        frames = video_frames(frame_cache, video_dir, q, onset, last)
        gap = gap_message(frames[1], onset, last)
        if gap:
            say(f"{relpath(video_dir, root)}: {gap}")
        if not frames[0]:
            say(f"no frames {onset}..{last} in {relpath(video_dir, root)}: skipped")
            continue
        seen.add(sid)
        extra = {
            "expression_type": etype,
            "self_report": normalise_emotion(c[8]),
            "participant": participant,
            "video_code": code,
            "video_dir": video_dir,
            "row": i,
        }
        if all_types:
            extra["variant"] = etype
        marks = (onset, apex, offset)
        result.samples.append(
            clip_sample(NAME, subject, video, frames, FPS, emotion, marks, extra=extra, **aus_fields(c[5]))
        )
    return result


def _find_video(subj_dir: Path, code: str) -> Path | None:
    """The folder ``NN_<code>...`` of a subject, matched by the 4 digits after ``_``."""
    hits = [d for d in list_dir(subj_dir)[0] if "_" in d.name and d.name.split("_", 1)[1][:4] == code]
    return hits[0] if hits else None


def _check_video_dir(video_dir: Path, subject: str, q) -> None:
    """Quirk when a folder's number prefix disagrees with its subject (``s19/23_0502funnyerrors``)."""
    prefix = video_dir.name.split("_", 1)[0]
    digits = re.sub(r"\D", "", subject)
    if prefix.isascii() and prefix.isdigit() and digits and int(prefix) != int(digits):
        q(video_dir, f"folder prefix {prefix} does not match its subject folder {subject}: read as {subject}")
