"""Writing the synthetic clips in each real dataset's own layout (DATASETS.md sections 1-3).

============  ====================================================================  ===========
layout        frames                                                                annotation
============  ====================================================================  ===========
``casme2``    ``CASME2/CASME2_RAW_selected/sub01/EP03_02f/img46.jpg`` (RGB JPEG,    ``CASME2/CASME2-coding-20140508.xlsx``: 9 columns, the
              frame numbers = the sheet's, starting at the onset, never 1)          blank header cells at idx 2 and 6 included
``samm``      ``SAMM/006/006_1_2/006_5562.jpg`` (grey JPEG; some clips pad the      ``SAMM/SAMM_Micro_FACS_Codes_v2.xlsx``: 13 note rows, the
              number to 5 digits, as the real ``006_05562.jpg``)                    12-column header on row 14 (variant A)
``smic``      ``SMIC/SMIC_all_raw/HS/s1/micro/positive/s1_po_01/image106720.bmp``   none (label = folder); a ``non_micro/`` clip that readers must
              (RGB BMP, 6-digit numbers)                                            skip
============  ====================================================================  ===========

``megc2019`` writes the three side by side. Each layout knows its subject ids (``sub01``,
``006``, ``s1``, as DATASETS.md section 12 normalises them), how it names clips and frames, how
it spells emotions and action units, and how it writes its annotation file. xlsx files are
written byte-for-byte reproducibly (fixed document dates and zip timestamps), so a seed gives
identical bytes.
"""

from __future__ import annotations

import abc
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.datasets.labels import MEGC2019_CASME2_EXCLUDED

MEGC_CLASSES = ("positive", "negative", "surprise")


@dataclass
class ClipRow:
    """What a layout needs to write one clip's frames and its annotation row."""

    subject_number: int
    subject: str  # normalised id (sub01, 006, s1)
    clip: str
    emotion: str  # as the dataset spells it (happiness, Happiness, positive)
    aus: list[str]  # tokens (6, R12)
    frame_numbers: list[int]
    onset: int
    apex: int
    offset: int
    extra: dict[str, Any] = field(default_factory=dict)


class Layout(abc.ABC):
    """One dataset's on-disk conventions. Subclasses fill in the names."""

    name = ""  # dataset name as the readers call it (casme2, samm, smic)
    root_name = ""  # folder under OUT_DIR
    fps = 200.0
    gray = False
    #: native emotion per MEGC class; the negative class cycles through a list
    emotions: dict[str, tuple[str, ...]] = {}
    part_code = 0  # mixes into the seed so parts of a megc2019 tree differ

    def subject_numbers(self, n: int) -> list[int]:
        return list(range(1, n + 1))

    @abc.abstractmethod
    def subject_id(self, number: int) -> str:
        """Defined by each layout."""

    def first_frame(self, rng: np.random.Generator) -> int:
        return int(rng.integers(10, 250))

    def clip_extra(self, rng: np.random.Generator) -> dict[str, Any]:
        """Per-clip layout details drawn at random (SAMM: 4- or 5-digit frame names)."""
        return {}

    @abc.abstractmethod
    def clip_names(self, subject_number: int, emotions: list[str], rng: np.random.Generator) -> list[str]:
        """Defined by each layout."""

    @abc.abstractmethod
    def frame_path(self, root: Path, row: ClipRow, number: int) -> Path:
        """Defined by each layout."""

    def pattern(self, emotion: str, clip_index: int) -> str:
        """The AU pattern (a key of action_units.EMOTION_PATTERNS) for a native emotion."""
        return emotion.lower()

    def write_annotation(self, root: Path, rows: list[ClipRow]) -> Path | None:
        return None

    def write_extras(self, root: Path, rows: list[ClipRow], neutral_frames: dict[str, np.ndarray]) -> None:  # noqa: B027 (optional hook)
        """Anything else the real layout has that readers must cope with (default: nothing)."""

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        import cv2

        img = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:  # pragma: no cover - OpenCV's encoder does not fail on a valid uint8 image
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()


# ------------------------------------------------------------------------------------------------
# CASME II


