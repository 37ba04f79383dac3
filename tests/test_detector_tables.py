"""Paper 000 detector tables: the results files carry the paper's rows beside ours."""

from __future__ import annotations

import csv

from mertool.tables.paper_000 import CLASSIFIER_MARKER, CLASSIFIER_ROW, HEADER, main, write_table
from mertool.tables.paper_000 import DETECTOR_ROWS as ROWS


def test_rows_name_paper_rows_and_shipped_models():
    from mertool.detector.train import VARIANTS
    from mertool.tables.registry import TABLES

    for target, rows in ROWS.items():
        for paper_row, model in rows:
            assert TABLES[target].row(paper_row).values  # the paper's row exists
            assert model in VARIANTS


def test_write_table_000_4(tmp_path):
    rows = [
        ["yolov8s-C2f-Star-CAA (WIDER FACE)", "yolov8s-c2f-star-caa", 0.9033, 0.7249, 0.693]
        + [0.5, 0.4, 0.45, 0.2, 0.6, 0.5, 0.3, 100, 640, "w.pt"],
        [CLASSIFIER_ROW, "se-resnet50", 0.8739, 0.8399, 0.8548] + [None] * 9 + [CLASSIFIER_MARKER],
    ]
    md, csv_path = write_table("table-000-4", rows, tmp_path, "table-000-4", "setup line")
    text = md.read_text()
    assert (
        "| yolov8s-C2f-Star-CAA (WIDER FACE) | yolov8s-c2f-star-caa | 0.9033 | 0.7249 | 0.6930 | 0.5000 |"
        in text
    )
    assert CLASSIFIER_MARKER in text and "setup line" in text
    with csv_path.open() as fh:
        table = list(csv.reader(fh))
    assert table[0] == HEADER
    assert table[2][0] == CLASSIFIER_ROW and table[2][5] == "" and table[2][-1] == CLASSIFIER_MARKER


def test_real_target_needs_the_wider_root(capsys):
    assert main(["table-000-2"]) == 2
    assert "WIDERFACE=" in capsys.readouterr().err
