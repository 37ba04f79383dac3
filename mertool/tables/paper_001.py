"""Paper 001: ResNet (+ABN, +ArcFace, +CK+ pre-training) on SAMM, 5-fold: tables 5 and 6.

What each ``make table-001-*`` target runs (:data:`EXPERIMENTS`) and what the paper published
(:data:`TABLES`), row by row (vocabulary: :mod:`mertool.tables.spec`).
"""

from __future__ import annotations

from mertool.tables.spec import Experiment, PaperTable, Pretrain, RowSpec, Run, paper_row, published

# ------------------------------------------------------------------------------------------------
# what runs


def _abn(roi: bool, abn: bool, extra: tuple[str, ...] = (), pretrain: bool = False) -> dict[str, Run]:
    base = ("--preset", "abn-001", "--opt", f"abn={str(abn).lower()}")
    if roi:
        # the 15 ROIs enter as one 5 x 3 mosaic of 64-px regions (a 320 x 192 image)
        base += ("--opt", "roi=true", "--input-size", "64")
    runs = {}
    for key, frames in (("2d", ()), ("3d", ("--opt", "input=3frames"))):
        args = base + frames + extra
        pre = Pretrain("ckplus-face-rois15", base + frames) if pretrain else None
        runs[key] = Run("samm-face-rois15", args, pre)
    return runs


_ARCFACE = ("--opt", "arcface=true", "--loss", "arcface")
_SMOKE_001 = {"--epochs": "1", "--input-size": "32", "--augment": "rotate=10,hflip,contrast=0.2,x2"}
_SMOKE_001_ROI = {**_SMOKE_001, "--input-size": "16"}
_001_COLS = (("2d", "acc%"), ("3d", "acc%"))
_001_NOTE = (
    "Folds: mertool's kfold:5 keeps each subject in one fold (paper 001 split samples, letting one "
    "person sit in train and test). Each row changes one thing from the ResNet row of its block "
    "(ABN or not): CK+ pre-training, or the ArcFace head and loss."
)

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "table-001-5",
        (
            RowSpec("w/o ABN: ResNet", _abn(True, False)),
            RowSpec("w/o ABN: + CK+ fine-tuning", _abn(True, False, pretrain=True)),
            RowSpec("w/o ABN: + ArcFace", _abn(True, False, _ARCFACE)),
            RowSpec("w/ ABN: ResNet", _abn(True, True)),
            RowSpec("w/ ABN: + CK+ fine-tuning", _abn(True, True, pretrain=True)),
            RowSpec("w/ ABN: + ArcFace", _abn(True, True, _ARCFACE)),
        ),
        _001_COLS,
        _SMOKE_001_ROI,
        (
            _001_NOTE,
            "CK+ pre-training: mertool train on CK+ (7 emotions) with the row's model, then --opt pretrained=FILE.",
        ),
    ),
    Experiment(
        "table-001-6",
        (RowSpec("w/o ABN: ResNet", _abn(False, False)), RowSpec("w/ ABN: ResNet", _abn(False, True))),
        _001_COLS,
        _SMOKE_001,
        (_001_NOTE,),
    ),
)


# ------------------------------------------------------------------------------------------------
# what the paper published

TABLES: tuple[PaperTable, ...] = (
    published(
        "table-001-5",
        "T5 ROI input, SAMM, 5-fold accuracy (%)",
        ("2D (apex)", "3D (3 frames)"),
        paper_row("w/o ABN: ResNet", 62.83, 62.83),
        paper_row("w/o ABN: + CK+ fine-tuning", 61.17, 62.90),
        paper_row("w/o ABN: + ArcFace", 62.00, 64.50),
        paper_row("w/ ABN: ResNet", 64.53, 66.17),
        paper_row("w/ ABN: + CK+ fine-tuning", 62.83, 65.40),
        paper_row("w/ ABN: + ArcFace", 64.53, 65.33),
    ),
    published(
        "table-001-6",
        "T6 full face, SAMM, 5-fold accuracy (%)",
        ("2D (apex)", "3D (3 frames)"),
        paper_row("w/o ABN: ResNet", 62.83, 60.37),
        paper_row("w/ ABN: ResNet", 63.70, 62.83),
    ),
)
