"""``results/<target>.md`` and ``.csv``: the paper's rows and ours side by side, and how ours were made.

Two layers, used by every table target (the detector's ``python -m mertool.tables.paper_000``
included):

:func:`write_files`
    any header + rows -> ``OUT/STEM.md`` (a title, for smoke runs the banner
    :data:`SMOKE_BANNER`, paragraphs, the table, notes and extra sections) and ``OUT/STEM.csv``
    (the same rows, raw values, ``""`` for a missing one). Both are written atomically.
:func:`paper_table`
    a :class:`~mertool.tables.spec.PaperTable` and our values per row -> header and rows in
    the layout every target shares: for each of the paper's columns, ``COL (paper)``,
    ``COL (ours)``, ``COL (Δ)`` (ours − paper, in the paper's unit), then extra columns.
    The paper's literature rows (other methods) go to a second table, as given.

Formatting: ours get the paper's number of decimals for that column (``0.7657`` -> 4, ``62.83``
-> 2) and its unit suffix (``3.273M``, ``2.229G``); ``—`` = not reported / not measured.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SMOKE_BANNER = "**SMOKE RUN on synthetic data — numbers say nothing about the paper**"
MISSING = "—"


# ------------------------------------------------------------------------------------------------
# cells


_NUM = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)\s*$")


def split_number(value: Any) -> tuple[float, str, int] | None:
    """``(number, unit suffix, decimals)`` of a paper cell: ``"3.273M"`` -> (3.273, "M", 3),
    ``0.7657`` -> (0.7657, "", 4); None for ``None``/NaN/text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        text = repr(float(value)) if isinstance(value, float) else str(value)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
        return float(value), "", decimals
    m = _NUM.match(str(value))
    if not m:
        return None
    number = m.group(1)
    return float(number), m.group(2), len(number.split(".")[1]) if "." in number else 0


def fmt(value: Any, decimals: int = 4, unit: str = "", signed: bool = False) -> str:
    """A cell for people: numbers with ``decimals`` and ``unit``, ``—`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    return text + unit


def default_cell(value: Any) -> str:
    """Markdown cell of a raw value: floats with 4 decimals, None as ``—``."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return MISSING if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


# ------------------------------------------------------------------------------------------------
# the generic writer


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_files(
    out: str | Path,
    stem: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str,
    smoke: bool = False,
    preamble: Sequence[str] = (),
    md_rows: Sequence[Sequence[str]] | None = None,
    md_columns: int | None = None,
    notes: Sequence[str] = (),
    sections: Sequence[Section] = (),
) -> tuple[Path, Path]:
    """Write ``OUT/STEM.md`` and ``OUT/STEM.csv`` (see module docstring); returns both paths.

    ``md_rows``: the markdown cells (default: ``rows`` through :func:`default_cell`);
    ``md_columns``: show only the first N columns in markdown (the CSV keeps all).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = out / f"{stem}.md", out / f"{stem}.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for r in rows:
        writer.writerow([_csv_cell(v) for v in r])
    cells = (
        [list(r) for r in md_rows] if md_rows is not None else [[default_cell(v) for v in r] for r in rows]
    )
    n = md_columns or len(header)
    lines = [f"# {title}", ""]
    if smoke:
        lines += [SMOKE_BANNER, ""]
    for p in preamble:
        lines += [p, ""]
    lines += markdown_table(list(header)[:n], [c[:n] for c in cells])
    if notes:
        lines.append("")
        lines += [n_ for n_ in notes]
    for s in sections:
        lines += ["", f"## {s.title}", ""]
        lines += s.lines
    _write_atomic(csv_path, buf.getvalue())
    _write_atomic(md_path, "\n".join(lines).rstrip() + "\n")
    return md_path, csv_path


# ------------------------------------------------------------------------------------------------
# paper vs ours


@dataclass
class OursRow:
    """Our values for one paper row: one per paper column (None: not measured), plus extras."""

    values: list[Any]
    extras: dict[str, Any] = field(default_factory=dict)


def paper_table(
    paper, ours: dict[str, OursRow], extra_columns: Sequence[str] = ()
) -> tuple[list[str], list[list[Any]], list[list[str]]]:
    """Header, CSV rows and markdown rows of the paper's rows with ours beside them.

    ``paper`` is a :class:`~mertool.tables.spec.PaperTable`; ``ours`` maps its row names to
    :class:`OursRow`. A value of ours that is a number is formatted like the paper's cell of the
    same column (decimals, unit suffix) and compared with it (Δ = ours − paper).
    """
    header = ["row"]
    for c in paper.columns:
        header += [f"{c} (paper)", f"{c} (ours)", f"{c} (Δ)"]
    header += list(extra_columns)
    csv_rows: list[list[Any]] = []
    md_rows: list[list[str]] = []
    for prow in paper.rows:
        mine = ours.get(prow.name, OursRow([None] * len(paper.columns)))
        csv_row: list[Any] = [prow.name]
        md_row: list[str] = [default_cell(prow.name)]
        for k, pval in enumerate(prow.values):
            oval = mine.values[k] if k < len(mine.values) else None
            ref = _column_format(paper, k)
            decimals, unit = (ref[2], ref[1]) if ref else (4, "")
            onum = _number(oval)
            pnum = split_number(pval)
            delta = onum - pnum[0] if (onum is not None and pnum is not None) else None
            csv_row += [pval, oval, None if delta is None else round(delta, 6)]
            md_row += [
                fmt(pval, decimals) if isinstance(pval, float) else (MISSING if pval is None else str(pval)),
                fmt(onum, decimals, unit) if onum is not None else default_cell(oval),
                fmt(delta, decimals, unit, signed=True),
            ]
        for col in extra_columns:
            v = mine.extras.get(col)
            csv_row.append(v)
            md_row.append(default_cell(v))
        csv_rows.append(csv_row)
        md_rows.append(md_row)
    return header, csv_rows, md_rows


def _number(value: Any) -> float | None:
    parsed = split_number(value)
    return None if parsed is None else parsed[0]


def _column_format(paper, k: int) -> tuple[float, str, int] | None:
    """(first value, unit, most decimals) of column ``k`` over the paper's rows (``0.634`` in a
    column of ``0.6340``-style numbers is a float that lost its trailing zero)."""
    found = [p for r in (*paper.rows, *paper.literature) if (p := split_number(r.values[k]))]
    if not found:
        return None
    return found[0][0], found[0][1], max(p[2] for p in found)


def literature_section(paper) -> Section | None:
    """The paper's rows for other methods, printed as given."""
    if not paper.literature:
        return None
    rows = []
    for r in paper.literature:
        cells = [r.name]
        for k, v in enumerate(r.values):
            ref = _column_format(paper, k)
            cells.append(fmt(v, ref[2]) if isinstance(v, float) and ref else default_cell(v))
        rows.append(cells)
    return Section(
        "Literature rows (the paper's numbers for other methods, as given)",
        markdown_table(["method", *paper.columns], rows),
    )
