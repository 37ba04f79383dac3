"""Where synthetic long videos go, and their annotation, in each spotting release's own layout.

``mertool synth --layout casme2sq-long|samm-long`` renders long videos (:mod:`mertool.synth.long_video`);
this module says where each frame file goes and writes the annotation workbook, so that what synth
writes is exactly what the long-video readers (:mod:`mertool.datasets.casme_sq_long`,
:mod:`mertool.datasets.samm_long`) read:

================  ============================================================  ================================
layout            frames (``root`` = the release folder)                        annotation
================  ============================================================  ================================
``casme2sq-long`` ``CASME_sq/rawpic/s15/15_0101disgustingteeth/img001.jpg``     ``CAS(ME)^2code_final.xlsx``: 3
                  (``img%03d``, 30 fps)                                         header-less sheets (expressions,
                                                                                naming rules 1 and 2)
``samm-long``     ``SAMM_longvideos/SAMM_longvideos/006_1/006_1_0001.jpg``      ``SAMM_LongVideos_V3_Release.xlsx``:
                  (``%04d``, 200 fps; greyscale is the renderer's business)     9 note rows, header on row 10
================  ============================================================  ================================

``subject_number`` is the dataset's own subject number, as :class:`mertool.synth.layouts.ClipRow`
has it: the CAS(ME)^2 folder number (``15`` -> ``s15``; its participant number in the sheet is its
place in :data:`CASME_SQ_SUBJECTS`, and ``22 + n`` for a number not there) and the SAMM subject
(``6`` -> ``006``). ``video_index`` (1-based, per subject) picks the CAS(ME)^2 stimulus video
(:data:`CASME_SQ_VIDEOS`: code, name, folder words) and is the SAMM inducement code.

Labels: CAS(ME)^2 writes an expression's ``label`` in the emotion-category column, which the reader
yields as the label (so labels should be ``positive``/``negative``/``surprise``/``others``; the
self-report column gets :data:`CASME_SQ_SELF_REPORT` of it). The real SAMM-LV workbook has no
emotion column: the synthetic one adds ``Estimated Emotion`` (SAMM's micro-release header, the
label capitalised) after ``Notes``, which the reader reads where it exists. Expression names are
the layout's own (``disgust1_1``; ``006_1_1``, numbered by onset), whatever ``name`` the rows carry.
Workbooks are byte-for-byte reproducible (fixed dates), as :func:`mertool.synth.layouts.write_xlsx`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mertool.datasets.long_videos import Expression
from mertool.datasets.samm_long import COLUMNS as SAMM_COLUMNS

LONG_LAYOUTS = ("casme2sq-long", "samm-long")
#: the release folder each layout is read from (``root`` in the functions below is that folder)
ROOT_NAMES = {"casme2sq-long": "CASME_sq", "samm-long": "SAMM_longvideos"}
_FPS = {"casme2sq-long": 30.0, "samm-long": 200.0}

#: CAS(ME)^2's 22 subject folders ``s15 ... s40`` in participant order (DATASETS.md section 6).
CASME_SQ_SUBJECTS = (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40)
#: CAS(ME)^2 stimulus videos by ``video_index`` (1-based): (4-digit code, video name in the sheet,
#: the folder's words). Codes and names follow the release's scheme; most words are made up.
CASME_SQ_VIDEOS = (
    ("0101", "disgust1", "disgustingteeth"),
    ("0102", "disgust2", "eatingworms"),
    ("0401", "anger1", "senselessviolence"),
    ("0402", "anger2", "unfairtreatment"),
    ("0502", "happy1", "funnyerrors"),
    ("0503", "happy2", "funnyfarting"),
    ("0505", "happy3", "funnypets"),
    ("0507", "happy4", "funnybabies"),
    ("0508", "happy5", "funnydance"),
)
#: the self-report written beside an emotion category (the sheet's last column)
CASME_SQ_SELF_REPORT = {
    "positive": "happiness",
    "negative": "disgust",
    "surprise": "surprise",
    "others": "others",
}
CASME_SQ_BOOK = "CAS(ME)^2code_final.xlsx"

SAMM_BOOK = "SAMM_LongVideos_V3_Release.xlsx"
SAMM_HEADER = (
    *SAMM_COLUMNS,
    "Estimated Emotion",
)  # the last column is not in the real release: the synthetic labels
SAMM_NOTES = (
    "SAMM Long Videos (synthetic copy written by mertool synth)",
    "Subject: participant number; Filename: <subject>_<inducement>_<n>, one row per movement",
    "The long video of a row is its Filename up to the second underscore (006_1)",
    "Onset, Apex, Offset: absolute frame numbers of the long video (frames <video>_<NNNN>.jpg)",
    "Duration: frames from onset to offset",
    "Type: Micro - 1/2 or Macro",
    "Action Units: FACS codes",
    "Estimated Emotion: the label the synthetic expression was rendered with",
    "Recorded at 200 fps, greyscale",
)


@dataclass(frozen=True)
class LongVideoRow:
    """One synthetic long video: whose, which, its frame numbers and its expressions.

    ``subject_number`` is the dataset's own subject number (CAS(ME)^2 folder number 15.., SAMM
    6..); ``video_index`` 1-based per subject; frames ``first_frame .. first_frame + n_frames - 1``
    (absolute numbers, as the files are named); ``expressions`` in those absolute numbers.
    """

    subject_number: int
    video_index: int
    first_frame: int
    n_frames: int
    expressions: tuple[Expression, ...]


def _check_layout(layout: str) -> None:
    if layout not in LONG_LAYOUTS:
        from mertool.errors import MertoolError

        raise MertoolError(f"unknown long layout {layout!r}", hint=f"one of: {', '.join(LONG_LAYOUTS)}")


def default_fps(layout: str) -> float:
    """Frames per second of the release: 30 (CAS(ME)^2) or 200 (SAMM-LV)."""
    _check_layout(layout)
    return _FPS[layout]


def casme_sq_participant(subject_number: int) -> int:
    """The sheet's participant (1..22) of a CAS(ME)^2 folder number; ``22 + n`` beyond the real list."""
    if subject_number in CASME_SQ_SUBJECTS:
        return CASME_SQ_SUBJECTS.index(subject_number) + 1
    return len(CASME_SQ_SUBJECTS) + subject_number


