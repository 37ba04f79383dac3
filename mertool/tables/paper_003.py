"""Paper 003: SE-ResNeXt-50 + focal loss, apex frames vs every frame, on CASME II: table 4.

What each ``make table-003-*`` target runs (:data:`EXPERIMENTS`) and what the paper published
(:data:`TABLES`), row by row (vocabulary: :mod:`mertool.tables.spec`).
"""

from __future__ import annotations

from mertool.tables.spec import Experiment, PaperTable, RowSpec, Run, paper_row, published

# ------------------------------------------------------------------------------------------------
# what runs

_SE = ("--preset", "se-resnext50-003")
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "table-003-4",
        (
            RowSpec("SE-ResNeXt-50 + focal, apex frames", {"main": Run("casme2-apex-face", _SE)}),
            RowSpec("SE-ResNeXt-50 + focal, all frames", {"main": Run("casme2-every-frame", _SE)}),
            RowSpec(
                "SE-ResNeXt-50 + CE, apex frames", {"main": Run("casme2-apex-face", (*_SE, "--loss", "ce"))}
            ),
            RowSpec(
                "ResNeXt-50 + CE, apex frames",
                {"main": Run("casme2-apex-face", (*_SE, "--arch", "resnext50", "--loss", "ce"))},
            ),
        ),
        (("main", "accuracy"), ("main", "f1")),
        {"--epochs": "1", "--input-size": "32"},
        (
            "F1 is the macro F1 (UF1). In the all-frames row every frame is a sample: its numbers are per "
            "frame, and a clip's frames always sit on one side of a fold (LOSO keeps subjects whole).",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# what the paper published

TABLES: tuple[PaperTable, ...] = (
    published(
        "table-003-4",
        "T4 apex frames vs all frames, CASME II",
        ("Acc", "F1"),
        paper_row("SE-ResNeXt-50 + focal, apex frames", None, None),
        paper_row("SE-ResNeXt-50 + focal, all frames", None, None),
        paper_row("SE-ResNeXt-50 + CE, apex frames", None, None),
        paper_row("ResNeXt-50 + CE, apex frames", None, None),
        notes="Only the abstract of paper 003 survives: no published numbers; ours are reported alone.",
    ),
)