class Casme2Layout(Layout):
    name = "casme2"
    root_name = "CASME2"
    fps = 200.0
    emotions = {"positive": ("happiness",), "surprise": ("surprise",), "negative": ("disgust", "repression")}
    part_code = 1
    annotation_name = "CASME2-coding-20140508.xlsx"
    header = (
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
    )

    def subject_id(self, number: int) -> str:
        return f"sub{number:02d}"

    def clip_names(self, subject_number: int, emotions: list[str], rng: np.random.Generator) -> list[str]:
        names: list[str] = []
        used_eps: set[int] = set()
        for _ in emotions:
            while True:
                ep = int(rng.integers(1, 20))
                name = f"EP{ep:02d}_{int(rng.integers(1, 8)):02d}" + ("f" if rng.random() < 0.3 else "")
                fresh_ep = ep not in used_eps or len(used_eps) >= 19
                if (
                    name not in names
                    and (self.subject_id(subject_number), name) not in MEGC2019_CASME2_EXCLUDED
                    and fresh_ep
                ):
                    break
            used_eps.add(ep)
            names.append(name)
        return names

    def frame_path(self, root: Path, row: ClipRow, number: int) -> Path:
        return root / "CASME2_RAW_selected" / row.subject / row.clip / f"img{number}.jpg"

    def write_annotation(self, root: Path, rows: list[ClipRow]) -> Path:
        def au_cell(tokens: list[str]) -> Any:
            text = "+".join(tokens)
            return int(text) if text.isdigit() else text  # a single AU is a number cell, as shipped

        body = [
            [r.subject_number, r.clip, None, r.onset, r.apex, r.offset, None, au_cell(r.aus), r.emotion]
            for r in rows
        ]
        path = root / self.annotation_name
        write_xlsx(path, "Sheet1", [list(self.header), *body])
        return path


# ------------------------------------------------------------------------------------------------
# SAMM

#: SAMM's subject numbers (6..37 without 8, 27, 29); more subjects continue from 38.
SAMM_SUBJECTS = tuple(n for n in range(6, 38) if n not in (8, 27, 29))
#: SAMM's objective classes (Davison et al. 2018): I happiness ... VII others.
SAMM_OBJECTIVE = {
    "Happiness": 1,
    "Surprise": 2,
    "Anger": 3,
    "Disgust": 4,
    "Sadness": 5,
    "Fear": 6,
    "Contempt": 7,
}


class SammLayout(Layout):
    name = "samm"
    root_name = "SAMM"
    fps = 200.0
    gray = True
    emotions = {
        "positive": ("Happiness",),
        "surprise": ("Surprise",),
        "negative": ("Anger", "Contempt", "Disgust"),
    }
    part_code = 2
    annotation_name = "SAMM_Micro_FACS_Codes_v2.xlsx"
    header = (
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    )
    notes = (
        "SAMM Micro-Movement FACS codes (synthetic copy written by mertool synth)",
        "Subject: participant number; Filename: subject_inducement_index (the clip folder)",
        "Onset, Apex and Offset Frame: frame numbers in the participant's long recording",
        "Duration: frames from onset to offset",
        "Micro: duration class of the movement",
        "Action Units: FACS codes; L/R = left/right side of the face; A-E = intensity",
        "Estimated Emotion: from the action units and the inducement video",
        "Objective Classes: I-VII grouped by action units (Davison et al. 2018)",
        "Recorded at 200 fps, greyscale",
        None,
        "Frames of a clip are named <subject>_<frame>.jpg, 4 digits, 5 for long recordings",
        None,
        None,
    )

    def subject_numbers(self, n: int) -> list[int]:
        extra = list(range(38, 38 + max(0, n - len(SAMM_SUBJECTS))))
        return (list(SAMM_SUBJECTS) + extra)[:n]

    def subject_id(self, number: int) -> str:
        return f"{number:03d}"

    def first_frame(self, rng: np.random.Generator) -> int:
        return int(rng.integers(500, 9000))

    def clip_extra(self, rng: np.random.Generator) -> dict[str, Any]:
        # clips cut from recordings longer than 9999 frames pad to 5 digits (006_05562.jpg)
        return {"digits": 5 if rng.random() < 0.2 else 4}

    def clip_names(self, subject_number: int, emotions: list[str], rng: np.random.Generator) -> list[str]:
        counts: dict[int, int] = {}
        names = []
        for _ in emotions:
            code = int(rng.integers(1, 8))
            counts[code] = counts.get(code, 0) + 1
            names.append(f"{self.subject_id(subject_number)}_{code}_{counts[code]}")
        return names

    def frame_path(self, root: Path, row: ClipRow, number: int) -> Path:
        digits = row.extra.get("digits", 4)
        return root / row.subject / row.clip / f"{row.subject}_{number:0{digits}d}.jpg"

    def write_annotation(self, root: Path, rows: list[ClipRow]) -> Path:
        def au_cell(tokens: list[str]) -> Any:
            text = " + ".join(tokens)
            return int(text) if text.isdigit() else text

        body = [
            [
                r.subject_number,
                r.clip,
                int(r.clip.split("_")[1]),
                r.onset,
                r.apex,
                r.offset,
                r.offset - r.onset + 1,
                "Micro",
                au_cell(r.aus),
                r.emotion,
                SAMM_OBJECTIVE.get(r.emotion, 7),
                None,
            ]
            for r in rows
        ]
        notes = [[n] + [None] * (len(self.header) - 1) for n in self.notes]
        path = root / self.annotation_name
        write_xlsx(path, "Sheet1", [*notes, list(self.header), *body])
        return path


