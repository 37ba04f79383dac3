"""Annotation sheets as shipped (xlsx, xls, csv), read into rows and columns found by header text.

Datasets move header rows (SAMM's 13-row notes block), add or drop columns between versions, and
leave headers blank (CASME II's ``Unnamed: 2``), so readers never index columns by position
unless the file has no header at all (CAS(ME)^2). :func:`read_rows` returns raw rows;
:class:`Table` finds the header row by the names it must contain and looks columns up by name.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mertool.errors import DatasetError

Cell = Any


def _clean(value: Cell) -> Cell:
    if isinstance(value, str):
        value = value.strip()
        return value if value != "" else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def sheet_names(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            import openpyxl

            wb = openpyxl.load_workbook(path, read_only=True)
            try:
                return list(wb.sheetnames)
            finally:
                wb.close()
        if suffix == ".xls":
            import xlrd

            return xlrd.open_workbook(str(path), on_demand=True).sheet_names()
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unreadable sheet
        raise DatasetError(
            f"{path}: cannot read spreadsheet ({exc})", hint="is the file complete? re-copy it"
        ) from exc
    return ["csv"]


def read_rows(path: str | Path, sheet: int | str = 0) -> list[list[Cell]]:
    """All rows of one sheet (by index or name) as lists of cleaned cells (None for blank)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            rows = _xlsx_rows(path, sheet)
        elif suffix == ".xls":
            rows = _xls_rows(path, sheet)
        elif suffix in (".csv", ".txt", ".tsv"):
            rows = _csv_rows(path)
        else:
            raise DatasetError(f"{path}: unsupported annotation format {suffix!r}")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(
            f"{path}: cannot read annotation file ({exc.__class__.__name__}: {exc})",
            hint="is the file complete and in its original format? re-copy it from the dataset",
        ) from exc
    return [[_clean(c) for c in row] for row in rows]


def _xlsx_rows(path: Path, sheet: int | str) -> list[list[Cell]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    except (KeyError, IndexError):
        raise DatasetError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})") from None
    finally:
        wb.close()


def _xls_rows(path: Path, sheet: int | str) -> list[list[Cell]]:
    import xlrd

    book = xlrd.open_workbook(str(path))
    try:
        ws = book.sheet_by_name(sheet) if isinstance(sheet, str) else book.sheet_by_index(sheet)
    except (xlrd.XLRDError, IndexError):
        raise DatasetError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(book.sheet_names())})") from None
    return [ws.row_values(i) for i in range(ws.nrows)]


def _csv_rows(path: Path) -> list[list[Cell]]:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    return [row for row in csv.reader(text.splitlines(), dialect)]


def norm_header(text: Cell) -> str:
    """Header text for matching: lower case, no spaces, underscores or punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(text).lower()) if text is not None else ""


@dataclass
class Row:
    """One data row; ``number`` is the 1-based row number a spreadsheet program shows."""

    number: int
    cells: list[Cell]
    columns: dict[str, int]

    def get(self, name: str, default: Cell = None) -> Cell:
        idx = self.columns.get(norm_header(name))
        if idx is None or idx >= len(self.cells):
            return default
        value = self.cells[idx]
        return default if value is None else value

    def has_column(self, name: str) -> bool:
        return norm_header(name) in self.columns


class Table:
    """Rows below a header row found by the column names it must contain."""

    def __init__(self, path: Path, rows: list[list[Cell]], required: Iterable[str], max_scan: int = 40):
        self.path = path
        required = [norm_header(r) for r in required]
        for i, row in enumerate(rows[:max_scan]):
            names = [norm_header(c) for c in row]
            if all(r in names for r in required):
                self.header_row = i + 1
                self.columns = {}
                for j, n in enumerate(names):
                    if n and n not in self.columns:
                        self.columns[n] = j
                self._rows = [Row(i + 2 + k, r, self.columns) for k, r in enumerate(rows[i + 1 :])]
                return
        raise DatasetError(
            f"{path}: no header row with columns {', '.join(required)} in the first {max_scan} rows",
            hint="is this the dataset's original annotation file? (mertool finds columns by header text)",
        )

    @classmethod
    def read(cls, path: str | Path, required: Iterable[str], sheet: int | str = 0) -> Table:
        path = Path(path)
        return cls(path, read_rows(path, sheet), required)

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            if any(c is not None for c in row.cells):
                yield row

    def has_column(self, name: str) -> bool:
        return norm_header(name) in self.columns


#: Cells holding integers beyond this are typos, not frame or subject numbers: kept as missing
#: (an int64 attribute cannot even store 1.8e19, which fuzzing put in an offset cell).
MAX_INT = 2**31 - 1


def as_int(value: Cell) -> int | None:
    """An integer frame number from a cell, or None for blanks, ``/``, ``-``, other text and
    numbers beyond +-:data:`MAX_INT`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not (value == value and value.is_integer()):  # nan, inf, 3.5
            return None
        n = int(value)
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]+(\.0+)?", text, re.ASCII):
            return None
        n = int(text.split(".")[0])
    return n if -MAX_INT <= n <= MAX_INT else None


def subject_number(value: Cell, pattern: re.Pattern[str]) -> int | None:
    """The number of a subject cell or folder name: the integer itself (``1``, ``"01"``), else the
    first group of ``pattern`` searched in the text (``sub01``, ``s1``); None when neither."""
    n = as_int(value)
    if n is None and value is not None:
        m = pattern.search(str(value).strip())
        n = int(m.group(1)) if m else None
    return n


def as_text(value: Cell) -> str | None:
    """A cell as stripped text (``12.0`` -> ``"12"``), or None for a blank cell."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def parse_aus(raw: Cell) -> tuple[str, ...]:
    """AU tokens from a cell: ``4+L10`` -> (4, L10); ``R12 + R15``; numeric ``12``; ``?`` -> ()."""
    if raw is None:
        return ()
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip()
    if not text or text in {"?", "/", "-", "nan"}:
        return ()
    tokens = re.split(r"\s*(?:\+|,|\bor\b|/)\s*", text)
    return tuple(t.strip() for t in tokens if t.strip() and t.strip() != "?")


def frame_cells(row: Row, columns: dict[str, str]) -> tuple[dict[str, int | None], list[str]]:
    """Frame numbers from a row's cells, ``{"onset": "OnsetFrame", ...}`` -> ``{"onset": 46, ...}``.

    A blank cell or text (an apex written ``/``) stays missing, never guessed; the second value
    says which, one message per missing cell, for the reader's quirks.
    """
    values: dict[str, int | None] = {}
    problems: list[str] = []
    for label, column in columns.items():
        values[label] = as_int(row.get(column))
        if values[label] is None:
            raw = row.get(column)
            what = "blank" if raw is None else repr(raw)
            problems.append(f"{label} frame is {what} (not a number); kept as missing")
    return values, problems
