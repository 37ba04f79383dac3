"""Fuzzed annotation files and trees for every dataset reader (issue 14, part 5).

Each example starts from a reader's fixture tree (tests/fixtures) and damages it as copies met
in the wild are damaged: the header row moved down, columns reordered, blank, ``/`` and ``-``
cells, numbers stored as text (``"46"``, ``" 46 "``, ``"46.0"``), stray sheets, rows and files,
odd file names, lines cut or doubled, and frames missing in the middle of clips. The outcome must
always be a :class:`~mertool.datasets.base.DatasetRead` whose samples the HDF5 store accepts, or
one :class:`~mertool.errors.MertoolError` naming the file; any other exception is a bug.

Budget: the ``ci`` profile (default) runs a few dozen examples per reader, derandomized so CI
is repeatable; ``HYPOTHESIS_PROFILE=long`` (``make fuzz-long``) runs hundreds, randomly.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from fixtures.mer_trees import build_casme2, build_samm, build_smic, build_smic_e
from fixtures.more_trees import (
    build_casme,
    build_casme3,
    build_casme_sq,
    build_ckplus,
    build_mmew,
    build_rafdb,
)
from fixtures.wider_tree import build_widerface
from hypothesis import example, given
from hypothesis import strategies as st

from mertool.errors import MertoolError

# the fuzz budget (profiles ci / long) is set once for every fuzz module in tests/conftest.py

# ------------------------------------------------------------------------------------------------
# the trees: builder, and the annotation files each reader parses (path under the root, kind)

SPECS = {
    "casme2": (build_casme2, [("CASME2-coding-20140508.xlsx", "sheet")]),
    "samm": (build_samm, [("SAMM_Micro_FACS_Codes_v2.xlsx", "sheet")]),
    "smic": (lambda p: build_smic(p, vis_nir=True, smic_e=False), []),
    "smic-e": (lambda p: build_smic_e(p / "SMIC"), [("HS_long/SMIC-HS-E_annotation.xlsx", "sheet")]),
    "casme": (build_casme, [("CASME_A/Section A/Section A.xls", "sheet"), ("CASME_B/Section B/Section B.xls", "sheet")]),
    "casme2sq": (build_casme_sq, [("CAS(ME)^2code_final.xlsx", "sheet")]),
    "casme3": (build_casme3, [("annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "sheet")]),
    "ckplus": (
        build_ckplus,
        [
            ("Emotion/S005/001/S005_001_00000003_emotion.txt", "text"),
            ("FACS/S005/001/S005_001_00000003_facs.txt", "text"),
            ("Landmarks/S005/001/S005_001_00000002_landmarks.txt", "text"),
        ],
    ),
    "mmew": (build_mmew, [("MMEW_Micro_Exp.xlsx", "sheet")]),
    "rafdb": (build_rafdb, [("EmoLabel/list_patition_label.txt", "text")]),
    "widerface": (
        build_widerface,
        [
            ("wider_face_split/wider_face_train_bbx_gt.txt", "text"),
            ("wider_face_split/wider_face_val_bbx_gt.txt", "text"),
        ],
    ),
}  # fmt: skip
#: Files of the MEGC2019 composite (its parts are fuzzed through their own readers above).
MEGC = ("megc2019", "combined_3_class2_for_optical_flow.csv")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@pytest.fixture(scope="module")
def base_trees(tmp_path_factory):
    """Every reader's fixture tree, built once; examples work on copies."""
    from fixtures.mer_trees import build_megc2019

    out = {}
    for name, (builder, _) in SPECS.items():
        out[name] = builder(tmp_path_factory.mktemp(name.replace("+", "p")))
    out[MEGC[0]] = build_megc2019(tmp_path_factory.mktemp("megc"))
    return out


# ------------------------------------------------------------------------------------------------
# strategies: cells, rows, sheets, text lines

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFF), max_size=10)
JUNK_CELL = st.one_of(
    st.none(),
    st.sampled_from(["/", "-", "", " ", "?", "nan", "N/A", "#REF!", "0", "²", "٣", "1e400", "½"]),
    _TEXT,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)


