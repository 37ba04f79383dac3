"""The steps every annotation reader takes for one clip, written once.

A reader walks its annotation (a sheet's rows; for SMIC and CK+, folders) and takes the same
steps for each clip: report a quirk that names the file and row, keep the first row of a
duplicated sample id, read the onset/apex/offset cells (a blank or ``/`` stays missing, never
guessed), check the emotion against the dataset's own list, list the clip folder's frames
(reporting stray files), check them against onset..offset, and build the :class:`Sample`.
The reader keeps what is its own: where its files are, its column names, and the wording of its
quirks (tests match it), which it passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mertool.datasets.base import Quirk, Sample, relpath
from mertool.datasets.frames import check_clip_frames, gap_message, list_dir, list_frames, read_clip_folder
from mertool.datasets.labels import normalise_emotion
from mertool.datasets.tables import Cell, Row, frame_cells, parse_aus

#: ``(onset, apex, offset)`` frame numbers of a clip; None where the annotation has none.
Marks = tuple[int | None, int | None, int | None]
#: A clip's frame files and their numbers, in frame order (see :func:`frames.list_frames`).
Frames = tuple[list[Path], list[int]]
#: Writes one quirk message (about a row or a sample the caller has in hand).
Note = Callable[[str], None]


class QuirkLog:
    """The quirks of one read, each naming its file relative to the dataset root.

    ``log(path, message, row)`` adds one; ``log.at(sheet, row)`` is the ``note(message)`` of
    one row of an annotation file, ``log.at(sheet, row, f"{sid}: ")`` the one of a sample, whose
    messages start with its id.
    """

    def __init__(self, root: Path, quirks: list[Quirk]):
        self.root = root
        self.quirks = quirks

    def __call__(self, path: Path, message: str, row: int | None = None) -> None:
        self.quirks.append(Quirk(relpath(path, self.root), message, row))

    def at(self, path: Path, row: int | None, prefix: str = "") -> Note:
        return lambda message: self(path, prefix + message, row)


def keep_first(seen: dict[str, int], sid: str, row: int, note: Note) -> bool:
    """True for the first row of sample ``sid`` (remembered in ``seen``); a later one is noted
    as a duplicate (naming the first row) and gives False: the caller skips it."""
    if sid in seen:
        note(f"duplicated id {sid} (first on row {seen[sid]}); this row skipped")
        return False
    seen[sid] = row
    return True


def frame_marks(row: Row, columns: tuple[str, str, str], say: Note) -> Marks:
    """Onset, apex and offset from the row's ``columns`` (their header texts); each cell that is
    blank or not a number (an apex written ``/``) stays missing, and ``say`` (the sample's note) tells."""
    onset, apex, offset = columns
    cells, problems = frame_cells(row, {"onset": onset, "apex": apex, "offset": offset})
    for problem in problems:
        say(problem)
    return cells["onset"], cells["apex"], cells["offset"]


def checked_emotion(
    raw: Cell,
    known: Iterable[str],
    note: Note,
    then: str,
    blank: str | None = None,
    normalise: Callable[[Cell], str | None] = normalise_emotion,
    what: str = "emotion",
) -> str | None:
    """The emotion ``raw`` normalised, kept either way; one not in ``known`` is noted as
    ``unknown emotion 'Happy!'`` (``what`` names the cell) followed by ``then`` (what the reader
    does with it), a blank one as ``blank`` when given."""
    emotion = normalise(raw)
    if emotion is None:
        if blank is not None:
            note(blank)
    elif emotion not in known:
        note(f"unknown {what} {raw!r}{then}")
    return emotion


def note_frame_problems(numbers: list[int], marks: Marks, say: Note) -> None:
    """Tells each problem of a sample's frame numbers against its marks (:func:`check_clip_frames`)."""
    for problem in check_clip_frames(numbers, *marks):
        say(problem)


def read_clip(
    folder: Path,
    root: Path,
    quirks: list[Quirk],
    say: Note,
    marks: Marks | None = None,
    prefix: str | None = None,
) -> Frames:
    """The frames of the clip folder a sheet row names (:func:`read_clip_folder`): stray files go
    to ``quirks``; a folder without frames is told by ``say`` (the caller skips the sample);
    otherwise the frames are checked against ``marks`` when given."""
    frames, numbers, strays = read_clip_folder(folder, root, prefix)
    quirks.extend(strays)
    if not frames:
        say(f"clip folder {relpath(folder, root)} has no frames; sample skipped")
    elif marks is not None:
        note_frame_problems(numbers, marks, say)
    return frames, numbers


def listed_frames(folder: Path, log: QuirkLog, stray: str | Callable[[Path], str]) -> Frames:
    """The frames of ``folder`` (:func:`list_frames`), with a quirk on each stray file in it:
    ``stray`` is the message, or makes it from the file."""
    frames, numbers, strays = list_frames(folder)
    for s in strays:
        log(s, stray if isinstance(stray, str) else stray(s))
    return frames, numbers


def read_clip_span(
    folder: Path, marks: Marks, log: QuirkLog, note: Note, stray: str | Callable[[Path], str]
) -> Frames:
    """The frames of the clip folder a row names (:func:`listed_frames`, ``stray`` its message on a
    stray file); a folder without frames is noted (the caller skips the sample), and so are frames
    missing inside onset..offset."""
    frames, numbers = listed_frames(folder, log, stray)
    where = relpath(folder, log.root)
    if not frames:
        note(f"no frame images in {where}: skipped")
        return frames, numbers
    gap = gap_message(numbers, marks[0], marks[2])
    if gap:
        note(f"{where}: {gap}")
    return frames, numbers


def frames_between(frames: list[Path], numbers: list[int], first: int, last: int) -> Frames:
    """The frames numbered ``first..last`` (inclusive) of a long video's frames."""
    keep = [(n, f) for n, f in zip(numbers, frames) if first <= n <= last]
    return [f for _, f in keep], [n for n, _ in keep]


def video_frames(cache: dict[Path, Frames], folder: Path, log: QuirkLog, first: int, last: int) -> Frames:
    """The frames ``first..last`` of a long video's frame folder, listed once per read (``cache``)
    with a quirk on each stray file in it."""
    if folder not in cache:
        cache[folder] = listed_frames(folder, log, "not a frame image: ignored")
    return frames_between(*cache[folder], first, last)


def aus_fields(cell: Cell, text: Callable[[Cell], str | None] = lambda c: None if c is None else str(c)):
    """``aus`` (tokens, :func:`parse_aus`) and ``aus_raw`` (the cell as ``text`` writes it) of a Sample."""
    return {"aus": parse_aus(cell), "aus_raw": text(cell)}


def clip_sample(
    dataset: str,
    subject: str,
    clip: str,
    frames: Frames,
    fps: float | None,
    emotion: str | None,
    marks: Marks = (None, None, None),
    **fields: Any,
) -> Sample:
    """The Sample of one clip: id ``dataset/subject/clip`` and labels the native emotion alone
    unless ``fields`` say otherwise; ``fields`` are Sample's others (``aus``, ``extra``...)."""
    paths, numbers = frames
    fields = {
        "id": f"{dataset}/{subject}/{clip}",
        "labels": {"native": emotion},
        **dict(zip(("onset", "apex", "offset"), marks)),
        **fields,
    }
    names = {"dataset": dataset, "subject": subject, "clip": clip, "fps": fps, "emotion": emotion}
    return Sample(**names, frames=tuple(paths), frame_numbers=tuple(numbers), **fields)


# ------------------------------------------------------------------------------------------------
# a release's folders: the sheets at its top, subject folders holding clip folders

#: files that may sit beside the subject folders (the coding sheet, a readme)
DOC_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".csv", ".pdf", ".txt", ".md"})


