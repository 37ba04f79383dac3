"""Reproducing the seed papers' tables (see shared TABLES.md and docs/tables.md).

One module per paper holds its table targets and its published numbers (:mod:`.paper_000` …
:mod:`.paper_004`); :mod:`.spec` is their vocabulary, :mod:`.registry` gathers them,
:mod:`.runner` runs a target (its commands as Python calls, :mod:`.commands`) and :mod:`.report`
writes it."""
