"""SMIC-E long clips as long videos for spotting: one clip, one micro-expression interval.

Layout read (DATASETS.md section 3.3; the same tree the clip readers ``smic-e`` read)::

    SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx
    SMIC-E_raw image/HS_long/SMIC-HS-E/HS/s01/s1_ne_01/image000123.jpg ...
    SMIC-E_raw image/VIS_long/...  NIR_long/...        (same pattern, 25 fps)

The sheet and the clip folders are read by :func:`mertool.datasets.smic.read_smic_e` (workbook found
by name up to three folders down, columns ``Subject, Filename, FirstF, OnsetF, OffsetF, Emotion``
by header text, ``ApexF`` where a workbook has it, data ending at the first empty ``Subject``),
so every quirk that reader reports is reported here too. Each long clip becomes one
:class:`~mertool.datasets.long_videos.LongVideo` (id ``smic-e/s1/s1_ne_01``, subject ``s%d``) with
all the frames of its folder and one ``micro`` expression ``OnsetF..OffsetF`` (``name`` the clip,
``label`` the emotion: ``negative``/``positive``/``surprise``). SMIC-E annotates micro-expressions
only; ``extra["annotated"]`` is ``("micro",)``.

One reader per band, as for the clip readers: ``smic-e-long`` (HS, 100 fps), ``smic-e-vis-long`` and
``smic-e-nir-long`` (25 fps). HS is detected where its workbook is; VIS and NIR only where there
is no HS workbook (``VIS_long/`` given as the root), else by name.

A clip whose interval cannot be made (no ``OnsetF``; no ``OffsetF`` and no apex; an offset before
the onset; an interval none of whose frames is in the folder) is left out with a quirk: a clip
without its interval would count as a video without expressions.
"""

from __future__ import annotations

from pathlib import Path

from mertool.datasets.base import Quirk, relpath
from mertool.datasets.long_videos import (
    Expression,
    LongRead,
    LongVideo,
    no_videos,
    place_expressions,
    read_interval,
    register_long,
)
from mertool.datasets.smic import FPS, find_smic_e_sheets, read_smic_e
from mertool.errors import DatasetError

BANDS = ("HS", "VIS", "NIR")


def reader_name(band: str) -> str:
    """``HS`` -> ``smic-e-long``, ``VIS`` -> ``smic-e-vis-long``, ``NIR`` -> ``smic-e-nir-long``."""
    return "smic-e-long" if band == "HS" else f"smic-e-{band.lower()}-long"


def detect_band(band: str):
    """HS where its workbook is (in ``root`` or one folder below: ``SMIC-E_raw image/HS_long/``);
    VIS/NIR only where there is no HS workbook. The reader itself searches deeper (3 folders)."""

    def has(root: Path, b: str) -> bool:
        return bool(find_smic_e_sheets(root, b, depth=1))

    def detect(root: Path) -> bool:
        if not has(root, band):
            return False
        return band == "HS" or not has(root, "HS")

    return detect


def read(root: Path, band: str = "HS") -> LongRead:
    """Read one band of SMIC-E as long videos, one micro-expression each (frame numbers absolute)."""
    root = Path(root)
    name = reader_name(band)
    result = LongRead(name, root, [])
    hint = f"give the SMIC-E folder (e.g. 'SMIC-E_raw image/') that holds SMIC-{band}-E_annotation.xlsx"
    try:
        clips = read_smic_e(root, band)
    except DatasetError as exc:
        sheets = find_smic_e_sheets(root, band)
        if not sheets:
            raise
        result.quirks.append(Quirk(relpath(sheets[0], root), f"cannot read ({exc.message})"))
        raise no_videos(root, f"SMIC-E {band}", result.quirks, "re-copy the annotation file") from exc
    result.quirks.extend(clips.quirks)
    result.annotation_files.extend(clips.annotation_files)
    for s in clips.samples:
        file, row = s.extra.get("annotation", ""), s.extra.get("row")

        def say(message: str, file=file, row=row, sid=s.id) -> None:
            result.quirks.append(Quirk(file, f"{sid}: {message}", row))

        marks = read_interval(s.onset, s.apex, s.offset, say, has_apex=False)
        if marks is None:  # the message ends "row skipped": the long clip is not read
            continue
        onset, apex, offset = marks
        expr = Expression(onset, offset, "micro", apex, s.emotion, None, s.clip)
        # read_smic_e has told the gaps inside onset..offset already
        expressions = place_expressions(s.frame_numbers, [(expr, say)], gaps=False)
        if not expressions:
            say("long clip not read (its interval is not in its frames)")
            continue
        extra = {"folder": s.frames[0].parent, "annotation": file, "annotated": ("micro",), "row": row}
        extra["first"] = s.extra.get("first")
        result.videos.append(
            LongVideo(
                id=s.id,
                dataset=s.dataset,
                subject=s.subject,
                video=s.clip,
                frames=s.frames,
                frame_numbers=s.frame_numbers,
                fps=FPS[band],
                expressions=expressions,
                extra=extra,
            )
        )
    if not result.videos:
        raise no_videos(root, f"SMIC-E {band}", result.quirks, hint)
    return result


def _reader(band: str):
    def read_band(root: Path) -> LongRead:
        return read(root, band)

    return read_band


for _band in BANDS:
    register_long(
        reader_name(_band),
        f"SMIC-E {_band}",
        f"SMIC-E {_band} long clips: SMIC-{_band}-E_annotation.xlsx + sNN/<clip>/image*.jpg; "
        f"one micro-expression each; {FPS[_band]:g} fps"
        + ("" if _band == "HS" else "; auto-detected where there is no HS workbook"),
        detect_band(_band),
    )(_reader(_band))
del _band