def sheets_in(root: Path, pattern: Any) -> list[Path]:
    """The files directly in ``root`` whose name matches ``pattern``: the newest-looking name
    first (dates sort as text), workbooks before csv exports."""
    _, files = list_dir(root)
    found = sorted((f for f in files if pattern.match(f.name)), key=lambda p: p.name.lower(), reverse=True)
    return sorted(found, key=lambda p: p.suffix.lower() == ".csv")


def scan_subject_tree(
    root: Path,
    frames_root: Path,
    quirks: list[Quirk],
    subject_of: Callable[[str], str | None],
    not_a_subject: str,
) -> tuple[dict[str, Path], dict[tuple[str, str], Path]]:
    """Subject folders (subject key -> path) under ``frames_root`` and their clip folders, keyed by
    ``(subject, name)`` and ``(subject, lower-cased name)``. ``subject_of(folder name)`` gives the
    subject key or None for a folder that is not a subject's (noted with ``not_a_subject``); stray
    files are noted, documents beside the subject folders are not."""
    subjects: dict[str, Path] = {}
    clips: dict[tuple[str, str], Path] = {}
    dirs, files = list_dir(frames_root)
    for f in files:
        if f.suffix.lower() not in DOC_SUFFIXES:
            quirks.append(Quirk(relpath(f, root), "stray file among the subject folders; ignored"))
    for d in dirs:
        subject = subject_of(d.name)
        if subject is None:
            quirks.append(Quirk(relpath(d, root), not_a_subject))
            continue
        subjects[subject] = d
        clip_dirs, clip_files = list_dir(d)
        for f in clip_files:
            quirks.append(Quirk(relpath(f, root), "stray file among the clip folders; ignored"))
        for c in clip_dirs:
            clips[(subject, c.name)] = c
            clips.setdefault((subject, c.name.lower()), c)
    return subjects, clips


def read_coding_sheet(
    sheet: Path, root: Path, quirks: list[Quirk], required: list[str], aus_column: str
) -> tuple[Any, str]:
    """The coding sheet's table (with its ``required`` columns) and its path relative to
    ``root``; a sheet without ``aus_column`` is noted (AUs left empty)."""
    from mertool.datasets.tables import Table

    table = Table.read(sheet, required=required)
    sheet_rel = relpath(sheet, root)
    if not table.has_column(aus_column):
        quirks.append(Quirk(sheet_rel, f"no '{aus_column}' column; AUs left empty"))
    return table, sheet_rel


def coded_row(
    row: Row,
    sid: str,
    seen: dict[str, int],
    log: QuirkLog,
    sheet: Path,
    frame_columns: tuple[str, str, str],
    emotion_column: str,
    emotions: Iterable[str],
    unknown: str,
) -> tuple[Callable[[str], None], Any, str | None] | None:
    """The steps every coding-sheet row of a clip takes once its sample id is known: the first
    row of an id is kept (a later one noted and skipped: None), then its onset/apex/offset marks
    and its emotion are read, each problem noted against the sample. Returns ``(say, marks,
    emotion)``, ``say`` noting a problem of this sample."""
    note = log.at(sheet, row.number)
    if not keep_first(seen, sid, row.number, note):
        return None
    say = log.at(sheet, row.number, f"{sid}: ")
    marks = frame_marks(row, frame_columns, say)
    emotion = checked_emotion(row.get(emotion_column), emotions, say, unknown, "no emotion")
    return say, marks, emotion


def clip_folder(clips: dict[tuple[str, str], Path], subject: str, clip: str) -> Path | None:
    """The clip's folder from :func:`scan_subject_tree`'s map, by name or lower-cased name."""
    return clips.get((subject, clip)) or clips.get((subject, clip.lower()))
