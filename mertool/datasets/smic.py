"""SMIC (HS / VIS / NIR, raw or cropped) and SMIC-E (the long-clip release), read as shipped.

Recognition release (DATASETS.md 3.1-3.2)::

    ROOT/SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image106720.bmp ...
    ROOT/SMIC_all_raw/HS/s1/non_micro/...                         (skipped: not micro-expressions)
    ROOT/SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/reg_image106720.bmp ...

It has **no annotation file**: the label is the emotion folder, onset/offset are the first/last
frame numbers on disk, and the apex is missing (never guessed). ROOT may also be
``SMIC_all_raw`` (or ``SMIC_all_cropped``) itself or one of its ``HS``/``VIS``/``NIR`` folders.
Readers: ``smic`` (HS raw), ``smic-cropped`` (HS cropped), ``smic-vis``, ``smic-nir``,
``smic-vis-cropped``, ``smic-nir-cropped``. Auto-detection prefers HS, then raw: VIS and NIR are
detected where there is no HS folder (the ``VIS`` folder given as ROOT, or a copy without HS;
a copy with VIS and NIR but no HS asks for ``--dataset``). HS runs at 100 fps, VIS and NIR at 25;
VIS and NIR were recorded for the latter 10 subjects only (``s11``...), and their frame names are
not documented (``image012301.bmp``, ``image 012301.bmp``, ``012301.bmp``: the last integer is the
frame number; cropped HS frames must start ``reg_``, cropped VIS/NIR frames need not). Subjects
are the folder names normalised to ``s%d`` (``s1``), as on disk; sample ids ``smic/s1/s1_ne_01``
(HS), ``smic-vis/...``, ``smic-nir/...``; the ``variant`` attribute is ``HS``, ``VIS`` or ``NIR``
(``-cropped`` appended for the cropped release).

SMIC-E (DATASETS.md 3.3)::

    ROOT/SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx
    ROOT/SMIC-E_raw image/HS_long/SMIC-HS-E/HS/s01/s1_ne_01/image000123.jpg ...

``smic-e`` (and ``smic-e-vis``, ``smic-e-nir``, detected where there is no HS workbook, e.g.
``VIS_long/`` given as ROOT) find the annotation workbook by name anywhere up to three folders
below ROOT, read ``Subject, Filename, FirstF, OnsetF, OffsetF, Emotion`` by
header text (``ApexF`` when the 2019 file has it) and stop at rows with an empty ``Subject``
(the trailing notes). Clip folders are found by name below the workbook's folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.datasets.frames import list_dir, read_clip_folder
from mertool.datasets.labels import megc2019_label, normalise_emotion
from mertool.datasets.rows import (
    QuirkLog,
    checked_emotion,
    clip_sample,
    keep_first,
    note_frame_problems,
    read_clip,
)
from mertool.datasets.tables import Table, as_int, as_text, subject_number
from mertool.errors import DatasetError

FPS = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
EMOTIONS = ("negative", "positive", "surprise")
LABEL_MAPS = ("native", "megc2019")
#: Emotion codes used in clip names (``s1_ne_01``) and some sheets.
_CODES = {"ne": "negative", "po": "positive", "sur": "surprise", "su": "surprise"}
_SUBJECT_RE = re.compile(r"^s0*(\d+)$", re.IGNORECASE)
_CLIP_SUBJECT_RE = re.compile(r"^s0*(\d+)(?=_)", re.IGNORECASE)
#: What the readers do with an emotion that is not in :data:`EMOTIONS`.
_UNKNOWN = "; kept as native, no MEGC2019 label"


def smic_labels(emotion: str | None) -> dict[str, str | None]:
    """Labels of one SMIC sample (any band) under native and the MEGC2019 3-class map."""
    return {"native": emotion, "megc2019": megc2019_label("smic", emotion)}


def normalise_smic_emotion(raw: object) -> str | None:
    """``negative``/``Negative``/``ne`` -> ``negative``; other text lower-cased; None when blank."""
    emotion = normalise_emotion(raw)
    return _CODES.get(emotion, emotion) if emotion else None


def subject_id(name: object) -> str | None:
    """``s1``, ``s01``, ``1`` -> the LOSO key ``s1``; None when not a subject name."""
    n = subject_number(name, _SUBJECT_RE)
    return None if n is None else f"s{n}"


def clip_name(name: str) -> str:
    """MEGC-list clip ``s01_ne_01`` -> the folder name ``s1_ne_01``."""
    return _CLIP_SUBJECT_RE.sub(lambda m: f"s{int(m.group(1))}", name.strip(), count=1)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _child(folder: Path, name: str) -> Path | None:
    """The subfolder of ``folder`` called ``name``, ignoring case."""
    dirs, _ = list_dir(folder)
    want = name.lower()
    return next((d for d in dirs if d.name.lower() == want), None)


def _is_band_dir(folder: Path) -> bool:
    """A band folder holds subject folders ``sN`` of which at least one has ``micro/``."""
    dirs, _ = list_dir(folder)
    return any(_SUBJECT_RE.match(d.name) and _child(d, "micro") is not None for d in dirs)


def find_band_dir(root: Path, band: str, cropped: bool) -> Path | None:
    """The ``HS``/``VIS``/``NIR`` folder of the raw or cropped release reachable from ``root``.

    ``root`` may be the dataset folder (holding ``SMIC_all_raw``), the ``SMIC_all_raw`` folder, or
    the band folder itself (raw/cropped told by its parent's name).
    """
    kind = "smicallcropped" if cropped else "smicallraw"
    dirs, _ = list_dir(root)
    for d in dirs:
        if _norm(d.name) == kind:
            b = _child(d, band)
            return b if b is not None and _is_band_dir(b) else None
    if _norm(root.name) == kind:
        b = _child(root, band)
        return b if b is not None and _is_band_dir(b) else None
    if root.name.upper() == band and ("crop" in root.parent.name.lower()) == cropped and _is_band_dir(root):
        return root
    return None


def has_band(root: Path, band: str, cropped: bool) -> bool:
    """True when ``root`` leads to the ``band`` folder of the raw (or cropped) release."""
    return find_band_dir(root, band, cropped) is not None


def detect_band(band: str, cropped: bool):
    """A detector for one band of one release, picking one reader where a root holds several.

    HS comes first (it is the recognition benchmark): VIS and NIR are detected only where there
    is no HS folder (``SMIC_all_raw/VIS`` given as the root, or a copy without HS). The cropped
    release is detected only where the band has no raw folder.
    """

    def detect(root: Path) -> bool:
        if not has_band(root, band, cropped):
            return False
        if cropped and has_band(root, band, False):
            return False
        return band == "HS" or not any(has_band(root, "HS", c) for c in (False, True))

    return detect


def _reader(band: str, cropped: bool):
    def read_it(root: Path) -> DatasetRead:
        return read(Path(root), band, cropped)

    return read_it


def _name(band: str, cropped: bool) -> str:
    return "smic" + ("" if band == "HS" else f"-{band.lower()}") + ("-cropped" if cropped else "")


def _accepts(band: str, cropped: bool):
    return lambda root: has_band(Path(root), band, cropped)


for _band in ("HS", "VIS", "NIR"):
    for _cropped in (False, True):
        _what = f"SMIC {_band} {'cropped (SMIC_all_cropped/' if _cropped else 'raw (SMIC_all_raw/'}{_band}/sN/micro/...)"
        _when = "; auto-detected" + (" where there is no HS folder" if _band != "HS" else "")
        _when += " and no raw folder" if _cropped else ""
        register(
            _name(_band, _cropped),
            f"{_what}, labels from folders, no apex; {FPS[_band]:g} fps{_when}",
            detect_band(_band, _cropped),
            label_maps=LABEL_MAPS,
            aliases=(_name(_band, _cropped).replace("smic", "smic-hs", 1),) if _band == "HS" else (),
            title=f"SMIC-{_band}" + (" (cropped)" if _cropped else ""),
            accepts=_accepts(_band, _cropped),
        )(_reader(_band, _cropped))


def read(root: Path, band: str = "HS", cropped: bool = False) -> DatasetRead:
    """Read one band of the SMIC recognition release (labels from folder names)."""
    name = _name(band, cropped)
    dataset = "smic" if band == "HS" else f"smic-{band.lower()}"
    band_dir = find_band_dir(root, band, cropped)
    if band_dir is None:
        folder = f"SMIC_all_{'cropped' if cropped else 'raw'}/{band}/sN/micro/"
        there = [_name(b, c) for b in ("HS", "VIS", "NIR") for c in (False, True) if has_band(root, b, c)]
        hint = (
            f"this copy has {', '.join(there)}: use --dataset {there[0]}"
            if there
            else "give the SMIC folder that holds SMIC_all_raw/ (or SMIC_all_cropped/), or one of its "
            "HS/VIS/NIR folders"
        )
        raise DatasetError(f"{root}: no SMIC {band} folder ({folder}) found", hint=hint)

    quirks: list[Quirk] = []
    log = QuirkLog(root, quirks)
    samples: list[Sample] = []
    seen: dict[str, Path] = {}
    # HS crops are reg_image*.bmp (two readers agree); VIS/NIR frame names are not documented
    # anywhere (some copies put a space before the number): any image with a number is a frame
    prefix = "reg_" if cropped and band == "HS" else None
    variant = band + ("-cropped" if cropped else "")
    fps = FPS[band]
    subject_dirs, files = list_dir(band_dir)
    for f in files:
        quirks.append(Quirk(relpath(f, root), "stray file among the subject folders; ignored"))
    numbered = []
    for d in subject_dirs:
        subject = subject_id(d.name)
        if subject is None:
            quirks.append(Quirk(relpath(d, root), "folder is not a subject folder (sN); not read"))
        else:
            numbered.append((int(subject[1:]), subject, d))
    for _, subject, sdir in sorted(numbered):
        kinds, sfiles = list_dir(sdir)
        for f in sfiles:
            quirks.append(Quirk(relpath(f, root), "stray file in a subject folder; ignored"))
        for k in kinds:
            if k.name.lower() not in ("micro", "non_micro"):
                quirks.append(
                    Quirk(relpath(k, root), "unexpected folder (not micro/ or non_micro/); not read")
                )
        micro = _child(sdir, "micro")
        if micro is None:
            continue  # subjects without micro-expressions have only non_micro/
        emotion_dirs, mfiles = list_dir(micro)
        for f in mfiles:
            quirks.append(Quirk(relpath(f, root), "stray file among the emotion folders; ignored"))
        for edir in emotion_dirs:
            emotion = normalise_smic_emotion(edir.name)
            if emotion not in EMOTIONS:
                log(edir, f"unknown emotion folder {edir.name!r}{_UNKNOWN}")
            clip_dirs, efiles = list_dir(edir)
            for f in efiles:
                quirks.append(Quirk(relpath(f, root), "stray file among the clip folders; ignored"))
            for cdir in clip_dirs:
                clip = cdir.name
                sid = f"{dataset}/{subject}/{clip}"
                say = log.at(cdir, None, f"{sid}: ")
                if sid in seen:
                    log(cdir, f"duplicated id {sid} (also {relpath(seen[sid], root)}); this folder skipped")
                    continue
                seen[sid] = cdir
                frames, numbers, stray_quirks = read_clip_folder(cdir, root, prefix)
                quirks.extend(stray_quirks)
                if not frames:
                    say("clip folder has no frames; sample skipped")
                    continue
                marks = (numbers[0], None, numbers[-1])  # no apex: SMIC does not say
                note_frame_problems(numbers, marks, say)
                fields = {"labels": smic_labels(emotion), "extra": {"variant": variant}}
                sample = clip_sample(dataset, subject, clip, (frames, numbers), fps, emotion, marks, **fields)
                samples.append(sample)
    return DatasetRead(name, root, samples, quirks, annotation_files=[], default_label_map="native")


# --- SMIC-E ---------------------------------------------------------------------------------------

COL_SUBJECT, COL_FILENAME, COL_FIRST = "Subject", "Filename", "FirstF"
COL_ONSET, COL_APEX, COL_OFFSET, COL_EMOTION = "OnsetF", "ApexF", "OffsetF", "Emotion"
#: Folders the workbook search never enters: the recognition release, subject folders.
_SKIP_DIRS = re.compile(r"^(smic_all_|s\d+$|sub\d+$|\d+$)", re.IGNORECASE)


def find_smic_e_sheets(root: Path, band: str = "HS", depth: int = 3) -> list[Path]:
    """``SMIC-<band>-E_annotation*.xlsx`` workbooks up to ``depth`` folders below ``root``.

    The original (without ``2019`` in the name) first. Does not descend into subject folders or
    the recognition release, so the search stays a handful of directory listings.
    """
    pattern = re.compile(
        rf"^smic[\s_-]*{band}[\s_-]*e[\s_-]*annotation.*\.(xlsx|xlsm|xls|csv)$", re.IGNORECASE
    )
    found: list[Path] = []
    level = [root]
    for _ in range(depth + 1):
        nxt: list[Path] = []
        for folder in level:
            dirs, files = list_dir(folder)
            found.extend(f for f in files if pattern.match(f.name) and not f.name.startswith("~$"))
            nxt.extend(d for d in dirs if not _SKIP_DIRS.match(d.name))
        level = nxt
    return sorted(found, key=lambda p: ("2019" in p.name, len(p.parts), p.name))


def _has_smic_e(root: Path, band: str) -> bool:
    return bool(find_smic_e_sheets(root, band, depth=2))


def detect_smic_e(band: str):
    """A detector for one band of SMIC-E: never where the recognition release sits beside it
    (that root reads as ``smic``; SMIC-E by ``--dataset``), VIS/NIR only where there is no HS
    workbook (``VIS_long/`` given as the root)."""

    def detect(root: Path) -> bool:
        dirs, _ = list_dir(root)
        if any(_norm(d.name) in ("smicallraw", "smicallcropped") for d in dirs):
            return False
        if not _has_smic_e(root, band):
            return False
        return band == "HS" or not _has_smic_e(root, "HS")

    return detect


def _clip_index(folder: Path, depth: int = 4) -> dict[tuple[str, str], Path]:
    """Clip folders ``.../sNN/<clip>/`` below ``folder``, keyed by (``sN``, lower-cased clip name)."""
    index: dict[tuple[str, str], Path] = {}
    level = [folder]
    for _ in range(depth):
        nxt: list[Path] = []
        for f in level:
            for d in list_dir(f)[0]:
                subject = subject_id(d.name) if _SUBJECT_RE.match(d.name) else None
                if subject is not None:
                    for c in list_dir(d)[0]:
                        index.setdefault((subject, c.name.lower()), c)
                elif not d.name.lower().startswith("smic_all_"):
                    nxt.append(d)
        level = nxt
    return index


def _smic_e_reader(band: str):
    def read_it(root: Path) -> DatasetRead:
        return read_smic_e(Path(root), band)

    return read_it


for _band in ("HS", "VIS", "NIR"):
    _n = "smic-e" if _band == "HS" else f"smic-e-{_band.lower()}"
    register(
        _n,
        f"SMIC-E {_band} long clips: SMIC-{_band}-E_annotation.xlsx + sNN/<clip>/image*.jpg; {FPS[_band]:g} fps"
        + "; auto-detected where no SMIC_all_raw/ is present"
        + ("" if _band == "HS" else " and there is no HS workbook"),
        detect_smic_e(_band),
        label_maps=LABEL_MAPS,
        aliases=("smic-e-hs",) if _band == "HS" else (),
        title=f"SMIC-E {_band}",
        accepts=lambda root, band=_band: _has_smic_e(Path(root), band),
    )(_smic_e_reader(_band))


def read_smic_e(root: Path, band: str = "HS") -> DatasetRead:
    """Read the SMIC-E long-clip release of one band from its annotation workbook."""
    name = "smic-e" if band == "HS" else f"smic-e-{band.lower()}"
    sheets = find_smic_e_sheets(root, band)
    if not sheets:
        raise DatasetError(
            f"{root}: no SMIC-{band}-E_annotation.xlsx found (searched 3 folders deep)",
            hint="give the SMIC-E folder (e.g. 'SMIC-E_raw image/') that holds the annotation workbook",
        )
    quirks: list[Quirk] = []
    primary = sheets[0]
    apex_sheet = next((s for s in sheets if s is not primary and "2019" in s.name), None)
    for extra in sheets[1:]:
        if extra is not apex_sheet:
            quirks.append(
                Quirk(relpath(extra, root), f"another annotation workbook; {primary.name} was read")
            )
    required = [COL_SUBJECT, COL_FILENAME, COL_ONSET, COL_EMOTION]
    table = Table.read(primary, required=required)
    sheet_rel = relpath(primary, root)
    files = [primary]
    for col in (COL_FIRST, COL_OFFSET):
        if not table.has_column(col):
            quirks.append(Quirk(sheet_rel, f"no '{col}' column; left missing"))
    apexes: dict[tuple[str, str], int | None] = {}
    if not table.has_column(COL_APEX) and apex_sheet is not None:
        apex_table = Table.read(apex_sheet, required=[COL_SUBJECT, COL_FILENAME, COL_APEX])
        files.append(apex_sheet)
        for row in apex_table:
            subject, clip = subject_id(row.get(COL_SUBJECT)), as_text(row.get(COL_FILENAME))
            if subject and clip:
                apexes[(subject, clip_name(clip).lower())] = as_int(row.get(COL_APEX))

    clips = _clip_index(primary.parent)
    if not clips and primary.parent != root:
        clips = _clip_index(root)
    dataset = name
    fps = FPS[band]
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    used: set[Path] = set()
    ended_at: int | None = None
    log = QuirkLog(root, quirks)
    for row in table:
        note = log.at(primary, row.number)
        raw_subject = row.get(COL_SUBJECT)
        if raw_subject is None:
            ended_at = ended_at or row.number  # trailing notes: the data ends at the first empty Subject
            continue
        subject = subject_id(raw_subject)
        if ended_at is not None:
            note(f"data row after the notes that start on row {ended_at}; skipped")
            continue
        clip_cell = as_text(row.get(COL_FILENAME))
        if subject is None or clip_cell is None:
            note(f"Subject {raw_subject!r} / Filename {clip_cell!r} not usable; row skipped")
            continue
        first = as_int(row.get(COL_FIRST))
        onset, offset = as_int(row.get(COL_ONSET)), as_int(row.get(COL_OFFSET))
        clip = clip_name(clip_cell)
        sid = f"{dataset}/{subject}/{clip}"
        if not keep_first(seen, sid, row.number, note):
            continue
        say = log.at(primary, row.number, f"{sid}: ")
        if table.has_column(COL_APEX):
            apex = as_int(row.get(COL_APEX))
        else:
            apex = apexes.get((subject, clip.lower()))
        for label, value in (("OnsetF", onset), ("OffsetF", offset)):
            if value is None and table.has_column(label):
                say(f"{label} is not a number; kept as missing")
        emotion = checked_emotion(
            row.get(COL_EMOTION), EMOTIONS, say, _UNKNOWN, "no emotion", normalise_smic_emotion
        )
        folder = clips.get((subject, clip.lower()))
        if folder is None:
            say(
                f"no clip folder {clip}/ under a subject folder {subject}/ or s{int(subject[1:]):02d}/; sample skipped"
            )
            continue
        used.add(folder)
        frames, numbers = read_clip(folder, root, quirks, say)
        if not frames:
            continue
        if first is not None and first != numbers[0]:
            say(f"FirstF {first} but the first frame on disk is {numbers[0]}")
        marks = (onset, apex, offset)
        note_frame_problems(numbers, marks, say)
        extra = {"variant": f"{band}-E", "row": row.number, "annotation": sheet_rel, "first": first}
        fields = {"labels": smic_labels(emotion), "extra": extra}
        samples.append(clip_sample(dataset, subject, clip, (frames, numbers), fps, emotion, marks, **fields))
    for folder in sorted(set(clips.values()) - used):
        quirks.append(Quirk(relpath(folder, root), "clip folder with no row in the annotation; not read"))
    return DatasetRead(name, root, samples, quirks, annotation_files=files, default_label_map="native")


del _band, _cropped, _what, _when, _n  # registration loop variables