@st.composite
def mutated_cell(draw, value):
    """A cell as a damaged copy may hold it: the value, blank, ``/``, the number as text, junk."""
    kind = draw(
        st.sampled_from(["keep"] * 6 + ["blank", "slash", "as_text", "padded", "dot0", "half", "junk"])
    )
    if kind == "keep":
        return value
    if kind == "blank":
        return None
    if kind == "slash":
        return "/"
    if kind == "as_text":
        return None if value is None else str(value)
    if kind == "padded":
        return None if value is None else f"  {value} "
    if kind == "dot0":
        return f"{value}.0" if isinstance(value, int) else value
    if kind == "half":
        return value + 0.5 if isinstance(value, int) and not isinstance(value, bool) else value
    return draw(JUNK_CELL)


@st.composite
def mutated_rows(draw, rows):
    """Rows of one sheet, damaged: columns reordered, junk rows above (the header moved down) and
    between, rows doubled, dropped or cut short, cells changed."""
    rows = [list(r) for r in rows]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [None] * (width - len(r)) for r in rows]
    if width > 1 and draw(st.booleans()):
        perm = draw(st.permutations(range(width)))
        rows = [[r[i] for i in perm] for r in rows]
    header, data = (rows[0], rows[1:]) if rows else ([], [])
    data = [[draw(mutated_cell(c)) for c in r] if draw(st.booleans()) else r for r in data]
    junk_row = st.lists(JUNK_CELL, max_size=width + 2)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["insert", "double", "drop", "cut"]))
        if op == "insert":
            data.insert(draw(st.integers(0, len(data))), draw(junk_row))
        elif data and op == "double":
            i = draw(st.integers(0, len(data) - 1))
            data.insert(i, list(data[i]))
        elif data and op == "drop":
            data.pop(draw(st.integers(0, len(data) - 1)))
        elif data and op == "cut":
            i = draw(st.integers(0, len(data) - 1))
            data[i] = data[i][: draw(st.integers(0, width))]
    above = draw(st.lists(junk_row, max_size=3))
    return above + [header] + data


@st.composite
def mutated_lines(draw, lines):
    """Lines of a text annotation, damaged: tokens changed, lines doubled, dropped, cut or
    inserted, CRLF endings, a missing last newline."""
    lines = list(lines)
    token = st.one_of(
        st.sampled_from(["/", "-", "nan", "inf", "-inf", "1e400", "²", "٣", "3.5", "0", "-1", "", "x.jpg"]),
        _TEXT.filter(lambda t: "\n" not in t and "\r" not in t),
        st.integers(-(10**9), 10**9).map(str),
    )
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "insert", "double", "drop", "cut", "blank"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "insert" or not lines:
            lines.insert(i, " ".join(draw(st.lists(token, max_size=4))))
        elif op == "token":
            parts = lines[i].split()
            if parts:
                parts[draw(st.integers(0, len(parts) - 1))] = draw(token)
            else:
                parts = [draw(token)]
            lines[i] = " ".join(parts)
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "drop":
            lines.pop(i)
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "blank":
            lines.insert(i, "")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


# ------------------------------------------------------------------------------------------------
# reading and writing sheets in their own format


def load_sheets(path: Path) -> list[tuple[str, list[list[object]]]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path)
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]
    if suffix == ".xls":
        import xlrd

        book = xlrd.open_workbook(str(path))
        out = []
        for ws in book.sheets():
            rows = [[None if c == "" else c for c in ws.row_values(i)] for i in range(ws.nrows)]
            out.append(
                (
                    ws.name,
                    [[int(c) if isinstance(c, float) and c.is_integer() else c for c in r] for r in rows],
                )
            )
        return out
    with path.open(newline="", encoding="utf-8") as fh:
        return [("csv", [[c if c != "" else None for c in row] for row in csv.reader(fh)])]