def casme_sq_video(video_index: int) -> tuple[str, str, str]:
    """(code, video name, folder words) of a CAS(ME)^2 ``video_index`` (1-based); past
    :data:`CASME_SQ_VIDEOS` the codes go on ``0901``, ``0902`` ... (up to 99 more)."""
    if video_index < 1:
        raise ValueError(f"video_index starts at 1, not {video_index}")
    if video_index <= len(CASME_SQ_VIDEOS):
        return CASME_SQ_VIDEOS[video_index - 1]
    k = video_index - len(CASME_SQ_VIDEOS)
    if k > 99:
        raise ValueError(f"at most {len(CASME_SQ_VIDEOS) + 99} CAS(ME)^2 videos per subject")
    return f"09{k:02d}", f"other{k}", f"synthvideo{k}"


def samm_subject(subject_number: int) -> str:
    """SAMM's subject folder prefix ``006`` of subject 6."""
    return f"{subject_number:03d}"


def video_dir(layout: str, root: Path, subject_number: int, video_index: int) -> Path:
    """The folder of one long video's frames under the release folder ``root``; creates nothing."""
    _check_layout(layout)
    root = Path(root)
    if layout == "casme2sq-long":
        code, _, words = casme_sq_video(video_index)
        return root / "rawpic" / f"s{subject_number:02d}" / f"{subject_number:02d}_{code}{words}"
    return root / "SAMM_longvideos" / f"{samm_subject(subject_number)}_{video_index}"


def frame_path(layout: str, root: Path, subject_number: int, video_index: int, frame_number: int) -> Path:
    """The JPEG of absolute frame ``frame_number``: ``img001.jpg`` (CAS(ME)^2), ``006_1_0001.jpg`` (SAMM)."""
    folder = video_dir(layout, root, subject_number, video_index)
    if frame_number < 0:
        raise ValueError(f"frame numbers are not negative ({frame_number})")
    if layout == "casme2sq-long":
        return folder / f"img{frame_number:03d}.jpg"
    return folder / f"{folder.name}_{frame_number:04d}.jpg"


