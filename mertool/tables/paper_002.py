"""Paper 002: the dual-branch ResNet + Inception network on CASME II (5 classes): tables 5, 7 and 8.

What each ``make table-002-*`` target runs (:data:`EXPERIMENTS`) and what the paper published
(:data:`TABLES`), row by row (vocabulary: :mod:`mertool.tables.spec`).
"""

from __future__ import annotations

from mertool.tables.spec import Experiment, PaperTable, RowSpec, Run, paper_row, published

# ------------------------------------------------------------------------------------------------
# what runs


def _dual(*switches: str) -> dict[str, Run]:
    return {"main": Run("casme2-face-au5", ("--preset", "dual-branch-002", *switches))}


_SMOKE_002 = {"--epochs": "1", "--input-size": "48"}
_CAFFM = _dual("--opt", "variant=DBFEM+CAFFM")

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "table-002-5",
        tuple(
            RowSpec(f"ResNet{d}", _dual("--opt", "variant=GFEM", "--opt", f"depth={d}")) for d in (12, 18, 34)
        ),
        (("main", "accuracy"), ("main", "uf1"), ("main", "uar")),
        _SMOKE_002,
        (
            "002 section IV.C runs this ablation 'with global feature images as the input data': the "
            "global branch alone (variant GFEM) at depth 12/18/34. The paper's T5 ResNet12 (0.7577) and "
            "T7 GFEM (66.31 %) disagree, so its T5 may have used more than the global branch.",
        ),
    ),
    Experiment(
        "table-002-7",
        tuple(
            RowSpec(name, _dual("--opt", f"variant={variant}"), ("002 T7", name))
            for name, variant in (
                ("GFEM", "GFEM"),
                ("LTFEM", "LTFEM"),
                ("DBFEM", "DBFEM"),
                ("DBFEM+CAFFM", "DBFEM+CAFFM"),
                ("DBFEM+CAFFM_L", "CAFFM_L"),
                ("DBFEM+CAFFM_G", "CAFFM_G"),
            )
        ),
        (("main", "acc%"), ("cost", "params_m"), ("cost", "gflops"), ("cost", "fps")),
        _SMOKE_002,
        ("FPS: batch 1 on this machine's CPU; the paper does not say where it measured its FPS.",),
    ),
    Experiment(
        "table-002-8",
        (RowSpec("OURS (dual-branch, DBFEM+CAFFM)", _CAFFM),),
        (("main", "acc%"), ("main", "precision"), ("main", "recall")),
        _SMOKE_002,
        (
            "P and R are macro averages over the 5 classes. The literature rows are the paper's, printed as given.",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# what the paper published

TABLES: tuple[PaperTable, ...] = (
    published(
        "table-002-5",
        "T5 global-branch depth, CASME II (5 classes)",
        ("Acc", "UF1", "UAR"),
        paper_row("ResNet12", 0.7577, 0.7610, 0.7643),
        paper_row("ResNet18", 0.7434, 0.7282, 0.7137),
        paper_row("ResNet34", 0.7515, 0.7398, 0.7284),
    ),
    published(
        "table-002-7",
        "T7 module ablation, CASME II",
        ("Acc %", "Params M", "GFLOPs", "FPS"),
        paper_row("GFEM", 66.31, 2.59, 1.778, 111.5),
        paper_row("LTFEM", 62.69, 6.26, 3.287, 106.3),
        paper_row("DBFEM", 71.16, 8.13, 4.927, 104.5),
        paper_row("DBFEM+CAFFM", 74.67, 8.46, 5.165, 97.3),
        paper_row("DBFEM+CAFFM_L", 73.52, 8.49, 5.14, 97.3),
        paper_row("DBFEM+CAFFM_G", 72.23, 8.5, 5.151, 97.5),
    ),
    published(
        "table-002-8",
        "T8 comparison on CASME II (our row; other rows are the paper's literature values)",
        ("Acc %", "P", "R"),
        paper_row("OURS (dual-branch, DBFEM+CAFFM)", 74.67, 0.741, 0.748),
        literature=(
            paper_row("LBP-TOP", 63.41, 0.628, 0.635),
            paper_row("DISTLBP-IIP", 64.78, 0.642, 0.649),
            paper_row("3D-CNNs (with …)", 65.9, 0.653, 0.66),
            paper_row("SSSN", 71.19, 0.706, 0.713),
            paper_row("AKMNet", 67.06, 0.665, 0.672),
            paper_row("KFC-MER", 72.76, 0.721, 0.728),
            paper_row("FR", 62.85, 0.622, 0.629),
            paper_row("Knowledge …", 72.61, 0.72, 0.727),
            paper_row("SLSTT-Mean", 73.79, 0.732, 0.739),
            paper_row("Later", 70.68, 0.701, 0.708),
            paper_row("KTGSL", 72.58, 0.719, 0.726),
            paper_row("AMAN", 75.4, 0.748, 0.755),
            paper_row("MSMMT", 71.31, 0.707, 0.714),
        ),
        notes="Row names truncated in the paper's text are marked with …",
    ),
)