# ------------------------------------------------------------------------------------------------
# SMIC

#: SMIC-HS's subjects with micro-expressions; more subjects continue from 21.
SMIC_SUBJECTS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20)
SMIC_CODES = {"positive": "po", "negative": "ne", "surprise": "sur"}


class SmicLayout(Layout):
    name = "smic"
    root_name = "SMIC"
    fps = 100.0
    emotions = {"positive": ("positive",), "surprise": ("surprise",), "negative": ("negative",)}
    part_code = 3
    #: SMIC's negative clips mix several emotions; they cycle through these AU patterns.
    negative_patterns = ("disgust", "sadness", "repression")

    def subject_numbers(self, n: int) -> list[int]:
        extra = list(range(21, 21 + max(0, n - len(SMIC_SUBJECTS))))
        return (list(SMIC_SUBJECTS) + extra)[:n]

    def subject_id(self, number: int) -> str:
        return f"s{number}"

    def first_frame(self, rng: np.random.Generator) -> int:
        return int(rng.integers(1000, 200000))

    def clip_names(self, subject_number: int, emotions: list[str], rng: np.random.Generator) -> list[str]:
        counts: dict[str, int] = {}
        names = []
        for emotion in emotions:
            counts[emotion] = counts.get(emotion, 0) + 1
            names.append(f"s{subject_number}_{SMIC_CODES[emotion]}_{counts[emotion]:02d}")
        return names

    def pattern(self, emotion: str, clip_index: int) -> str:
        if emotion == "negative":
            return self.negative_patterns[clip_index % len(self.negative_patterns)]
        return emotion

    def _clip_dir(self, root: Path, subject: str, emotion: str, clip: str) -> Path:
        return root / "SMIC_all_raw" / "HS" / subject / "micro" / emotion / clip

    def frame_path(self, root: Path, row: ClipRow, number: int) -> Path:
        return self._clip_dir(root, row.subject, row.emotion, row.clip) / f"image{number:06d}.bmp"

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        import cv2

        ok, buf = cv2.imencode(".bmp", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover
            raise RuntimeError("BMP encoding failed")
        return buf.tobytes()

    def write_extras(self, root: Path, rows: list[ClipRow], neutral_frames: dict[str, np.ndarray]) -> None:  # noqa: B027 (optional hook)
        """A 3-frame ``non_micro/`` clip for the first subject: present in the real tree, skipped
        by readers (it holds no micro-expression)."""
        if not rows:
            return
        first = rows[0].subject
        image = neutral_frames.get(first)
        if image is None:
            return
        folder = root / "SMIC_all_raw" / "HS" / first / "non_micro" / f"{first}_n1"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(3):
            (folder / f"image{100 + k:06d}.bmp").write_bytes(self.encode(image, 0))


LAYOUTS: dict[str, type[Layout]] = {"casme2": Casme2Layout, "samm": SammLayout, "smic": SmicLayout}
#: --layout choices: one dataset, or the MEGC2019 composite (all three side by side).
LAYOUT_CHOICES = ("casme2", "samm", "smic", "megc2019")


def parts(layout: str) -> list[Layout]:
    """The dataset layouts a ``--layout`` value writes."""
    if layout == "megc2019":
        return [LAYOUTS[n]() for n in ("casme2", "samm", "smic")]
    if layout not in LAYOUTS:
        from mertool.errors import MertoolError

        raise MertoolError(f"unknown layout {layout!r}", hint=f"one of: {', '.join(LAYOUT_CHOICES)}")
    return [LAYOUTS[layout]()]


# ------------------------------------------------------------------------------------------------
# reproducible xlsx

FIXED_DATE = "2014-05-08T00:00:00Z"
_ZIP_DATE = (2014, 5, 8, 0, 0, 0)


def write_xlsx(path: Path, sheet: str, rows: Iterable[list[Any]]) -> None:
    """Write one sheet (see :func:`write_book`)."""
    write_book(path, [(sheet, rows)])


def write_book(path: Path, sheets: Iterable[tuple[str, Iterable[Any]]]) -> None:
    """Write sheets ``(title, rows)`` with openpyxl, then normalise the package so equal rows give
    equal bytes (openpyxl stamps the save time into docProps/core.xml and every zip entry)."""
    import openpyxl

    wb = openpyxl.Workbook()
    for i, (title, rows) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet(title)
        ws.title = title
        for row in rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                for tag in ("created", "modified"):
                    text = re.sub(
                        rf"(<dcterms:{tag}[^>]*>)[^<]*(</dcterms:{tag}>)", rf"\g<1>{FIXED_DATE}\g<2>", text
                    )
                data = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
