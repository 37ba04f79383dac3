"""Every table target, gathered from the papers' modules: ``make table-*`` and ``mertool tables``
look targets up here (:func:`get_experiment`); each paper's rows and numbers live in its own
module (:mod:`.paper_000` … :mod:`.paper_004`)."""

from __future__ import annotations

from mertool.errors import MertoolError
from mertool.tables import paper_000, paper_001, paper_002, paper_003, paper_004
from mertool.tables.spec import Experiment, PaperTable

PAPERS = (paper_000, paper_001, paper_002, paper_003, paper_004)

EXPERIMENTS: dict[str, Experiment] = {e.target: e for p in PAPERS for e in p.EXPERIMENTS}
#: target -> the paper's own table (what our numbers are printed beside)
TABLES: dict[str, PaperTable] = {t.target: t for p in PAPERS for t in p.TABLES}
#: make's order
TARGETS: tuple[str, ...] = tuple(sorted(EXPERIMENTS))


def get_experiment(target: str) -> Experiment:
    name = target.removesuffix("-smoke")
    if name not in EXPERIMENTS:
        raise MertoolError(
            f"unknown table target {target!r}", hint="mertool tables list shows them: " + ", ".join(TARGETS)
        )
    return EXPERIMENTS[name]