def _checked(rows: Sequence[LongVideoRow]) -> list[LongVideoRow]:
    """Rows sorted by (subject, video); a repeated video or an expression outside its video's
    frames is a ValueError (the caller's mistake, not the data's)."""
    seen: set[tuple[int, int]] = set()
    for r in rows:
        key = (r.subject_number, r.video_index)
        if key in seen:
            raise ValueError(f"video {key} given twice")
        seen.add(key)
        last = r.first_frame + r.n_frames - 1
        for e in r.expressions:
            if not r.first_frame <= e.onset <= e.offset <= last:
                raise ValueError(
                    f"expression {e.onset}..{e.offset} outside video {key}'s frames {r.first_frame}..{last}"
                )
    return sorted(rows, key=lambda r: (r.subject_number, r.video_index))


def _ordered(expressions: Sequence[Expression]) -> list[Expression]:
    return sorted(expressions, key=lambda e: (e.onset, e.offset, e.kind))


def write_annotation(layout: str, root: Path, rows: list[LongVideoRow]) -> list[Path]:
    """Write the release's annotation workbook for ``rows`` under the release folder ``root``.

    CAS(ME)^2: ``CAS(ME)^2code_final.xlsx`` with its three header-less sheets: one row per
    expression (participant, ``<video name>_<n>``, onset, apex (0 when None), offset, AUs, emotion
    category = label, ``micro-expression``/``macro-expression``, self-report), naming rule 1
    (folder number, ``sNN``, participant) and naming rule 2 (code as text, video name). SAMM-LV:
    ``SAMM_LongVideos_V3_Release.xlsx``, 9 note rows, the header on row 10 and one row per
    expression (apex ``-1`` when None, Type ``Micro - 1/2`` or ``Macro``). Returns the files written.
    """
    _check_layout(layout)
    root = Path(root)
    rows = _checked(rows)
    if layout == "casme2sq-long":
        return [_write_casme_sq(root, rows)]
    return [_write_samm(root, rows)]


def _write_casme_sq(root: Path, rows: list[LongVideoRow]) -> Path:
    expressions: list[list[Any]] = []
    subjects: dict[int, int] = {}
    videos: dict[str, str] = {}
    for r in rows:
        participant = casme_sq_participant(r.subject_number)
        subjects[r.subject_number] = participant
        code, name, _ = casme_sq_video(r.video_index)
        videos[code] = name
        for k, e in enumerate(_ordered(r.expressions), start=1):
            kind = f"{e.kind}-expression"
            report = CASME_SQ_SELF_REPORT.get(e.label or "", e.label)
            apex = e.apex if e.apex is not None else 0
            expressions.append(
                [participant, f"{name}_{k}", e.onset, apex, e.offset, e.aus, e.label, kind, report]
            )
    expressions.sort(key=lambda c: (c[0], c[1].split("_")[0], c[2]))
    rule1 = [[n, f"s{n:02d}", p] for n, p in sorted(subjects.items(), key=lambda kv: kv[1])]
    rule2 = [[code, name] for code, name in sorted(videos.items())]
    path = root / CASME_SQ_BOOK
    _write_book(path, [("CASME2_code", expressions), ("naming rule1", rule1), ("naming rule2", rule2)])
    return path


def _write_samm(root: Path, rows: list[LongVideoRow]) -> Path:
    table: list[list[Any]] = [[n] + [None] * (len(SAMM_HEADER) - 1) for n in SAMM_NOTES]
    table.append(list(SAMM_HEADER))
    for r in rows:
        video = f"{samm_subject(r.subject_number)}_{r.video_index}"
        for k, e in enumerate(_ordered(r.expressions), start=1):
            table.append(
                [
                    r.subject_number,
                    f"{video}_{k}",
                    r.video_index,
                    e.onset,
                    e.apex if e.apex is not None else -1,
                    e.offset,
                    e.offset - e.onset + 1,
                    "Micro - 1/2" if e.kind == "micro" else "Macro",
                    e.aus,
                    None,
                    e.label.capitalize() if e.label else None,
                ]
            )
    path = root / SAMM_BOOK
    _write_book(path, [("Sheet1", table)])
    return path


def _write_book(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
    """The workbook, byte-stable (:func:`mertool.synth.layouts.write_book`)."""
    from mertool.synth.layouts import write_book

    write_book(path, sheets)