def save_sheets(path: Path, sheets: list[tuple[str, list[list[object]]]]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for name, rows in sheets:
            ws = wb.create_sheet(name)
            for row in rows:
                ws.append(list(row))
        wb.save(path)
    elif suffix == ".xls":
        import xlwt

        wb = xlwt.Workbook()
        for name, rows in sheets:
            ws = wb.add_sheet(name)
            for i, row in enumerate(rows[:65535]):
                for j, value in enumerate(row[:255]):
                    if value is not None:
                        ws.write(
                            i, j, value if not isinstance(value, int) or abs(value) < 2**53 else str(value)
                        )
        wb.save(str(path))
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for row in sheets[0][1]:
                writer.writerow(["" if v is None else v for v in row])


# ------------------------------------------------------------------------------------------------
# damage to the tree itself: frames missing in the middle, stray and oddly named files


FOLDER_RENAMES = (
    str.upper,
    str.lower,
    lambda n: n + " ",
    lambda n: n + " (1)",
    lambda n: "x" + n,
    lambda n: n + "_copy",
)
FILE_RENAMES = (
    str.upper,
    str.lower,
    lambda n: "copy of " + n,
    lambda n: n + " (1)",
    lambda n: n.replace("-", "_"),
)


def damage_tree(data, root: Path) -> None:
    frames = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if frames:
        for i in data.draw(
            st.lists(st.integers(0, len(frames) - 1), max_size=3, unique=True), label="drop frames"
        ):
            frames[i].unlink()
    folders = sorted(p for p in root.rglob("*") if p.is_dir())
    odd = st.sampled_from(
        [".DS_Store", "Thumbs.db", "._img1.jpg", "img 12 (copy).jpg", "desktop.ini", "ímg٣.jpg",
         "img5.JPG", "~$sheet.xlsx", "notes.txt", "img.jpg", "0.bmp", "img99999999999999999999.jpg"]
    )  # fmt: skip
    if folders:
        for _ in range(data.draw(st.integers(0, 2), label="stray files")):
            folder = folders[data.draw(st.integers(0, len(folders) - 1))]
            name = data.draw(odd)
            content = data.draw(st.sampled_from([b"", b"\x00\x01junk", b"\xff\xd8\xff\xe0 cut"]))
            target = folder / name
            if not target.exists():
                target.write_bytes(content)
    if len(folders) > 1 and data.draw(st.booleans(), label="rename a folder"):
        folder = folders[data.draw(st.integers(1, len(folders) - 1))]
        rename = data.draw(st.sampled_from(FOLDER_RENAMES))
        target = folder.with_name(rename(folder.name))
        if not target.exists():
            folder.rename(target)


def damage_annotation(data, path: Path, kind: str) -> None:
    if not path.is_file():
        return
    if kind == "text":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        path.write_bytes(data.draw(mutated_lines(lines), label=path.name).encode("utf-8"))
        return
    sheets = load_sheets(path)
    sheets = [(name, data.draw(mutated_rows(rows), label=f"{path.name}:{name}")) for name, rows in sheets]
    if path.suffix.lower() != ".csv" and data.draw(st.booleans(), label="stray sheet"):
        stray = ("Notes", data.draw(st.lists(st.lists(JUNK_CELL, max_size=4), max_size=3)))
        sheets.insert(data.draw(st.sampled_from([0, len(sheets)])), stray)
    save_sheets(path, sheets)
    if data.draw(st.integers(0, 9), label="rename") == 0:
        rename = data.draw(st.sampled_from(FILE_RENAMES))
        path.rename(path.with_name(rename(path.stem) + path.suffix))


# ------------------------------------------------------------------------------------------------
# the outcome


def check_outcome(root: Path, name: str | None) -> None:
    """A read whose samples the store accepts, or one MertoolError naming a path of the tree."""
    from mertool.datasets import open_dataset
    from mertool.store.samplefile import encode_attr, write_array

    try:
        read = open_dataset(root, name)
    except MertoolError as exc:
        text = str(exc)
        names = {root.name} | {p.name for p in root.rglob("*") if len(p.name) >= 4}
        assert any(n in text for n in names), f"error names no file of the tree: {text}"
        return
    assert read.samples
    for quirk in read.quirks:
        assert quirk.file and quirk.message
        assert quirk.row is None or (isinstance(quirk.row, int) and quirk.row >= 1)
    with h5py.File(f"mem-{os.getpid()}-{id(read)}.h5", "w", driver="core", backing_store=False) as h5:
        for i, s in enumerate(read.samples):
            assert isinstance(s.id, str) and s.id.startswith(s.dataset + "/")
            assert len(s.frames) == len(s.frame_numbers) > 0
            assert list(s.frame_numbers) == sorted(s.frame_numbers)
            assert all(Path(f).is_file() for f in s.frames)
            for v in (s.onset, s.apex, s.offset):
                assert v is None or (isinstance(v, int) and not isinstance(v, bool))
            assert s.emotion is None or isinstance(s.emotion, str)
            assert all(isinstance(a, str) for a in s.aus)
            g = h5.create_group(f"s{i}")
            for key, value in s.to_attrs(read.default_label_map).items():
                encode_attr(g.attrs, key, value)
            for key, value in s.to_arrays().items():
                write_array(g, key, value)


def _fuzz_one(data, base: Path, name: str, files: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory(prefix="mertool-fuzz-") as tmp:
        root = Path(tmp) / base.name
        shutil.copytree(base, root)
        for rel, kind in files:
            damage_annotation(data, root / rel, kind)
        damage_tree(data, root)
        by_name = data.draw(st.booleans(), label="--dataset")
        check_outcome(root, name if by_name else None)


@pytest.mark.parametrize("name", sorted(SPECS))
@given(data=st.data())
def test_reader_survives_damaged_copies(base_trees, name, data):
    _fuzz_one(data, base_trees[name], name, SPECS[name][1])


def test_rafdb_label_written_with_a_superscript_digit(base_trees, tmp_path):
    """Found by make fuzz-long: '²'.isdigit() is True, int('²') a ValueError traceback."""
    from mertool.datasets import open_dataset

    root = tmp_path / "basic"
    shutil.copytree(base_trees["rafdb"], root)
    label = root / "EmoLabel" / "list_patition_label.txt"
    label.write_text(
        label.read_text().replace("train_00001.jpg 1", "train_00001.jpg \u00b2"), encoding="utf-8"
    )
    read = open_dataset(root, "rafdb")
    assert any("train_00001.jpg" in q.message or "'train_00001.jpg" in str(q) for q in read.quirks)


@given(data=st.data())
def test_megc2019_composite_survives_a_damaged_list(base_trees, data):
    _fuzz_one(
        data,
        base_trees[MEGC[0]],
        MEGC[0],
        [(MEGC[1], "sheet"), ("CASME2/CASME2-coding-20140508.xlsx", "sheet")],
    )


# ------------------------------------------------------------------------------------------------
# the cell and line parsers alone, on anything


@given(JUNK_CELL)
def test_cell_parsers_take_any_cell(value):
    from mertool.datasets.tables import as_int, as_text, parse_aus

    n = as_int(value)
    assert n is None or (isinstance(n, int) and not isinstance(n, bool))
    t = as_text(value)
    assert t is None or isinstance(t, str)
    assert all(isinstance(a, str) and a for a in parse_aus(value))


@given(st.text(max_size=60))
@example("inf 0\n")  # found by make fuzz-long: int(float("inf")) is an OverflowError
@example("1e400 3\n")
@example("nan\n")
def test_ckplus_parsers_raise_only_value_errors(text):
    from mertool.datasets.ckplus import parse_emotion, parse_facs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x_emotion.txt"
        path.write_text(text, encoding="utf-8", errors="replace")
        for parse in (parse_emotion, parse_facs):
            try:
                parse(path)
            except ValueError:
                pass


def test_the_fuzzed_files_are_really_damaged(base_trees):
    """The strategies do change what the readers see (guards against a fuzzer that fuzzes nothing)."""
    from hypothesis import find

    rows = load_sheets(base_trees["casme2"] / "CASME2-coding-20140508.xlsx")[0][1]
    moved = find(mutated_rows(rows), lambda r: r[0] != rows[0] and r[1] == rows[0])
    assert moved[1] == rows[0]
    assert np.any(
        [
            c == "/"
            for r in find(mutated_rows(rows), lambda r: any("/" == c for x in r[1:] for c in x))[1:]
            for c in r
        ]
    )
